// SPDX-License-Identifier: GPL-3.0-or-later
// Tiled capture (issue #5): overviews and windows of every map kind equal pooling / slicing the full map, and
// a capture computed a few query rows at a time equals the one-tile (naive) capture, for every attention and
// position kind. Plus the guards: full maps refused at long N, impossible requests refused with what would fit.
#include "attnscope/model.h"
#include "attnscope/pooling.h"
#include "model_fixture.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace attn;
using namespace attn::test;

namespace {

/// Largest |a - b| over cells finite in both; fails if the masked (NaN) cells differ or the shapes do.
double worstDifference(const AttentionMap& a, const AttentionMap& b, const std::string& what)
{
    EXPECT_EQ(a.rows, b.rows) << what;
    EXPECT_EQ(a.cols, b.cols) << what;
    EXPECT_EQ(a.rowBlock, b.rowBlock) << what;
    EXPECT_EQ(a.colBlock, b.colBlock) << what;
    EXPECT_EQ(a.rowBegin, b.rowBegin) << what;
    EXPECT_EQ(a.colBegin, b.colBegin) << what;
    if (a.values.size() != b.values.size())
        return INFINITY;
    double worst = 0.0;
    for (size_t i = 0; i < a.values.size(); ++i) {
        const bool maskedA = !std::isfinite(a.values[i]), maskedB = !std::isfinite(b.values[i]);
        EXPECT_EQ(maskedA, maskedB) << what << " cell " << i;
        if (!maskedA && !maskedB)
            worst = std::max(worst, static_cast<double>(std::fabs(a.values[i] - b.values[i])));
    }
    return worst;
}

AttentionMap slice(const AttentionMap& full, int64_t r0, int64_t r1, int64_t c0, int64_t c1)
{
    AttentionMap out = full;
    out.rows = r1 - r0;
    out.cols = c1 - c0;
    out.rowBegin = r0;
    out.colBegin = c0;
    out.values.clear();
    for (int64_t r = r0; r < r1; ++r)
        for (int64_t c = c0; c < c1; ++c)
            out.values.push_back(full.at(r, c));
    return out;
}

class TiledCapture : public ::testing::TestWithParam<std::tuple<AttentionKind, PositionKind>> {
protected:
    void SetUp() override
    {
        const auto [attention, position] = GetParam();
        path = writeModel(dir, "m", smallConfig(attention, position), 5);
        auto loaded = Model::load(path, {});
        ASSERT_TRUE(loaded) << loaded.message();
        model = std::move(loaded.value());
        // 41 tokens: prime, so neither the tiles nor the overview blocks divide it.
        tokens = model->tokenizer().encode("x = 1 ; x ++; pass; y = x ; print y ; ok");
        ASSERT_EQ(tokens.size(), 41u);
        request.tokens = tokens;
        request.kinds = availableMapKinds(model->config(), /*includeLogits=*/true);
        for (int64_t layer = 0; layer < model->config().nLayers; ++layer)
            for (int64_t head = 0; head < model->config().nHeads; ++head)
                request.heads.push_back({layer, head});
    }

    CaptureResult run(const MapRegion& region, int64_t tile)
    {
        CaptureRequest r = request;
        r.region = region;
        r.queryTile = tile;
        auto result = model->capture(r);
        EXPECT_TRUE(result) << result.message();
        return result ? std::move(result.value()) : CaptureResult {};
    }

    TempDir dir;
    std::string path;
    std::unique_ptr<Model> model;
    std::vector<int64_t> tokens;
    CaptureRequest request;
};

} // namespace

TEST_P(TiledCapture, TiledFullMapsAndLogitsEqualTheOneTileCapture)
{
    const CaptureResult naive = run(MapRegion::full(), 1000);
    for (int64_t tile : {1, 4, 7}) {
        const CaptureResult tiled = run(MapRegion::full(), tile);
        ASSERT_EQ(tiled.maps.size(), naive.maps.size());
        for (const AttentionMap& map : naive.maps) {
            const AttentionMap* other = tiled.find(map.layer, map.head, map.kind);
            ASSERT_NE(other, nullptr);
            const std::string what = "tile " + std::to_string(tile) + " L" + std::to_string(map.layer) + " H"
                + std::to_string(map.head) + " " + toString(map.kind);
            EXPECT_LE(worstDifference(*other, map, what), 2e-5) << what;
        }
        double worstLogit = 0.0;
        for (size_t i = 0; i < naive.lastLogits.size(); ++i)
            worstLogit
                = std::max(worstLogit, static_cast<double>(std::fabs(naive.lastLogits[i] - tiled.lastLogits[i])));
        EXPECT_LE(worstLogit, 1e-4) << "tile " << tile;
    }
}

