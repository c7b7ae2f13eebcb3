// SPDX-License-Identifier: GPL-3.0-or-later
#include "attnscope/pooling.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

using namespace attn;

namespace {

constexpr float kMasked = std::numeric_limits<float>::quiet_NaN();

AttentionMap makeMap(int64_t rows, int64_t cols, std::vector<float> values)
{
    AttentionMap map;
    map.layer = 2;
    map.head = 5;
    map.kind = MapKind::A;
    map.rows = rows;
    map.cols = cols;
    map.values = std::move(values);
    return map;
}

// 6x6 causal map, visible cell (r, c) = (6r + c + 1) / 100, NaN right of the diagonal.
AttentionMap causal6()
{
    std::vector<float> values(36, kMasked);
    for (int r = 0; r < 6; ++r) {
        for (int c = 0; c <= r; ++c)
            values[r * 6 + c] = float(6 * r + c + 1) / 100.0f;
    }
    return makeMap(6, 6, std::move(values));
}

float cell(const AttentionMap& map, int64_t row, int64_t col)
{
    return map.at(row, col);
}

// Element-wise equality that treats NaN == NaN (masked stays masked).
void expectSameValues(const std::vector<float>& actual, const std::vector<float>& expected)
{
    ASSERT_EQ(actual.size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
        if (std::isnan(expected[i]))
            EXPECT_TRUE(std::isnan(actual[i])) << "cell " << i;
        else
            EXPECT_EQ(actual[i], expected[i]) << "cell " << i;
    }
}

} // namespace

TEST(Pooling, CausalMaxKeepsMaskAndPoolsFiniteCellsOnly)
{
    const AttentionMap pooled = poolMap(causal6(), 3, PoolMode::Max, false);
    ASSERT_EQ(pooled.rows, 3);
    ASSERT_EQ(pooled.cols, 3);
    EXPECT_EQ(pooled.layer, 2);
    EXPECT_EQ(pooled.head, 5);
    EXPECT_EQ(pooled.kind, MapKind::A);
    // Blocks fully right of the diagonal have no finite cell: still masked, never 0.
    EXPECT_TRUE(std::isnan(cell(pooled, 0, 1)));
    EXPECT_TRUE(std::isnan(cell(pooled, 0, 2)));
    EXPECT_TRUE(std::isnan(cell(pooled, 1, 2)));
    // Diagonal block {0.01, NaN, 0.07, 0.08}: the NaN is skipped, not propagated.
    EXPECT_FLOAT_EQ(cell(pooled, 0, 0), 0.08f);
    EXPECT_FLOAT_EQ(cell(pooled, 1, 0), 0.20f);
    EXPECT_FLOAT_EQ(cell(pooled, 1, 1), 0.22f);
    EXPECT_FLOAT_EQ(cell(pooled, 2, 2), 0.36f);
}

TEST(Pooling, CausalMeanDividesByFiniteCount)
{
    const AttentionMap pooled = poolMap(causal6(), 3, PoolMode::Mean, false);
    ASSERT_EQ(pooled.rows, 3);
    ASSERT_EQ(pooled.cols, 3);
    EXPECT_TRUE(std::isnan(cell(pooled, 0, 1)));
    EXPECT_TRUE(std::isnan(cell(pooled, 0, 2)));
    EXPECT_TRUE(std::isnan(cell(pooled, 1, 2)));
    // Three finite cells, so the mean is over 3, not 4 (a NaN-as-zero bug would give 0.04).
    EXPECT_NEAR(cell(pooled, 0, 0), (0.01 + 0.07 + 0.08) / 3.0, 1e-6);
    EXPECT_NEAR(cell(pooled, 1, 0), (0.13 + 0.14 + 0.19 + 0.20) / 4.0, 1e-6);
    EXPECT_NEAR(cell(pooled, 1, 1), (0.15 + 0.21 + 0.22) / 3.0, 1e-6);
}

TEST(Pooling, UnevenLastBlock)
{
    // 7 -> 3: block size ceil(7/3) = 3, so blocks cover 3, 3 and 1 rows/columns.
    std::vector<float> values(49);
    for (int i = 0; i < 49; ++i)
        values[i] = float(i); // cell (r, c) = 7r + c
    const AttentionMap map = makeMap(7, 7, values);

    const AttentionMap maxPooled = poolMap(map, 3, PoolMode::Max, false);
    ASSERT_EQ(maxPooled.rows, 3);
    ASSERT_EQ(maxPooled.cols, 3);
    EXPECT_EQ(cell(maxPooled, 0, 0), 16.0f); // (2, 2)
    EXPECT_EQ(cell(maxPooled, 0, 2), 20.0f); // column 6 alone, rows 0..2
    EXPECT_EQ(cell(maxPooled, 2, 0), 44.0f); // row 6 alone, columns 0..2
    EXPECT_EQ(cell(maxPooled, 2, 2), 48.0f); // the 1x1 corner block

    const AttentionMap meanPooled = poolMap(map, 3, PoolMode::Mean, false);
    EXPECT_FLOAT_EQ(cell(meanPooled, 0, 0), 8.0f); // centre of rows/cols 0..2
    EXPECT_FLOAT_EQ(cell(meanPooled, 0, 2), 13.0f); // (6 + 13 + 20) / 3
    EXPECT_FLOAT_EQ(cell(meanPooled, 2, 0), 43.0f); // (42 + 43 + 44) / 3
    EXPECT_FLOAT_EQ(cell(meanPooled, 2, 2), 48.0f);
    EXPECT_FLOAT_EQ(cell(meanPooled, 1, 1), 32.0f); // centre (4, 4)
}

