// SPDX-License-Identifier: GPL-3.0-or-later
#include "engine/transformer.h"

#include "engine/memory.h"

#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <optional>

namespace attn::engine {

namespace {

at::Tensor feedForward(const at::Tensor& h, const LayerWeights& w)
{
    return at::linear(at::silu(at::linear(h, w.w1)) * at::linear(h, w.w3), w.w2); // SwiGLU
}

} // namespace

at::Tensor forward(const ModelWeights& weights, const ModelConfig& config, const at::Tensor& tokens,
    ForwardCapture* capture, const RunControl& control, bool allPositions)
{
    const int64_t seqLen = tokens.size(1);
    const at::Device device = weights.tokEmbeddings.device();

    at::Tensor x = at::embedding(weights.tokEmbeddings, tokens);
    if (config.position == PositionKind::Learned)
        x = x + weights.posEmbeddings.slice(0, 0, seqLen);

    std::optional<RopeTables> rope;
    if (config.hasRope())
        rope = ropeTables(seqLen, config.headDim, config.rope, device);
    const int64_t budgetTile = capture && capture->queryTile > 0
        ? capture->queryTile
        : autoQueryTile(config, tokens.size(0), seqLen, weights.tokEmbeddings.scalar_type(), device,
            /*training=*/at::GradMode::is_enabled());
    AttentionContext ctx {config, 0, rope ? &*rope : nullptr, budgetTile, control.cancel};

    for (int64_t layer = 0; layer < config.nLayers; ++layer) {
        if (control.cancel && control.cancel->load())
            throw Cancelled();
        const LayerWeights& w = weights.layers[static_cast<size_t>(layer)];
        ctx.layer = layer;
        LayerCapture* layerCapture = nullptr;
        ctx.queryTile = budgetTile;
        if (capture) {
            auto it = capture->layers.find(layer);
            if (it != capture->layers.end()) {
                layerCapture = &it->second;
                // Tiles start on overview block boundaries so that no pooled block straddles two tiles.
                const int64_t align = layerCapture->collector.rowAlignment();
                ctx.queryTile = std::max(align, budgetTile / align * align);
            }
        }
        const at::Tensor h = rmsNorm(x, w.attentionNorm, config.normEps);
        x = x + (config.isDiff() ? diffAttention(h, w, ctx, layerCapture) : softmaxAttention(h, w, ctx, layerCapture));
        x = x + feedForward(rmsNorm(x, w.ffnNorm, config.normEps), w);
        if (control.onLayer)
            control.onLayer(layer + 1, config.nLayers);
    }

    at::Tensor last = allPositions ? x : x.select(1, seqLen - 1);
    return at::linear(rmsNorm(last, weights.norm, config.normEps), weights.output).to(at::kFloat);
}

} // namespace attn::engine