TEST_P(TiledCapture, OverviewsEqualPoolingTheFullMap)
{
    const CaptureResult full = run(MapRegion::full(), 0);
    ASSERT_FALSE(full.maps.empty());
    for (PoolMode mode : {PoolMode::Max, PoolMode::Mean})
        for (int64_t size : {8, 13}) // blocks of 6 and 4 query/key cells; 41 is not a multiple of either
            for (int64_t tile : {0, 5}) { // tile 5 is aligned down/up to whole overview blocks
                const CaptureResult overview = run(MapRegion::overview(size, mode), tile);
                ASSERT_EQ(overview.maps.size(), full.maps.size());
                for (const AttentionMap& map : full.maps) {
                    const AttentionMap expected = poolMap(map, size, mode, isSignedMap(map.kind));
                    const AttentionMap* got = overview.find(map.layer, map.head, map.kind);
                    ASSERT_NE(got, nullptr);
                    const std::string what = toString(mode) + " " + std::to_string(size) + " tile "
                        + std::to_string(tile) + " L" + std::to_string(map.layer) + " H" + std::to_string(map.head)
                        + " " + toString(map.kind);
                    EXPECT_GT(got->rowBlock, 1) << what;
                    EXPECT_LE(worstDifference(*got, expected, what), 2e-5) << what;
                }
            }
}

TEST_P(TiledCapture, WindowsEqualSlicingTheFullMap)
{
    const CaptureResult full = run(MapRegion::full(), 0);
    // Inside the causal triangle, straddling the diagonal, and entirely above it (all masked).
    const int64_t windows[][4] = {{20, 41, 0, 20}, {10, 30, 5, 35}, {0, 10, 20, 41}};
    for (const auto& w : windows)
        for (int64_t tile : {0, 3}) {
            const CaptureResult window = run(MapRegion::window(w[0], w[1], w[2], w[3]), tile);
            ASSERT_EQ(window.maps.size(), full.maps.size());
            for (const AttentionMap& map : full.maps) {
                const AttentionMap* got = window.find(map.layer, map.head, map.kind);
                ASSERT_NE(got, nullptr);
                const std::string what = "window " + std::to_string(w[0]) + ":" + std::to_string(w[1]) + ","
                    + std::to_string(w[2]) + ":" + std::to_string(w[3]) + " tile " + std::to_string(tile) + " "
                    + toString(map.kind);
                EXPECT_LE(worstDifference(*got, slice(map, w[0], w[1], w[2], w[3]), what), 2e-5) << what;
            }
        }
}

INSTANTIATE_TEST_SUITE_P(EveryAttentionAndPosition, TiledCapture,
    ::testing::Combine(::testing::Values(AttentionKind::Softmax, AttentionKind::Diff),
        ::testing::Values(PositionKind::None, PositionKind::Rope, PositionKind::Cope, PositionKind::RopeCope)),
    [](const auto& info) { return attentionPositionName(std::get<0>(info.param), std::get<1>(info.param)); });

namespace {

std::unique_ptr<Model> longModel(const TempDir& dir, AttentionKind attention, int64_t layers, int64_t heads)
{
    ModelConfig c = smallConfig(attention, PositionKind::Rope);
    c.maxSeqLen = 20000;
    c.nLayers = layers;
    c.nHeads = c.nKvHeads = heads;
    c.dModel = heads * c.headDim * (attention == AttentionKind::Diff ? 2 : 1);
    auto model = Model::load(writeModel(dir, "long", c, 2), {});
    EXPECT_TRUE(model) << model.message();
    return model ? std::move(model.value()) : nullptr;
}

} // namespace

TEST(LongContext, FullMapsAreRefusedAboveTheThresholdWithAPointerToOverviews)
{
    TempDir dir;
    auto model = longModel(dir, AttentionKind::Softmax, 1, 2);
    ASSERT_TRUE(model);
    CaptureRequest r {std::vector<int64_t>(kMaxFullMapTokens + 1, 65), {{0, 0}}, {MapKind::A}};
    auto result = model->capture(r);
    ASSERT_FALSE(result);
    EXPECT_NE(result.message().find("overview"), std::string::npos) << result.message();
    EXPECT_NE(result.message().find("256.1 MiB"), std::string::npos) << result.message();
}

