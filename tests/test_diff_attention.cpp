// SPDX-License-Identifier: GPL-3.0-or-later
// Differential attention against diff-attention.md section 7: lambda, row sums, degenerate identities,
// the flash-1 form, GQA pairing, lambda > 1. Full-model agreement with an independent reference lives in
// test_reference_fixtures.cpp.
#include "engine/layer.h"
#include "engine_test_util.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace attn;
using namespace attn::engine;
using attn::test::maxAbsDiff;

namespace {

ModelConfig diffConfig(int64_t heads, int64_t kvHeads)
{
    ModelConfig c;
    c.attention = AttentionKind::Diff;
    c.position = PositionKind::Rope;
    c.dModel = 64;
    c.nHeads = heads;
    c.nKvHeads = kvHeads;
    c.headDim = 16;
    c.nLayers = 6;
    return c;
}

LayerWeights randomWeights(const ModelConfig& c)
{
    const int64_t d = c.headDim;
    LayerWeights w;
    w.wq = at::randn({2 * c.nHeads * d, c.dModel}) * 0.3;
    w.wk = at::randn({2 * c.nKvHeads * d, c.dModel}) * 0.3;
    w.wv = at::randn({c.nKvHeads * 2 * d, c.dModel}) * 0.3;
    w.wo = at::randn({c.dModel, c.nHeads * 2 * d}) * 0.3;
    w.lambdaQ1 = at::randn({d}) * 0.1;
    w.lambdaK1 = at::randn({d}) * 0.1;
    w.lambdaQ2 = at::randn({d}) * 0.1;
    w.lambdaK2 = at::randn({d}) * 0.1;
    w.subln = 1.0 + 0.1 * at::randn({2 * d});
    return w;
}

struct LayerRun {
    at::Tensor output;
    std::map<MapKind, at::Tensor> maps; ///< [H, T, T], masked cells 0 (as the attention weights are)
    std::map<MapKind, at::Tensor> raw; ///< as captured: masked cells NaN
    double lambda = 0.0;
};

LayerRun run(const ModelConfig& c, const LayerWeights& w, const at::Tensor& h, int64_t depth, const RopeTables* rope)
{
    const int64_t t = h.size(1);
    AttentionContext ctx {c, depth, rope};
    std::vector<int64_t> heads;
    for (int64_t head = 0; head < c.nHeads; ++head)
        heads.push_back(head);
    LayerCapture capture(MapCollector(
        MapRegion::full(), t, heads, {MapKind::A1, MapKind::A2, MapKind::LA2, MapKind::D, MapKind::DN}, at::kCPU));
    LayerRun r;
    r.output = diffAttention(h, w, ctx, &capture);
    r.raw = capture.collector.results();
    for (const auto& [kind, map] : r.raw)
        r.maps[kind] = map.nan_to_num(0.0);
    r.lambda = *capture.lambda;
    return r;
}

} // namespace

TEST(DiffAttention, LambdaFromTheFourVectorsPlusLambdaInit)
{
    const ModelConfig c = diffConfig(2, 2);
    at::manual_seed(1);
    const LayerWeights w = randomWeights(c);
    const double expected = std::exp((w.lambdaQ1 * w.lambdaK1).sum().item<double>())
        - std::exp((w.lambdaQ2 * w.lambdaK2).sum().item<double>()) + 0.666121903910942;
    EXPECT_NEAR(diffLambda(w, 5).item<double>(), expected, 1e-6);
}

TEST(DiffAttention, RowsOfDSumToOneMinusLambdaAndMaskedCellsAreZero)
{
    const ModelConfig c = diffConfig(2, 2);
    at::manual_seed(2);
    const LayerWeights w = randomWeights(c);
    const int64_t t = 7;
    const RopeTables rope = ropeTables(t, c.headDim, c.rope, at::kCPU);
    const LayerRun r = run(c, w, at::randn({1, t, c.dModel}), 5, &rope);
    const double lambda = r.lambda;
    const at::Tensor d = r.maps.at(MapKind::D);
    ASSERT_EQ(d.sizes(), (at::IntArrayRef {2, t, t}));
    EXPECT_LE(maxAbsDiff(d.sum(-1), at::full({2, t}, 1.0 - lambda)), 1e-6);
    EXPECT_LE(maxAbsDiff(r.maps.at(MapKind::DN).sum(-1), at::ones({2, t})), 1e-5);
    EXPECT_TRUE(r.raw.at(MapKind::D).masked_select(futureMask(t, at::kCPU)).isnan().all().item<bool>())
        << "masked (future) cells are NaN in every captured map";
    // A1 and A2 are proper distributions over the visible keys.
    EXPECT_LE(maxAbsDiff(r.maps.at(MapKind::A1).sum(-1), at::ones({2, t})), 1e-6);
    EXPECT_LE(maxAbsDiff(r.maps.at(MapKind::A2).sum(-1), at::ones({2, t})), 1e-6);
    EXPECT_LE(maxAbsDiff(r.maps.at(MapKind::LA2), lambda * r.maps.at(MapKind::A2)), 1e-7);
}

