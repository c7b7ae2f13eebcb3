// SPDX-License-Identifier: GPL-3.0-or-later
// Softmax attention and the pieces both attention kinds share. Scores are computed a query tile at a time:
// tile [q0, q1) needs keys 0..q1 only (causal), so a layer holds heads x tile x N scores, never N x N.
// With one tile (short prompts, the trainer) this is exactly the textbook computation.
#include "engine/cope.h"
#include "engine/layer.h"

#include <torch/version.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace attn::engine {

at::Tensor rmsNorm(const at::Tensor& x, const at::Tensor& weight, double eps)
{
    const at::Tensor xf = x.to(at::kFloat);
    const at::Tensor normed = (xf * at::rsqrt(xf.pow(2).mean({-1}, /*keepdim=*/true) + eps)).to(x.scalar_type());
    return weight.defined() ? normed * weight : normed;
}

at::Tensor blockNorm(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, NormKind kind, double eps)
{
    switch (kind) {
    case NormKind::RmsNorm:
        return rmsNorm(x, weight, eps);
    case NormKind::RmsNormPlusOne: { // Gemma: the stored weight is an offset from 1, multiplied in fp32
        const at::Tensor xf = x.to(at::kFloat);
        const at::Tensor normed = xf * at::rsqrt(xf.pow(2).mean({-1}, /*keepdim=*/true) + eps);
        return (normed * (1.0 + weight.to(at::kFloat))).to(x.scalar_type());
    }
    case NormKind::LayerNorm:
        return at::layer_norm(x, {x.size(-1)}, weight, bias, eps);
    }
    return x;
}

at::Tensor project(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias)
{
    return bias.defined() ? at::linear(x, weight, bias) : at::linear(x, weight);
}

at::Tensor headNorm(const at::Tensor& x, const at::Tensor& norm, double eps)
{
    return norm.defined() ? rmsNorm(x, norm, eps) : x;
}

double scoreScale(const ModelConfig& c, int64_t layer)
{
    double scale = c.arch.attnScale > 0.0 ? c.arch.attnScale : 1.0 / std::sqrt(static_cast<double>(c.headDim));
    if (c.arch.scaleByInverseLayer)
        scale /= static_cast<double>(layer + 1);
    return scale;
}

bool fusedAttentionApplies(const ModelConfig& c, int64_t layer, int64_t seqLen, const LayerCapture* capture)
{
    const bool windowed = c.arch.slidingAt(layer) && seqLen > c.arch.slidingWindow;
    return !capture && !c.hasCope() && haveFusedAttention() && c.arch.attnScale == 0.0 && !c.arch.scaleByInverseLayer
        && c.arch.attnSoftcap == 0.0 && !windowed;
}

at::Tensor futureMask(int64_t seqLen, const at::Device& device)
{
    return at::ones({seqLen, seqLen}, at::TensorOptions().dtype(at::kBool).device(device)).triu(1);
}

at::Tensor splitHeads(const at::Tensor& x, int64_t n, int64_t d)
{
    return x.unflatten(-1, {n, d}).transpose(1, 2);
}

bool wants(const LayerCapture* capture, MapKind kind)
{
    if (!capture)
        return false;
    if (capture->collector.wants(kind))
        return true;
    return std::any_of(
        capture->observers.begin(), capture->observers.end(), [kind](const TileObserver* o) { return o->wants(kind); });
}

void keepTile(LayerCapture* capture, MapKind kind, const at::Tensor& perHead, int64_t q0)
{
    if (!capture)
        return;
    if (capture->collector.wants(kind))
        capture->collector.add(kind, perHead, q0);
    for (TileObserver* observer : capture->observers)
        if (observer->wants(kind))
            observer->add(kind, perHead, q0);
}

int64_t LayerCapture::rowAlignment() const
{
    int64_t align = collector.rowAlignment();
    for (const TileObserver* o : observers)
        align = std::lcm(align, o->rowAlignment());
    return align;
}

void forEachQueryTile(int64_t seqLen, const AttentionContext& ctx, const std::function<void(int64_t, int64_t)>& f)
{
    const int64_t tile = ctx.queryTile > 0 ? ctx.queryTile : seqLen;
    for (int64_t q0 = 0; q0 < seqLen; q0 += tile) {
        if (ctx.cancel && ctx.cancel->load())
            throw Cancelled();
        f(q0, std::min(seqLen, q0 + tile));
    }
}

TileScores tileScores(const ScoreInputs& in, const LayerWeights& w, const ModelConfig& c, int64_t layer, int64_t q0,
    int64_t q1, bool nanToNum)
{
    const int64_t d = c.headDim;
    const at::Tensor qs = in.q.narrow(2, q0, q1 - q0) * scoreScale(c, layer);
    TileScores out;
    out.future = tileFutureMask(q0, q1, in.q.device());
    out.logits = at::matmul(qs, in.k.narrow(2, 0, q1).transpose(-2, -1));
    if (nanToNum)
        out.logits = at::nan_to_num(out.logits);
    if (c.hasCope()) {
        const at::Tensor gateLogits
            = in.copeKey.defined() ? at::matmul(qs, in.copeKey.narrow(2, 0, q1).transpose(-2, -1)) : out.logits;
        out.cope = copeTerms(gateLogits, in.copeQuery.narrow(2, q0, q1 - q0), w.posEmb, out.future);
        out.logits = addCopeBias(out.logits, out.cope->bias, c.cope.scaling, d);
    }
    if (c.arch.attnSoftcap > 0.0) // Gemma 2: after the scale, before the mask
        out.logits = at::tanh(out.logits / c.arch.attnSoftcap) * c.arch.attnSoftcap;
    at::Tensor masked = out.future;
    if (c.arch.slidingAt(layer)) { // key j is visible to query i only when i - W < j
        const auto opts = at::TensorOptions().dtype(at::kLong).device(in.q.device());
        const at::Tensor queries = at::arange(q0, q1, opts).unsqueeze(1);
        const at::Tensor keys = at::arange(0, q1, opts).unsqueeze(0);
        masked = masked.logical_or(keys <= queries - c.arch.slidingWindow);
    }
    // In place: the logits are this function's own tensor (a product, or a new one from the steps above), and a
    // masked_fill that allocates costs twice as much on a CPU tile.
    out.logits.masked_fill_(masked, -std::numeric_limits<double>::infinity());
    return out;
}

