// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "attnscope/config.h"
#include "attnscope/safetensors.h"
#include "engine/layer.h"
#include "engine/torch_includes.h"

#include <vector>

namespace attn::engine {

struct ModelWeights {
    at::Tensor tokEmbeddings; ///< [V, D]
    at::Tensor posEmbeddings; ///< [max_seq_len, D], learned positions only
    at::Tensor norm;
    at::Tensor output; ///< [V, D]; the embedding table when tied
    std::vector<LayerWeights> layers;
};

/// A CPU float tensor with a copy of one stored tensor, converted exactly from F16/BF16.
at::Tensor readTensor(const SafetensorsFile& file, const TensorInfo& info);

/// Moves every tensor of a file that already passed checkTensorsMatchConfig onto the device.
/// Throws (c10::Error, std::bad_alloc) on failure; callers at the API boundary catch.
ModelWeights loadWeights(
    const SafetensorsFile& file, const ModelConfig& config, const at::Device& device, at::ScalarType dtype);

} // namespace attn::engine
