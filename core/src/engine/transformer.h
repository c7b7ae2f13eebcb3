// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "attnscope/config.h"
#include "attnscope/model.h"
#include "engine/layer.h"
#include "engine/weights.h"

#include <map>
#include <stdexcept>

namespace attn::engine {

/// Thrown between layers when RunControl::cancel is set; turned into a Status at the API boundary.
struct Cancelled : std::runtime_error {
    Cancelled()
        : std::runtime_error("cancelled")
    {
    }
};

struct ForwardCapture {
    std::map<int64_t, LayerMapRequest> requests; ///< by layer
    std::map<int64_t, LayerMaps> maps; ///< filled for requested layers
};

/**
 * @brief The pre-norm transformer forward pass. tokens: int64 [B, T] on the weights' device.
 * @return logits [B, V] at the last position (fp32), or [B, T, V] when allPositions.
 */
at::Tensor forward(const ModelWeights& weights, const ModelConfig& config, const at::Tensor& tokens,
    ForwardCapture* capture, const RunControl& control, bool allPositions = false);

} // namespace attn::engine
