// SPDX-License-Identifier: GPL-3.0-or-later
// Softmax attention and the pieces both attention kinds share.
#include "engine/cope.h"
#include "engine/layer.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace attn::engine {

bool LayerMapRequest::wants(MapKind kind) const
{
    return std::find(kinds.begin(), kinds.end(), kind) != kinds.end();
}

at::Tensor rmsNorm(const at::Tensor& x, const at::Tensor& weight, double eps)
{
    const at::Tensor xf = x.to(at::kFloat);
    const at::Tensor normed = xf * at::rsqrt(xf.pow(2).mean({-1}, /*keepdim=*/true) + eps);
    return normed.to(x.scalar_type()) * weight;
}

at::Tensor futureMask(int64_t seqLen, const at::Device& device)
{
    return at::ones({seqLen, seqLen}, at::TensorOptions().dtype(at::kBool).device(device)).triu(1);
}

at::Tensor splitHeads(const at::Tensor& x, int64_t n, int64_t d)
{
    return x.unflatten(-1, {n, d}).transpose(1, 2);
}

void keepMap(LayerMaps* out, const LayerMapRequest* request, MapKind kind, const at::Tensor& perHead)
{
    if (out && request && request->wants(kind))
        out->maps[kind] = perHead.select(0, 0);
}

at::Tensor softmaxAttention(const at::Tensor& h, const LayerWeights& w, const AttentionContext& ctx,
    const LayerMapRequest* request, LayerMaps* out)
{
    const ModelConfig& c = ctx.config;
    const int64_t d = c.headDim;
    const int64_t nRep = c.nHeads / c.nKvHeads;
    const double scale = 1.0 / std::sqrt(static_cast<double>(d));

    at::Tensor q = splitHeads(at::linear(h, w.wq), c.nHeads, d);
    at::Tensor k = splitHeads(at::linear(h, w.wk), c.nKvHeads, d);
    at::Tensor v = splitHeads(at::linear(h, w.wv), c.nKvHeads, d);
    const at::Tensor qUnrotated = q;
    at::Tensor copeKey;
    if (c.hasCope() && c.cope.sepKey)
        copeKey = splitHeads(at::linear(h, w.copeKeyW, w.copeKeyB), c.nKvHeads, d);
    if (ctx.rope) {
        q = applyRope(q, *ctx.rope, c.rope.style);
        k = applyRope(k, *ctx.rope, c.rope.style);
        if (copeKey.defined())
            copeKey = applyRope(copeKey, *ctx.rope, c.rope.style);
    }
    if (nRep > 1) { // query head i reads kv head i / nRep
        k = k.repeat_interleave(nRep, 1);
        v = v.repeat_interleave(nRep, 1);
        if (copeKey.defined())
            copeKey = copeKey.repeat_interleave(nRep, 1);
    }

    at::Tensor logits = at::matmul(q * scale, k.transpose(-2, -1));
    if (c.hasCope()) {
        const at::Tensor gateLogits = copeKey.defined() ? at::matmul(q * scale, copeKey.transpose(-2, -1)) : logits;
        const bool unrotated = c.position == PositionKind::RopeCope && c.cope.ropeQuery == CopeRopeQuery::Unrotated;
        const CopeTerms cope = copeTerms(gateLogits, unrotated ? qUnrotated : q, w.posEmb, ctx.future);
        logits = addCopeBias(logits, cope.bias, c.cope.scaling, d);
        keepMap(out, request, MapKind::G, cope.gates);
        keepMap(out, request, MapKind::P, cope.positions);
        keepMap(out, request, MapKind::B, cope.bias);
    }
    logits = logits.masked_fill(ctx.future, -std::numeric_limits<double>::infinity());
    keepMap(out, request, MapKind::S, logits);
    const at::Tensor attention = at::softmax(logits, -1, at::kFloat).to(h.scalar_type());
    keepMap(out, request, MapKind::A, attention);

    const at::Tensor heads = at::matmul(attention, v); // [B, H, T, d]
    return at::linear(heads.transpose(1, 2).flatten(2), w.wo);
}

} // namespace attn::engine
