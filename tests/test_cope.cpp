// SPDX-License-Identifier: GPL-3.0-or-later
// CoPE against cope.md section 7: golden vectors (both scalings), the gates -> 1 / gates -> 0 limits,
// and the gather path against an explicit interpolated-embedding computation.
#include "engine/cope.h"
#include "engine/layer.h"
#include "engine_test_util.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

using namespace attn;
using namespace attn::engine;
using attn::test::matrix;
using attn::test::maxAbsDiff;

namespace {

struct Golden {
    at::Tensor q = matrix({{1.0, 0.5}, {0.2, -1.0}, {1.5, 0.3}, {-0.7, 0.8}, {0.4, 1.2}});
    at::Tensor k = matrix({{0.3, -0.2}, {1.0, 0.4}, {-0.5, 0.9}, {0.8, 0.8}, {0.1, -1.1}});
    at::Tensor v = matrix({{1, 0}, {0, 1}, {1, 1}, {2, -1}, {-1, 2}});
    at::Tensor e = matrix({{0.5, -0.3, 1.0}, {0.2, 0.7, -0.4}}).unsqueeze(0); // [1, d=2, npos=3]
    at::Tensor future = futureMask(5, at::kCPU);
    at::Tensor scaled() const { return at::matmul(q, k.t()) / std::sqrt(2.0); }
    at::Tensor allowed() const { return future.logical_not(); }
};

/// Softmax over unmasked keys of position-adjusted logits, then the output rows.
std::pair<at::Tensor, at::Tensor> attend(const at::Tensor& logits, const at::Tensor& future, const at::Tensor& v)
{
    const at::Tensor a = at::softmax(logits.masked_fill(future, -std::numeric_limits<double>::infinity()), -1);
    return {a, at::matmul(a, v)};
}

} // namespace

TEST(Cope, GoldenGatesPositionsAndPositionLogits)
{
    Golden g;
    const CopeTerms t = copeTerms(g.scaled(), g.q, g.e, g.future);
    const at::Tensor gates
        = matrix({{0.535297, 0, 0, 0, 0}, {0.545833, 0.464703, 0, 0, 0}, {0.568509, 0.758690, 0.415952, 0, 0},
            {0.434963, 0.433226, 0.680616, 0.514138, 0}, {0.478800, 0.650731, 0.650731, 0.711996, 0.288004}});
    EXPECT_LE(maxAbsDiff(t.gates, gates), 1e-6);
    // Positions after the clamp to npos - 1 = 2 (P[3,0], P[4,0], P[4,1] clamp); P[4,3] is exactly 1.
    const at::Tensor positions
        = matrix({{0.535297, 0, 0, 0, 0}, {1.010536, 0.464703, 0, 0, 0}, {1.743152, 1.174643, 0.415952, 0, 0},
            {2.0, 1.627981, 1.194754, 0.514138, 0}, {2.0, 2.0, 1.650731, 1.000000, 0.288004}});
    EXPECT_LE(maxAbsDiff(t.positions, positions), 1e-6);
    const at::Tensor bias = matrix({{0.305587, 0.6, 0.6, 0.6, 0.6}, {-0.745671, -0.406704, -0.1, -0.1, -0.1},
        {0.963907, 0.042921, 0.373250, 0.81, 0.81}, {-1.020000, -0.354085, 0.421390, 0.303573, -0.19},
        {-0.080000, -0.080000, 0.199415, 0.720000, 0.520641}});
    EXPECT_LE(maxAbsDiff(t.bias, bias), 1e-6);
}

TEST(Cope, GoldenPositionsBeforeTheClamp)
{
    Golden g;
    // A table with more integer positions than any count: nothing clamps.
    const at::Tensor wide = at::cat({g.e, at::zeros({1, 2, 5})}, 2);
    const CopeTerms t = copeTerms(g.scaled(), g.q, wide, g.future);
    const at::Tensor positions
        = matrix({{0.535297, 0, 0, 0, 0}, {1.010536, 0.464703, 0, 0, 0}, {1.743152, 1.174643, 0.415952, 0, 0},
            {2.062944, 1.627981, 1.194754, 0.514138, 0}, {2.780262, 2.301462, 1.650731, 1.000000, 0.288004}});
    EXPECT_LE(maxAbsDiff(t.positions, positions), 1e-6);
}

TEST(Cope, GoldenAppendixScalingAttentionAndOutput)
{
    Golden g;
    const CopeTerms t = copeTerms(g.scaled(), g.q, g.e, g.future);
    const auto [a, out] = attend(addCopeBias(g.scaled(), t.bias, CopeScaling::Appendix, 2), g.future, g.v);
    const at::Tensor expected
        = matrix({{1, 0, 0, 0, 0}, {0.496576, 0.503424, 0, 0, 0}, {0.444546, 0.422339, 0.133115, 0, 0},
            {0.050512, 0.097617, 0.591011, 0.260860, 0}, {0.079987, 0.162223, 0.214517, 0.479056, 0.064217}});
    EXPECT_LE(maxAbsDiff(a, expected), 1e-6);
    const at::Tensor expectedOut
        = matrix({{1, 0}, {0.496576, 0.503424}, {0.577661, 0.555454}, {1.163242, 0.427769}, {1.188399, 0.026118}});
    EXPECT_LE(maxAbsDiff(out, expectedOut), 1e-6);
}