TEST(DiffAttention, IdenticalGroupsGiveDEqualToOneMinusLambdaTimesA1)
{
    const ModelConfig c = diffConfig(2, 2);
    at::manual_seed(3);
    LayerWeights w = randomWeights(c);
    const int64_t d = c.headDim;
    // Copy group 0 of every head (rows (2h)d..(2h+1)d) onto group 1, for both q and k.
    for (int64_t s = 0; s < 2 * c.nHeads; s += 2) {
        w.wq.slice(0, (s + 1) * d, (s + 2) * d).copy_(w.wq.slice(0, s * d, (s + 1) * d));
        w.wk.slice(0, (s + 1) * d, (s + 2) * d).copy_(w.wk.slice(0, s * d, (s + 1) * d));
    }
    const int64_t t = 6;
    const LayerRun r = run(c, w, at::randn({1, t, c.dModel}), 1, nullptr);
    const double lambda = r.lambda;
    EXPECT_LE(maxAbsDiff(r.maps.at(MapKind::D), (1.0 - lambda) * r.maps.at(MapKind::A1)), 1e-6);
}

TEST(DiffAttention, SingleTokenGivesOneMinusLambdaAndNormalisedValue)
{
    const ModelConfig c = diffConfig(2, 2);
    at::manual_seed(4);
    const LayerWeights w = randomWeights(c);
    const at::Tensor h = at::randn({1, 1, c.dModel});
    const int64_t depth = 3;
    const LayerRun r = run(c, w, h, depth, nullptr);
    const double lambda = r.lambda;
    EXPECT_LE(maxAbsDiff(r.maps.at(MapKind::A1), at::ones({2, 1, 1})), 1e-7);
    EXPECT_LE(maxAbsDiff(r.maps.at(MapKind::A2), at::ones({2, 1, 1})), 1e-7);
    EXPECT_LE(maxAbsDiff(r.maps.at(MapKind::D), at::full({2, 1, 1}, 1.0 - lambda)), 1e-6);
    // Output = out_proj( (1 - lambda_init) * RMSNorm((1 - lambda) v) * gain ), and RMSNorm removes |1 - lambda|.
    const at::Tensor v = at::linear(h, w.wv).view({1, c.nHeads, 2 * c.headDim});
    const double sign = 1.0 - lambda > 0 ? 1.0 : -1.0;
    const at::Tensor normed = v * at::rsqrt(v.pow(2).mean(-1, true) + 1e-5) * w.subln;
    const at::Tensor expected = at::linear((sign * (1.0 - lambdaInit(depth)) * normed).flatten(1), w.wo);
    EXPECT_LE(maxAbsDiff(r.output.view({1, -1}), expected), 1e-5);
}

TEST(DiffAttention, DifferenceOfMapsTimesValuesEqualsDifferenceOfOutputs)
{
    const ModelConfig c = diffConfig(2, 2);
    at::manual_seed(5);
    const LayerWeights w = randomWeights(c);
    const int64_t t = 7;
    const at::Tensor h = at::randn({1, t, c.dModel});
    const LayerRun r = run(c, w, h, 2, nullptr);
    const double lambda = r.lambda;
    const at::Tensor v = at::linear(h, w.wv).view({t, c.nHeads, 2 * c.headDim}).transpose(0, 1);
    const at::Tensor a1 = r.maps.at(MapKind::A1), a2 = r.maps.at(MapKind::A2);
    // naive (A1 - lambda A2) V  ==  flash-1 A1 V - lambda A2 V  ==  flash-2 with V split into halves
    const at::Tensor naive = at::matmul(r.maps.at(MapKind::D), v);
    const at::Tensor flash1 = at::matmul(a1, v) - lambda * at::matmul(a2, v);
    const at::Tensor v1 = v.slice(-1, 0, c.headDim), v2 = v.slice(-1, c.headDim);
    const at::Tensor flash2 = at::cat({at::matmul(a1, v1), at::matmul(a1, v2)}, -1)
        - lambda * at::cat({at::matmul(a2, v1), at::matmul(a2, v2)}, -1);
    EXPECT_LE(maxAbsDiff(naive, flash1), 1e-6);
    EXPECT_LE(maxAbsDiff(naive, flash2), 1e-6);
}