bool haveFusedAttention()
{
    return TORCH_VERSION_MAJOR >= 2;
}

at::Tensor fusedCausalAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v)
{
#if TORCH_VERSION_MAJOR >= 2
    // Flash / memory-efficient kernels where the device and dtype allow; default scale 1/sqrt(q.size(-1)).
    return at::scaled_dot_product_attention(q, k, v, {}, 0.0, /*is_causal=*/true);
#else
    (void)q;
    (void)k;
    (void)v;
    TORCH_CHECK(false, "fused attention needs LibTorch 2.x");
    return {};
#endif
}

at::Tensor softmaxTile(const ScoreInputs& in, const LayerWeights& w, const ModelConfig& c, int64_t layer, int64_t q0,
    int64_t q1, at::ScalarType dtype, LayerCapture* capture)
{
    const TileScores scores = tileScores(in, w, c, layer, q0, q1, /*nanToNum=*/false);
    if (scores.cope) {
        keepTile(capture, MapKind::G, scores.cope->gates, q0);
        keepTile(capture, MapKind::P, scores.cope->positions, q0);
        keepTile(capture, MapKind::B, scores.cope->bias, q0);
    }
    keepTile(capture, MapKind::S, scores.logits, q0);
    const at::Tensor attention = at::softmax(scores.logits, -1, at::kFloat).to(dtype);
    keepTile(capture, MapKind::A, attention, q0);
    return attention;
}

at::Tensor softmaxAttention(
    const at::Tensor& h, const LayerWeights& w, const AttentionContext& ctx, LayerCapture* capture)
{
    const ModelConfig& c = ctx.config;
    const int64_t d = c.headDim;
    const int64_t nRep = c.nHeads / c.nKvHeads;
    const int64_t seqLen = h.size(1);

    at::Tensor q = headNorm(splitHeads(project(h, w.wq, w.bq), c.nHeads, d), w.qNorm, c.normEps);
    at::Tensor k = headNorm(splitHeads(project(h, w.wk, w.bk), c.nKvHeads, d), w.kNorm, c.normEps);
    const bool valueGates = c.hasCope() && !c.cope.sepKey && c.arch.copeValueGates;
    at::Tensor v = ctx.mapsOnly && !valueGates ? at::Tensor() : splitHeads(project(h, w.wv, w.bv), c.nKvHeads, d);
    const at::Tensor qUnrotated = q;
    at::Tensor copeKey;
    if (c.hasCope() && c.cope.sepKey)
        copeKey = splitHeads(at::linear(h, w.copeKeyW, w.copeKeyB), c.nKvHeads, d);
    else if (valueGates)
        copeKey = v; // the CoPE code's cope_val_gates: gates from q.v
    if (ctx.rope) {
        q = applyRope(q, *ctx.rope, c.rope.style);
        k = applyRope(k, *ctx.rope, c.rope.style);
        if (copeKey.defined())
            copeKey = applyRope(copeKey, *ctx.rope, c.rope.style);
    }
    const bool unrotated = c.position == PositionKind::RopeCope && c.cope.ropeQuery == CopeRopeQuery::Unrotated;
    if (capture && capture->keepScores)
        *capture->keepScores = {q, k, copeKey, unrotated ? qUnrotated : q};
    if (nRep > 1) { // query head i reads kv head i / nRep
        k = k.repeat_interleave(nRep, 1);
        if (v.defined())
            v = v.repeat_interleave(nRep, 1);
        if (copeKey.defined())
            copeKey = copeKey.repeat_interleave(nRep, 1);
    }

    at::Tensor heads;
    if (fusedAttentionApplies(c, ctx.layer, seqLen, capture)) {
        heads = fusedCausalAttention(q, k, v);
    } else {
        const ScoreInputs inputs {q, k, copeKey, unrotated ? qUnrotated : q};
        std::vector<at::Tensor> rows;
        forEachQueryTile(seqLen, ctx, [&](int64_t q0, int64_t q1) {
            const at::Tensor attention = softmaxTile(inputs, w, c, ctx.layer, q0, q1, h.scalar_type(), capture);
            if (!ctx.mapsOnly)
                rows.push_back(at::matmul(attention, v.narrow(2, 0, q1))); // [B, H, t, d]
        });
        if (ctx.mapsOnly)
            return {};
        heads = rows.size() == 1 ? rows.front() : at::cat(rows, 2);
    }
    return project(heads.transpose(1, 2).flatten(2), w.wo, w.bo);
}

} // namespace attn::engine
