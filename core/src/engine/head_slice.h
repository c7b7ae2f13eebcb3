// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "attnscope/config.h"
#include "engine/layer.h"

namespace attn::engine {

/// One attention head of a layer as a one-head layer of its own: the config says 1 head over 1 kv head, the
/// weights are the rows of that head's query (sub-)heads and of the kv (sub-)heads it reads, and its columns of the
/// output projection.
struct SlicedHead {
    ModelConfig config;
    LayerWeights weights;
};

/**
 * @brief The head's slice of a layer's stored weights (views, no copy). Running the attention of the slice gives
 * that head's maps for the cost of one head: a head switch on a layer whose input is kept projects d_head rows,
 * not the layer's H x d_head.
 */
SlicedHead sliceHead(const ModelConfig& config, const LayerWeights& layer, int64_t head);

} // namespace attn::engine
