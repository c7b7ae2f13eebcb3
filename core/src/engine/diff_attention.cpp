// SPDX-License-Identifier: GPL-3.0-or-later
// Differential attention V1 with the official module's exact order of operations
// (diff-attention.md 1.3): views, RoPE per sub-head, q scaled in its dtype, nan_to_num, causal mask,
// fp32 softmax cast back, lambda in fp32 cast to q's dtype, D = A1 - lambda A2, per-head RMSNorm, (1 - lambda_init).
#include "engine/cope.h"
#include "engine/layer.h"

#include <cmath>
#include <limits>

namespace attn::engine {

namespace {

constexpr double kSublnEps = 1e-5; // hard-coded in the official module, independent of norm_eps

// Sub-heads are interleaved per head (2h + g), so group g of every head is every other sub-head.
at::Tensor group(const at::Tensor& subHeads, int64_t g)
{
    return subHeads.slice(1, g, subHeads.size(1), 2);
}

} // namespace

std::vector<int64_t> diffKeySubHeadIndex(int64_t nHeads, int64_t nKvHeads, GqaSemantics gqa)
{
    const int64_t nRep = nHeads / nKvHeads;
    std::vector<int64_t> index;
    for (int64_t h = 0; h < nHeads; ++h)
        for (int64_t g = 0; g < 2; ++g)
            index.push_back(gqa == GqaSemantics::Flash ? 2 * (h / nRep) + g : (2 * h + g) / nRep);
    return index;
}

at::Tensor diffLambda(const LayerWeights& w, int64_t depth)
{
    const at::Tensor lambda1 = at::exp((w.lambdaQ1.to(at::kFloat) * w.lambdaK1.to(at::kFloat)).sum());
    const at::Tensor lambda2 = at::exp((w.lambdaQ2.to(at::kFloat) * w.lambdaK2.to(at::kFloat)).sum());
    return lambda1 - lambda2 + lambdaInit(depth);
}

at::Tensor diffAttention(const at::Tensor& h, const LayerWeights& w, const AttentionContext& ctx,
    const LayerMapRequest* request, LayerMaps* out)
{
    const ModelConfig& c = ctx.config;
    const int64_t d = c.headDim;
    const int64_t nHeads = c.nHeads;
    const int64_t nRep = c.nHeads / c.nKvHeads;
    const double scale = 1.0 / std::sqrt(static_cast<double>(d)); // from d, not 2d
    const auto dtype = h.scalar_type();

    at::Tensor q = splitHeads(at::linear(h, w.wq), 2 * nHeads, d); // [B, 2H, T, d]
    at::Tensor k = splitHeads(at::linear(h, w.wk), 2 * c.nKvHeads, d); // [B, 2Hkv, T, d]
    at::Tensor v = splitHeads(at::linear(h, w.wv), c.nKvHeads, 2 * d); // [B, Hkv, T, 2d]
    const at::Tensor qUnrotated = q;
    at::Tensor copeKey;
    if (c.hasCope() && c.cope.sepKey)
        copeKey = splitHeads(at::linear(h, w.copeKeyW, w.copeKeyB), 2 * c.nKvHeads, d);
    if (ctx.rope) {
        q = applyRope(q, *ctx.rope, c.rope.style);
        k = applyRope(k, *ctx.rope, c.rope.style);
        if (copeKey.defined())
            copeKey = applyRope(copeKey, *ctx.rope, c.rope.style);
    }
    if (nRep > 1) {
        const std::vector<int64_t> indexValues = diffKeySubHeadIndex(nHeads, c.nKvHeads, c.gqa);
        const at::Tensor index = at::tensor(indexValues, at::TensorOptions().dtype(at::kLong)).to(h.device());
        k = k.index_select(1, index);
        if (copeKey.defined())
            copeKey = copeKey.index_select(1, index);
        v = v.repeat_interleave(nRep, 1); // head h reads kv head h / nRep in both GQA semantics
    }

    const at::Tensor qScaled = q * scale;
    at::Tensor logits = at::nan_to_num(at::matmul(qScaled, k.transpose(-2, -1))); // [B, 2H, T, T]
    if (c.hasCope()) {
        // diff + CoPE: each sub-head (group) gets its own gates and positions from its own q_g . k_g, and
        // both groups read the layer's single pos_emb table.
        const at::Tensor gateLogits = copeKey.defined() ? at::matmul(qScaled, copeKey.transpose(-2, -1)) : logits;
        const bool unrotated = c.position == PositionKind::RopeCope && c.cope.ropeQuery == CopeRopeQuery::Unrotated;
        const CopeTerms cope = copeTerms(gateLogits, unrotated ? qUnrotated : q, w.posEmb, ctx.future);
        logits = addCopeBias(logits, cope.bias, c.cope.scaling, d);
        keepMap(out, request, MapKind::G1, group(cope.gates, 0));
        keepMap(out, request, MapKind::P1, group(cope.positions, 0));
        keepMap(out, request, MapKind::B1, group(cope.bias, 0));
        keepMap(out, request, MapKind::G2, group(cope.gates, 1));
        keepMap(out, request, MapKind::P2, group(cope.positions, 1));
        keepMap(out, request, MapKind::B2, group(cope.bias, 1));
    }
    logits = logits.masked_fill(ctx.future, -std::numeric_limits<double>::infinity());
    keepMap(out, request, MapKind::S1, group(logits, 0));
    keepMap(out, request, MapKind::S2, group(logits, 1));
    const at::Tensor attention = at::softmax(logits, -1, at::kFloat).to(dtype);

    const at::Tensor lambdaFull = diffLambda(w, ctx.layer).to(dtype); // the reference casts lambda to q's dtype
    const at::Tensor a1 = group(attention, 0);
    const at::Tensor a2 = group(attention, 1);
    const at::Tensor lambdaA2 = lambdaFull * a2;
    const at::Tensor diff = a1 - lambdaA2; // [B, H, T, T]; rows sum to 1 - lambda
    if (out) {
        const double lambda = lambdaFull.item<double>();
        out->lambda = lambda;
        keepMap(out, request, MapKind::A1, a1);
        keepMap(out, request, MapKind::A2, a2);
        keepMap(out, request, MapKind::LA2, lambdaA2);
        keepMap(out, request, MapKind::D, diff);
        if (request && request->wants(MapKind::DN))
            keepMap(out, request, MapKind::DN, diff.to(at::kFloat) / (1.0 - lambda));
    }

    at::Tensor heads = at::matmul(diff, v); // [B, H, T, 2d]
    heads = rmsNorm(heads, w.subln, kSublnEps) * (1.0 - lambdaInit(ctx.layer));
    return at::linear(heads.transpose(1, 2).flatten(2), w.wo);
}

} // namespace attn::engine