TEST(Cope, GoldenCodeScalingLogitsAttentionAndOutput)
{
    Golden g;
    const CopeTerms t = copeTerms(g.scaled(), g.q, g.e, g.future);
    const at::Tensor logits = addCopeBias(g.scaled(), t.bias, CopeScaling::Code, 2);
    const at::Tensor row4 = matrix({{-0.141421, 0.565685, 0.763262, 1.414214, -0.536948}});
    EXPECT_LE(maxAbsDiff(logits.slice(0, 4, 5), row4), 1e-6);
    const auto [a, out] = attend(logits, g.future, g.v);
    const at::Tensor expected
        = matrix({{1, 0, 0, 0, 0}, {0.521383, 0.478617, 0, 0, 0}, {0.384584, 0.478506, 0.136910, 0, 0},
            {0.072644, 0.115511, 0.557251, 0.254594, 0}, {0.091653, 0.185883, 0.226489, 0.434262, 0.061712}});
    EXPECT_LE(maxAbsDiff(a, expected), 1e-6);
    const at::Tensor expectedOut
        = matrix({{1, 0}, {0.521383, 0.478617}, {0.521494, 0.615416}, {1.139083, 0.418168}, {1.124953, 0.101535}});
    EXPECT_LE(maxAbsDiff(out, expectedOut), 1e-6);
}

TEST(Cope, CodeScalingEqualsAppendixWithTableDividedBySqrtD)
{
    Golden g;
    const CopeTerms code = copeTerms(g.scaled(), g.q, g.e, g.future);
    const CopeTerms appx = copeTerms(g.scaled(), g.q, g.e / std::sqrt(2.0), g.future);
    EXPECT_LE(maxAbsDiff(addCopeBias(g.scaled(), code.bias, CopeScaling::Code, 2),
                  addCopeBias(g.scaled(), appx.bias, CopeScaling::Appendix, 2)),
        1e-6);
}

TEST(Cope, GatesToOneGiveTokenRelativePositions)
{
    Golden g;
    const int64_t n = 5;
    const at::Tensor e = at::randn({1, 2, n + 2}, at::TensorOptions().dtype(at::kFloat));
    // Forced gates G = M: positions are i - j + 1 below the diagonal.
    const at::Tensor gates = g.allowed().to(at::kFloat);
    const at::Tensor positions = gates.flip({-1}).cumsum(-1).flip({-1});
    const at::Tensor bias = copeBiasFromPositions(positions, g.q, e);
    const at::Tensor z = at::matmul(g.q, e.select(0, 0));
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j <= i; ++j) {
            EXPECT_FLOAT_EQ(positions[i][j].item<float>(), static_cast<float>(i - j + 1));
            EXPECT_NEAR(bias[i][j].item<double>(), z[i][i - j + 1].item<double>(), 1e-6); // relative PE
        }
}

TEST(Cope, GatesToZeroGivePlainCausalAttention)
{
    Golden g;
    // Gate logits of -inf make every gate 0: P = 0, the bias z_i[0] is constant along each row and
    // cancels in the softmax.
    const at::Tensor closed = at::full({5, 5}, -std::numeric_limits<float>::infinity());
    const CopeTerms t = copeTerms(closed, g.q, g.e, g.future);
    EXPECT_EQ(t.gates.abs().max().item<float>(), 0.0f);
    EXPECT_EQ(t.positions.abs().max().item<float>(), 0.0f);
    const auto [withCope, out1] = attend(addCopeBias(g.scaled(), t.bias, CopeScaling::Appendix, 2), g.future, g.v);
    const auto [plain, out2] = attend(g.scaled(), g.future, g.v);
    EXPECT_LE(maxAbsDiff(withCope, plain), 1e-6);
}

TEST(Cope, GatherPathEqualsExplicitInterpolatedEmbeddings)
{
    at::manual_seed(7);
    const int64_t n = 9, d = 4, npos = 6;
    const at::Tensor q = at::randn({n, d});
    const at::Tensor e = at::randn({1, d, npos});
    // Fractional positions inside [0, npos - 1], including exact integers and the top edge.
    at::Tensor p = at::rand({n, n}) * static_cast<double>(npos - 1);
    p[0][0] = 0.0;
    p[1][0] = 2.0;
    p[2][1] = static_cast<double>(npos - 1);
    const at::Tensor fast = copeBiasFromPositions(p, q, e);

    // e[p] = (p - floor p) e[ceil p] + (1 - p + floor p) e[floor p], then q_i . e[p_ij]: an [n, n, d] tensor.
    const at::Tensor table = e.select(0, 0).t(); // [npos, d]
    const at::Tensor lo = p.floor().to(at::kLong);
    const at::Tensor hi = p.ceil().to(at::kLong);
    const at::Tensor w = (p - p.floor()).unsqueeze(-1);
    const at::Tensor interpolated = w * table.index({hi}) + (1 - w) * table.index({lo}); // [n, n, d]
    const at::Tensor naive = (interpolated * q.unsqueeze(1)).sum(-1);
    EXPECT_LE(maxAbsDiff(fast, naive), 1e-6);
}

TEST(Cope, MaskedKeysNeverCount)
{
    Golden g;
    // Large logits on future keys must not leak into counts: masking happens before the cumsum.
    const at::Tensor logits = g.scaled().masked_fill(g.future, 50.0);
    const CopeTerms t = copeTerms(logits, g.q, g.e, g.future);
    const CopeTerms reference = copeTerms(g.scaled(), g.q, g.e, g.future);
    EXPECT_LE(maxAbsDiff(t.positions, reference.positions), 1e-7);
    EXPECT_EQ(t.gates.masked_select(g.future).abs().max().item<float>(), 0.0f);
}
