// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "attnscope/config.h"
#include "attnscope/model_source.h"
#include "attnscope/safetensors.h"
#include "attnscope/tensor_names.h"
#include "engine/layer.h"
#include "engine/torch_includes.h"

#include <functional>
#include <memory>
#include <vector>

namespace attn::engine {

/// The model-level tensors (their names: attnscope/tensor_names.h): only tensors, so that a table of members can be
/// checked to cover them all (weights.cpp).
struct ModelTensors {
    at::Tensor tokEmbeddings; ///< [V, D]
    at::Tensor posEmbeddings; ///< [max_seq_len, D], learned positions only
    at::Tensor norm, normBias; ///< final norm (bias: LayerNorm only)
    at::Tensor output; ///< [V, D]; the embedding table when tied
};

/// A model's tensors on its device. They may be in a dtype other than the compute dtype (a bf16 checkpoint run in
/// fp32 on the CPU keeps its bf16 weights, memory-mapped): forward() converts one layer at a time.
struct ModelWeights : ModelTensors {
    std::vector<LayerWeights> layers;
    at::ScalarType computeDtype = at::kFloat;
    std::vector<std::shared_ptr<const void>> keepAlive; ///< mappings that tensors point into
};

/// One engine tensor of the name table (attnscope/tensor_names.h) and the member it fills. Whether the loader needs
/// it (the config has it), its name and its fp32-ness come from the table entry.
template <typename Owner> struct TensorField {
    TensorId id;
    at::Tensor Owner::*member;
};
/// The model-level entries (embeddings, final norm, output head), one per member of ModelTensors.
const std::vector<TensorField<ModelTensors>>& modelTensorFields();
/// The per-layer entries, one per member of LayerWeights.
const std::vector<TensorField<LayerWeights>>& layerTensorFields();

/// The member holding a tensor (layer: its index for per-layer entries, ignored for model-level ones), or nullptr
/// when the id has no member (never, as the field tables cover the table) or the layer does not exist.
at::Tensor* engineTensor(ModelWeights& weights, TensorId id, int64_t layer);

/// Builds the engine's tensors by name: exactly the tensors expectedTensors(config) lists, in that order. get(name,
/// fp32) returns the named tensor on the device (fp32 = keep it float32: the table's lambda vectors and CoPE tables)
/// or an undefined tensor when the source does not have it, which throws naming the tensor. Tensors the config does
/// not have stay undefined; a tied output is the embedding table.
ModelWeights assembleWeights(
    const ModelConfig& config, const std::function<at::Tensor(const std::string&, bool fp32)>& get);

/// A CPU float tensor with a copy of one stored tensor, converted exactly from F16/BF16.
at::Tensor readTensor(const SafetensorsFile& file, const TensorInfo& info);

/// The engine's tensors from a model source's recipes (stored dtype kept where forward() can convert per layer), each
/// on the device deviceOf(engine tensor name) gives: a device map places the layers of one model on several devices.
ModelWeights loadSourceWeights(const ModelSource& source, const std::function<at::Device(const std::string&)>& deviceOf,
    at::ScalarType computeDtype);

/// Moves every tensor of a file that already passed checkTensorsMatchConfig onto the device.
/// Throws (c10::Error, std::bad_alloc) on failure; callers at the API boundary catch.
ModelWeights loadWeights(
    const SafetensorsFile& file, const ModelConfig& config, const at::Device& device, at::ScalarType dtype);

} // namespace attn::engine
