// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "attnscope/config.h"
#include "attnscope/model.h"
#include "engine/layer.h"
#include "engine/weights.h"

#include <map>

namespace attn::engine {

struct ForwardCapture {
    std::map<int64_t, LayerCapture> layers; ///< by layer; only these layers keep maps
    int64_t queryTile = 0; ///< rows per score tile; 0 = from the memory budget (autoQueryTile)
};

/**
 * @brief The pre-norm transformer forward pass. tokens: int64 [B, T] on the weights' device.
 * @return logits [B, V] at the last position (fp32), or [B, T, V] when allPositions.
 */
at::Tensor forward(const ModelWeights& weights, const ModelConfig& config, const at::Tensor& tokens,
    ForwardCapture* capture, const RunControl& control, bool allPositions = false);

} // namespace attn::engine