TEST(LongContext, BadRegionsAreRefusedSayingWhy)
{
    TempDir dir;
    auto model = longModel(dir, AttentionKind::Softmax, 1, 2);
    ASSERT_TRUE(model);
    CaptureRequest r {std::vector<int64_t>(30, 65), {{0, 0}}, {MapKind::A}};
    r.region = MapRegion::window(10, 40, 0, 5);
    auto result = model->capture(r);
    ASSERT_FALSE(result);
    EXPECT_NE(result.message().find("inside the 30 tokens"), std::string::npos) << result.message();
    r.region = MapRegion::window(5, 5, 0, 5);
    EXPECT_FALSE(model->capture(r));
    r.region = MapRegion::overview(0);
    result = model->capture(r);
    ASSERT_FALSE(result);
    EXPECT_NE(result.message().find("at least 1"), std::string::npos) << result.message();
}

TEST(LongContext, OverviewMemoryGrowsWithTheOverviewNotWithNSquared)
{
    TempDir dir;
    auto model = longModel(dir, AttentionKind::Diff, 2, 2);
    ASSERT_TRUE(model);
    CaptureRequest r {std::vector<int64_t>(16384, 65), {{0, 0}, {1, 1}}, {MapKind::A1, MapKind::A2, MapKind::D}};
    r.region = MapRegion::overview(256);
    auto small = model->estimateMemory(r);
    ASSERT_TRUE(small) << small.message();
    // 2 heads x 3 kinds x 256^2 floats, twice (device result and host copy) = 3 MiB, whatever N is.
    EXPECT_EQ(small->hostMapBytes, 2 * 2 * 3 * 256 * 256 * 4);
    EXPECT_EQ(small->deviceMapBytes, 2 * 3 * 256 * 256 * 4);
    EXPECT_LT(small->tileBytes, 512ll * 1024 * 1024) << "a tile stays within the CPU budget (+ kept copies)";
    r.tokens.resize(8192);
    auto half = model->estimateMemory(r);
    ASSERT_TRUE(half);
    EXPECT_EQ(half->hostMapBytes, small->hostMapBytes);
    EXPECT_NEAR(static_cast<double>(small->activationBytes) / static_cast<double>(half->activationBytes), 2.0, 0.01);
}

TEST(LongContext, CpuTilesStayCacheSizedAndShortPromptsAreOneTile)
{
    // CPU inference tiles hold about 8 MiB of scores (2-3x faster than tiles that stream through memory,
    // docs/performance.md), but never fewer than 8 rows; a short prompt is one tile.
    TempDir dir;
    auto model = longModel(dir, AttentionKind::Diff, 2, 2);
    ASSERT_TRUE(model);
    CaptureRequest r {std::vector<int64_t>(4096, 65), {}, {}};
    auto longPrompt = model->estimateMemory(r);
    ASSERT_TRUE(longPrompt) << longPrompt.message();
    EXPECT_GE(longPrompt->queryTile, 8);
    EXPECT_LE(longPrompt->tileBytes, 16ll * 1024 * 1024);
    r.tokens.resize(16384);
    auto veryLong = model->estimateMemory(r);
    ASSERT_TRUE(veryLong);
    EXPECT_EQ(veryLong->queryTile, 8) << "a row of 16K keys is over budget: the 8-row floor";
    r.tokens.resize(24);
    auto shortPrompt = model->estimateMemory(r);
    ASSERT_TRUE(shortPrompt);
    EXPECT_EQ(shortPrompt->queryTile, 24);
}

TEST(LongContext, ARequestThatCannotFitIsRefusedWithWhatWouldFit)
{
    TempDir dir;
    auto model = longModel(dir, AttentionKind::Diff, 8, 8);
    ASSERT_TRUE(model);
    // 64 heads x 7 kinds of 8192^2 full maps: 114 GiB of results, more than any CI machine has.
    CaptureRequest r {std::vector<int64_t>(8192, 65), {}, availableMapKinds(model->config(), true)};
    for (int64_t layer = 0; layer < 8; ++layer)
        for (int64_t head = 0; head < 8; ++head)
            r.heads.push_back({layer, head});
    auto result = model->capture(r);
    ASSERT_FALSE(result);
    const std::string& m = result.message();
    EXPECT_NE(m.find("this run needs about"), std::string::npos) << m;
    EXPECT_NE(m.find("What would fit"), std::string::npos) << m;
    EXPECT_NE(m.find("tokens"), std::string::npos) << m;
    EXPECT_NE(m.find("overview"), std::string::npos) << m;
    EXPECT_NE(m.find("heads per run"), std::string::npos) << m;
}