TEST(DiffAttention, GqaSubHeadPairing)
{
    // Flash: (h, g) reads (h / n_rep, g). Naive repeat_kv: sub-head t reads t / n_rep.
    EXPECT_EQ(diffKeySubHeadIndex(4, 2, GqaSemantics::Flash), (std::vector<int64_t> {0, 1, 0, 1, 2, 3, 2, 3}));
    EXPECT_EQ(diffKeySubHeadIndex(4, 2, GqaSemantics::Naive), (std::vector<int64_t> {0, 0, 1, 1, 2, 2, 3, 3}));
    EXPECT_EQ(diffKeySubHeadIndex(2, 2, GqaSemantics::Flash), diffKeySubHeadIndex(2, 2, GqaSemantics::Naive));
}

TEST(DiffAttention, GqaFlashMapsEqualExplicitPerHeadGathering)
{
    ModelConfig c = diffConfig(2, 1); // n_rep = 2
    at::manual_seed(6);
    const LayerWeights w = randomWeights(c);
    const int64_t t = 5, d = c.headDim;
    const at::Tensor h = at::randn({1, t, c.dModel});
    const LayerRun flash = run(c, w, h, 0, nullptr);
    const at::Tensor q = at::linear(h, w.wq).view({t, 4, d}).transpose(0, 1) / std::sqrt(double(d));
    const at::Tensor k = at::linear(h, w.wk).view({t, 2, d}).transpose(0, 1);
    const at::Tensor mask = futureMask(t, at::kCPU);
    for (int64_t head = 0; head < 2; ++head)
        for (int64_t g = 0; g < 2; ++g) {
            const at::Tensor logits = at::matmul(q[2 * head + g], k[g].t()).masked_fill(mask, -INFINITY);
            const at::Tensor expected = at::softmax(logits, -1);
            const MapKind kind = g == 0 ? MapKind::A1 : MapKind::A2;
            EXPECT_LE(maxAbsDiff(flash.maps.at(kind)[head], expected), 1e-6) << "head " << head << " group " << g;
        }
    c.gqa = GqaSemantics::Naive;
    const LayerRun naive = run(c, w, h, 0, nullptr);
    EXPECT_GT(maxAbsDiff(naive.maps.at(MapKind::D), flash.maps.at(MapKind::D)), 1e-3)
        << "with n_rep = 2 the naive file pairs groups differently";
}

TEST(DiffAttention, LambdaAboveOneFlipsRowSumsAndHeadOutputSign)
{
    const ModelConfig c = diffConfig(2, 2);
    at::manual_seed(8);
    LayerWeights w = randomWeights(c);
    // lambda_q1 = lambda_k1 = 1.2/sqrt(d) * 1 gives exp(1.44) = 4.2 > 1.
    w.lambdaQ1 = at::full({c.headDim}, 1.2 / std::sqrt(double(c.headDim)));
    w.lambdaK1 = w.lambdaQ1.clone();
    const int64_t t = 6;
    const at::Tensor h = at::randn({1, t, c.dModel});
    const LayerRun r = run(c, w, h, 4, nullptr);
    const double lambda = r.lambda;
    ASSERT_GT(lambda, 1.0);
    EXPECT_LE(maxAbsDiff(r.maps.at(MapKind::D).sum(-1), at::full({2, t}, 1.0 - lambda)), 1e-5);
    EXPECT_LT(r.maps.at(MapKind::D).sum(-1).max().item<double>(), 0.0);

    // With identical groups the head output is sign(1 - lambda) (1 - lambda_init) RMSNorm(A1 V) gain.
    LayerWeights same = w;
    for (int64_t s = 0; s < 4; s += 2) {
        same.wq.slice(0, (s + 1) * 16, (s + 2) * 16).copy_(same.wq.slice(0, s * 16, (s + 1) * 16));
        same.wk.slice(0, (s + 1) * 16, (s + 2) * 16).copy_(same.wk.slice(0, s * 16, (s + 1) * 16));
    }
    const LayerRun rs = run(c, same, h, 4, nullptr);
    const at::Tensor v = at::linear(h, same.wv).view({t, 2, 32}).transpose(0, 1);
    const at::Tensor av = at::matmul(rs.maps.at(MapKind::A1), v);
    const at::Tensor normed = av * at::rsqrt(av.pow(2).mean(-1, true) + 1e-5) * same.subln;
    const at::Tensor expected = at::linear((-(1.0 - lambdaInit(4)) * normed).transpose(0, 1).flatten(1), same.wo);
    EXPECT_LE(maxAbsDiff(rs.output.view({t, -1}), expected), 1e-4);
}