TEST(Pooling, NonSquareMapPoolsEachAxisOnItsOwn)
{
    // 2 x 6 to 3: rows already fit (block 1), columns pool in pairs.
    const AttentionMap pooled
        = poolMap(makeMap(2, 6, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}), 3, PoolMode::Max, false);
    ASSERT_EQ(pooled.rows, 2);
    ASSERT_EQ(pooled.cols, 3);
    expectSameValues(pooled.values, {2, 4, 6, 8, 10, 12});
}

TEST(Pooling, SpikeSurvivesMaxButIsDilutedByMean)
{
    // One token gets all the attention of one query; the overview must still show it.
    std::vector<float> values(64, 0.0f);
    values[5 * 8 + 2] = 1.0f;
    const AttentionMap map = makeMap(8, 8, values);

    const AttentionMap maxPooled = poolMap(map, 2, PoolMode::Max, false);
    expectSameValues(maxPooled.values, {0.0f, 0.0f, 1.0f, 0.0f});

    const AttentionMap meanPooled = poolMap(map, 2, PoolMode::Mean, false);
    expectSameValues(meanPooled.values, {0.0f, 0.0f, 1.0f / 16.0f, 0.0f});
}

TEST(Pooling, SignedMaxKeepsSignOfLargestMagnitude)
{
    // 4x4 in 2x2 blocks. Top-left {0.3, -0.9, 0.5, NaN}: -0.9 is the strongest cell.
    // Top-right {0.2, -0.2, 0.1, 0}: magnitudes tie, the positive value wins (order-independent).
    // Bottom-left {-0.1, -0.4, -0.3, -0.2}: all negative, the most negative wins.
    // Bottom-right all NaN: stays masked.
    const AttentionMap map = makeMap(4, 4,
        {0.3f, -0.9f, 0.2f, -0.2f, //
            0.5f, kMasked, 0.1f, 0.0f, //
            -0.1f, -0.4f, kMasked, kMasked, //
            -0.3f, -0.2f, kMasked, kMasked});
    const AttentionMap pooled = poolMap(map, 2, PoolMode::Max, true);
    expectSameValues(pooled.values, {-0.9f, 0.2f, -0.4f, kMasked});

    // Unsigned max is the plain maximum: the strong negative cell loses.
    const AttentionMap plain = poolMap(map, 2, PoolMode::Max, false);
    expectSameValues(plain.values, {0.5f, 0.2f, -0.1f, kMasked});

    // Mean is the same signed average either way.
    const AttentionMap mean = poolMap(map, 2, PoolMode::Mean, true);
    EXPECT_NEAR(cell(mean, 0, 0), (0.3 - 0.9 + 0.5) / 3.0, 1e-6);
    EXPECT_NEAR(cell(mean, 0, 1), 0.1 / 4.0, 1e-6);
}

TEST(Pooling, MapWithinMaxSizeIsUnchanged)
{
    const AttentionMap map = causal6();
    for (int64_t maxSize : {6, 7, 100}) {
        for (PoolMode mode : {PoolMode::Max, PoolMode::Mean}) {
            const AttentionMap pooled = poolMap(map, maxSize, mode, false);
            EXPECT_EQ(pooled.rows, 6);
            EXPECT_EQ(pooled.cols, 6);
            EXPECT_EQ(pooled.layer, map.layer);
            EXPECT_EQ(pooled.head, map.head);
            expectSameValues(pooled.values, map.values);
        }
    }
}

TEST(Pooling, MaxSizeBelowOneIsTreatedAsOne)
{
    for (int64_t maxSize : {0, -3}) {
        const AttentionMap maxPooled = poolMap(causal6(), maxSize, PoolMode::Max, false);
        ASSERT_EQ(maxPooled.rows, 1);
        ASSERT_EQ(maxPooled.cols, 1);
        EXPECT_FLOAT_EQ(maxPooled.values[0], 0.36f);

        const AttentionMap meanPooled = poolMap(causal6(), maxSize, PoolMode::Mean, false);
        ASSERT_EQ(meanPooled.values.size(), 1u);
        // Mean over the 21 visible cells only.
        double sum = 0.0;
        for (int r = 0; r < 6; ++r) {
            for (int c = 0; c <= r; ++c)
                sum += float(6 * r + c + 1) / 100.0f;
        }
        EXPECT_NEAR(meanPooled.values[0], sum / 21.0, 1e-6);
    }
}

TEST(Pooling, EmptyMapIsReturnedAsIs)
{
    const AttentionMap empty;
    const AttentionMap pooled = poolMap(empty, 4, PoolMode::Max, false);
    EXPECT_EQ(pooled.rows, 0);
    EXPECT_TRUE(pooled.values.empty());
}
