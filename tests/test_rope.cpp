// SPDX-License-Identifier: GPL-3.0-or-later
// RoPE: identity at position 0, per-pair norms preserved, scores depend only on relative position,
// and the two frequency tables.
#include "engine/rope.h"
#include "engine_test_util.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace attn;
using namespace attn::engine;
using attn::test::maxAbsDiff;

class RopeVariants : public ::testing::TestWithParam<std::tuple<RopeStyle, RopeFreqs>> {
protected:
    RopeConfig config() const
    {
        RopeConfig c;
        c.style = std::get<0>(GetParam());
        c.freqs = std::get<1>(GetParam());
        return c;
    }
};

TEST_P(RopeVariants, PositionZeroIsTheIdentity)
{
    const at::Tensor x = at::randn({2, 1, 16});
    const RopeTables tables = ropeTables(1, 16, config(), at::kCPU);
    EXPECT_LE(maxAbsDiff(applyRope(x, tables, config().style), x), 1e-7);
}

TEST_P(RopeVariants, RotationPreservesPairNorms)
{
    const int64_t t = 12, d = 16;
    const at::Tensor x = at::randn({3, t, d});
    const at::Tensor y = applyRope(x, ropeTables(t, d, config(), at::kCPU), config().style);
    auto pairNorms = [&](const at::Tensor& v) {
        if (config().style == RopeStyle::Interleaved)
            return v.unflatten(-1, {d / 2, 2}).pow(2).sum(-1);
        return v.slice(-1, 0, d / 2).pow(2) + v.slice(-1, d / 2).pow(2);
    };
    EXPECT_LE(maxAbsDiff(pairNorms(y), pairNorms(x)), 1e-5);
}

TEST_P(RopeVariants, ScoresDependOnlyOnRelativePosition)
{
    const int64_t t = 40, d = 16;
    const RopeTables tables = ropeTables(t, d, config(), at::kCPU);
    const at::Tensor q = at::randn({d});
    const at::Tensor k = at::randn({d});
    // Put the same q at every position and the same k at every position, then compare <q_m, k_n> along diagonals.
    const at::Tensor qs = applyRope(q.expand({t, d}).contiguous(), tables, config().style);
    const at::Tensor ks = applyRope(k.expand({t, d}).contiguous(), tables, config().style);
    const at::Tensor scores = at::matmul(qs, ks.t());
    for (int64_t shift : {0, 3, 17})
        for (int64_t m = 0; m + shift < t; m += 7)
            EXPECT_NEAR(scores[m][m + shift].item<double>(), scores[0][shift].item<double>(), 1e-4)
                << "m=" << m << " shift=" << shift;
}

INSTANTIATE_TEST_SUITE_P(AllStylesAndTables, RopeVariants,
    ::testing::Combine(::testing::Values(RopeStyle::Interleaved, RopeStyle::RotateHalf),
        ::testing::Values(RopeFreqs::Linspace, RopeFreqs::Standard)));

TEST(Rope, FrequencyTables)
{
    RopeConfig linspace; // YOCO: theta^-linspace(0, 1, d/2), endpoint included
    const at::Tensor a = ropeAngles(8, linspace);
    EXPECT_NEAR(a[0].item<double>(), 1.0, 1e-15);
    EXPECT_NEAR(a[3].item<double>(), 1.0 / 10000.0, 1e-15);
    EXPECT_NEAR(a[1].item<double>(), std::pow(10000.0, -1.0 / 3.0), 1e-15);
    RopeConfig standard;
    standard.freqs = RopeFreqs::Standard; // theta^-(2i/d)
    const at::Tensor b = ropeAngles(8, standard);
    EXPECT_NEAR(b[1].item<double>(), std::pow(10000.0, -2.0 / 8.0), 1e-15);
    EXPECT_NEAR(b[3].item<double>(), std::pow(10000.0, -6.0 / 8.0), 1e-15);
}

TEST(Rope, InterleavedRotatesAdjacentPairsRotateHalfRotatesHalves)
{
    RopeConfig c;
    c.freqs = RopeFreqs::Standard;
    const RopeTables tables = ropeTables(2, 4, c, at::kCPU);
    const at::Tensor x = at::tensor({1.0f, 0.0f, 0.0f, 0.0f}).view({1, 4}).expand({2, 4}).contiguous();
    // Position 1, angle_0 = 1: interleaved moves x0 into x1; rotate_half moves x0 into x2.
    const at::Tensor inter = applyRope(x, tables, RopeStyle::Interleaved)[1];
    EXPECT_NEAR(inter[0].item<double>(), std::cos(1.0), 1e-6);
    EXPECT_NEAR(inter[1].item<double>(), std::sin(1.0), 1e-6);
    const at::Tensor half = applyRope(x, tables, RopeStyle::RotateHalf)[1];
    EXPECT_NEAR(half[0].item<double>(), std::cos(1.0), 1e-6);
    EXPECT_NEAR(half[2].item<double>(), std::sin(1.0), 1e-6);
    EXPECT_NEAR(half[1].item<double>(), 0.0, 1e-7);
}
