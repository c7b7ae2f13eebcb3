// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "attnscope/config.h"
#include "attnscope/model.h"
#include "engine/layer.h"
#include "engine/weights.h"

#include <map>
#include <vector>

namespace attn::engine {

struct ForwardCapture {
    std::map<int64_t, LayerCapture> layers; ///< by layer; only these layers keep maps
    int64_t queryTile = 0; ///< rows per score tile; 0 = from the memory budget (autoQueryTile)
};

/// The device a layer's weights live on: a device map may spread the layers over several (placement.h).
at::Device layerDevice(const LayerWeights& layer);

/// What every layer of one forward needs: the RoPE tables for the sequence (a copy on every device a layer lives on)
/// and the query tile from the budget.
struct ForwardSetup {
    std::vector<RopeTables> rope; ///< empty without RoPE
    int64_t budgetTile = 0; ///< query rows per tile for every head of a layer (the memory budget's choice)
    int64_t requestedTile = 0; ///< the request's own tile, 0 = none
    /// The tile for a pass over `config`'s heads only (a one-head slice or a few kept heads take many more rows per
    /// tile within the same budget: 8 rows x 257 tiles for one head at 2K tokens cost 90 ms of per-tile overhead).
    int64_t tileFor(const ModelConfig& config, int64_t seqLen, at::ScalarType dtype, const at::Device& device) const;
    /// The context of a layer whose input is on `device`.
    AttentionContext context(
        const ModelConfig& config, int64_t layer, const at::Device& device, const std::atomic<bool>* cancel) const;
};
ForwardSetup forwardSetup(
    const ModelWeights& weights, const ModelConfig& config, int64_t batch, int64_t seqLen, int64_t requestedTile);

/// Token (and learned position) embeddings in the compute dtype: the first layer's input. tokens: int64 [B, T].
at::Tensor embed(const ModelWeights& weights, const ModelConfig& config, const at::Tensor& tokens);
/// One transformer block on its input x [B, T, D] (moved to the layer's device first); capture (may be null) receives
/// its maps a query tile at a time.
at::Tensor runLayer(const ModelWeights& weights, const ModelConfig& config, const at::Tensor& x, int64_t layer,
    const ForwardSetup& setup, LayerCapture* capture, const std::atomic<bool>* cancel);
/// Only the attention of one layer, for its maps: the block's attention norm, then the score tiles; the MLP and the
/// rest of the block are not computed (a head switch on a layer whose input is kept).
/// `stored` is the layer as kept (any dtype; converted to `dtype` here); config may be a one-head slice (head_slice.h).
void captureLayerAttention(const LayerWeights& stored, at::ScalarType dtype, const ModelConfig& config,
    const at::Tensor& x, int64_t layer, const ForwardSetup& setup, LayerCapture& capture,
    const std::atomic<bool>* cancel);
/// The maps of `heads` of one layer from its kept queries and keys (no projection runs), tiled as a pass would tile it.
void captureKeptAttention(const KeptScores& kept, const LayerWeights& stored, const ModelConfig& config, int64_t layer,
    const std::vector<int64_t>& heads, const ForwardSetup& setup, LayerCapture& capture,
    const std::atomic<bool>* cancel);
/// The final norm and the output head, each on its device: logits [B, V] at the last position (fp32), or [B, T, V] when
/// allPositions.
at::Tensor finalLogits(const ModelWeights& weights, const ModelConfig& config, const at::Tensor& x, bool allPositions);

/**
 * @brief The transformer forward pass. tokens: int64 [B, T] on the weights' device.
 * @return logits [B, V] at the last position (fp32), or [B, T, V] when allPositions.
 */
at::Tensor forward(const ModelWeights& weights, const ModelConfig& config, const at::Tensor& tokens,
    ForwardCapture* capture, const RunControl& control, bool allPositions = false);

} // namespace attn::engine
