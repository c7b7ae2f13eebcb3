// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "attnscope/config.h"
#include "attnscope/model_source.h"
#include "attnscope/safetensors.h"
#include "engine/layer.h"
#include "engine/torch_includes.h"

#include <functional>
#include <memory>
#include <vector>

namespace attn::engine {

/// A model's tensors on its device. They may be in a dtype other than the compute dtype (a bf16 checkpoint run in
/// fp32 on the CPU keeps its bf16 weights, memory-mapped): forward() converts one layer at a time.
struct ModelWeights {
    at::Tensor tokEmbeddings; ///< [V, D]
    at::Tensor posEmbeddings; ///< [max_seq_len, D], learned positions only
    at::Tensor norm, normBias; ///< final norm (bias: LayerNorm only)
    at::Tensor output; ///< [V, D]; the embedding table when tied
    std::vector<LayerWeights> layers;
    at::ScalarType computeDtype = at::kFloat;
    std::vector<std::shared_ptr<const void>> keepAlive; ///< mappings that tensors point into
};

/// How the loader treats an engine tensor: it must be there, may be absent (the family does not have it), or may be
/// absent and stays fp32 when present (lambda vectors, the CoPE table: the reference computes those terms in fp32).
enum class TensorNeed { Required, Optional, OptionalFp32 };

/// One engine tensor: its name (docs/model-format.md's internal names; for layers, after "layers.N."), the member
/// it fills, and its need. The one table of names the loader and the trainer share.
template <typename Owner> struct TensorField {
    const char* name;
    at::Tensor Owner::*member;
    TensorNeed need;
};
/// The model-level tensors (embeddings, final norm, output head); output.weight is absent when tied.
const std::vector<TensorField<ModelWeights>>& modelTensorFields();
/// A layer's tensors, named after "layers.N.".
const std::vector<TensorField<LayerWeights>>& layerTensorFields();

/// Builds the engine's tensors by name (docs/model-format.md's internal names). get(name, fp32) returns the named
/// tensor on the device (fp32 = keep it float32: lambda vectors, CoPE tables) or an undefined tensor when the model
/// does not have it. Names the config requires and get cannot supply throw.
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
