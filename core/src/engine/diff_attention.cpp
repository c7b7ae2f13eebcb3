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

at::Tensor diffTile(const ScoreInputs& in, const LayerWeights& w, const ModelConfig& c, int64_t layer, int64_t q0,
    int64_t q1, at::ScalarType dtype, const at::Tensor& lambdaFull, double lambda, LayerCapture* capture)
{
    // diff + CoPE: each sub-head (group) gets its own gates and positions from its own q_g . k_g, and both groups
    // read the layer's single pos_emb table.
    const TileScores scores = tileScores(in, w, c, layer, q0, q1, /*nanToNum=*/true); // [B, 2H, t, q1]
    if (scores.cope) {
        keepTile(capture, MapKind::G1, group(scores.cope->gates, 0), q0);
        keepTile(capture, MapKind::P1, group(scores.cope->positions, 0), q0);
        keepTile(capture, MapKind::B1, group(scores.cope->bias, 0), q0);
        keepTile(capture, MapKind::G2, group(scores.cope->gates, 1), q0);
        keepTile(capture, MapKind::P2, group(scores.cope->positions, 1), q0);
        keepTile(capture, MapKind::B2, group(scores.cope->bias, 1), q0);
    }
    const at::Tensor& logits = scores.logits;
    keepTile(capture, MapKind::S1, group(logits, 0), q0);
    keepTile(capture, MapKind::S2, group(logits, 1), q0);
    const at::Tensor attention = at::softmax(logits, -1, at::kFloat).to(dtype);
    const at::Tensor a1 = group(attention, 0);
    const at::Tensor a2 = group(attention, 1);
    const at::Tensor lambdaA2 = lambdaFull * a2;
    const at::Tensor diff = a1 - lambdaA2; // [B, H, t, q1]; rows sum to 1 - lambda
    keepTile(capture, MapKind::A1, a1, q0);
    keepTile(capture, MapKind::A2, a2, q0);
    keepTile(capture, MapKind::LA2, lambdaA2, q0);
    keepTile(capture, MapKind::D, diff, q0);
    if (wants(capture, MapKind::DN))
        keepTile(capture, MapKind::DN, diff.to(at::kFloat) / (1.0 - lambda), q0);
    return diff;
}

at::Tensor diffAttention(const at::Tensor& h, const LayerWeights& w, const AttentionContext& ctx, LayerCapture* capture)
{
    const ModelConfig& c = ctx.config;
    const int64_t d = c.headDim;
    const int64_t nHeads = c.nHeads;
    const int64_t nRep = c.nHeads / c.nKvHeads; // scores are scaled by 1/sqrt(d), not 1/sqrt(2d)
    const auto dtype = h.scalar_type();
    const int64_t seqLen = h.size(1);

    at::Tensor q = headNorm(splitHeads(project(h, w.wq, w.bq), 2 * nHeads, d), w.qNorm, c.normEps); // [B, 2H, T, d]
    at::Tensor k
        = headNorm(splitHeads(project(h, w.wk, w.bk), 2 * c.nKvHeads, d), w.kNorm, c.normEps); // [B, 2Hkv, T, d]
    at::Tensor v
        = ctx.mapsOnly ? at::Tensor() : splitHeads(project(h, w.wv, w.bv), c.nKvHeads, 2 * d); // [B, Hkv, T, 2d]
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
    const bool unrotated = c.position == PositionKind::RopeCope && c.cope.ropeQuery == CopeRopeQuery::Unrotated;
    if (capture && capture->keepScores)
        *capture->keepScores = {q, k, copeKey, unrotated ? qUnrotated : q};
    if (nRep > 1) {
        const std::vector<int64_t> indexValues = diffKeySubHeadIndex(nHeads, c.nKvHeads, c.gqa);
        const at::Tensor index = at::tensor(indexValues, at::TensorOptions().dtype(at::kLong)).to(h.device());
        k = k.index_select(1, index);
        if (copeKey.defined())
            copeKey = copeKey.index_select(1, index);
        if (v.defined())
            v = v.repeat_interleave(nRep, 1); // head h reads kv head h / nRep in both GQA semantics
    }

    const at::Tensor lambdaFull = diffLambda(w, ctx.layer).to(dtype); // the reference casts lambda to q's dtype
    const double lambda = capture ? lambdaFull.item<double>() : 0.0; // read back only when maps are kept
    if (capture)
        capture->lambda = lambda;

    at::Tensor heads;
    if (fusedAttentionApplies(c, ctx.layer, seqLen, capture)) {
        // diff-attention.md 2.2: four fused calls with equal q/k/v head sizes (A1 V1, A1 V2, A2 V1, A2 V2), so
        // a flash kernel qualifies; A V = [A V1, A V2] and (A1 - lambda A2) V = A1 V - lambda A2 V.
        const at::Tensor v1 = v.narrow(-1, 0, d), v2 = v.narrow(-1, d, d);
        auto groupOutput = [&](int64_t g) {
            const at::Tensor qg = group(q, g), kg = group(k, g);
            return at::cat({fusedCausalAttention(qg, kg, v1), fusedCausalAttention(qg, kg, v2)}, -1);
        };
        heads = groupOutput(0) - lambdaFull * groupOutput(1);
    } else {
        const ScoreInputs inputs {q, k, copeKey, unrotated ? qUnrotated : q};
        std::vector<at::Tensor> rows;
        forEachQueryTile(seqLen, ctx, [&](int64_t q0, int64_t q1) {
            const at::Tensor diff = diffTile(inputs, w, c, ctx.layer, q0, q1, dtype, lambdaFull, lambda, capture);
            if (!ctx.mapsOnly)
                rows.push_back(at::matmul(diff, v.narrow(2, 0, q1))); // [B, H, t, 2d]
        });
        if (ctx.mapsOnly)
            return {};
        heads = rows.size() == 1 ? rows.front() : at::cat(rows, 2);
    }
    // subln: the official module's eps is 1e-5 whatever norm_eps is; DiffLlama uses rms_norm_eps and no weight.
    heads = rmsNorm(heads, w.subln, c.arch.sublnEps) * (1.0 - lambdaInit(ctx.layer));
    return project(heads.transpose(1, 2).flatten(2), w.wo, w.bo);
}

} // namespace attn::engine
