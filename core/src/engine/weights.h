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

/// Builds the engine's tensors by name (docs/model-format.md's internal names). get(name, fp32) returns the named
/// tensor on the device (fp32 = keep it float32: lambda vectors, CoPE tables) or an undefined tensor when the model
/// does not have it. Names the config requires and get cannot supply throw.
ModelWeights assembleWeights(
    const ModelConfig& config, const std::function<at::Tensor(const std::string&, bool fp32)>& get);

/// A CPU float tensor with a copy of one stored tensor, converted exactly from F16/BF16.
at::Tensor readTensor(const SafetensorsFile& file, const TensorInfo& info);

/// The engine's tensors from a model source's recipes (stored dtype kept where forward() can convert per layer).
ModelWeights loadSourceWeights(const ModelSource& source, const at::Device& device, at::ScalarType computeDtype);

/// Moves every tensor of a file that already passed checkTensorsMatchConfig onto the device.
/// Throws (c10::Error, std::bad_alloc) on failure; callers at the API boundary catch.
ModelWeights loadWeights(
    const SafetensorsFile& file, const ModelConfig& config, const at::Device& device, at::ScalarType dtype);

} // namespace attn::engine
