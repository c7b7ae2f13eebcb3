// SPDX-License-Identifier: GPL-3.0-or-later
// MapCollector overviews from query tiles that start anywhere (issue #14: collectors with different block sizes
// share one layer's tiles): a block that straddles tiles is combined from both, and the overview equals
// poolMap() of the full map (max exactly, mean to 1e-6), for signed and unsigned kinds, in any tile order.
#include "attnscope/pooling.h"
#include "engine/map_collector.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace attn;
using namespace attn::engine;

namespace {

/// [H, N, N] random maps; masked cells hold junk (the collector must ignore it). Logits get -inf at some
/// visible cells, as a sliding window leaves them.
at::Tensor randomMaps(int64_t heads, int64_t n, MapKind kind)
{
    at::Tensor maps = isSignedMap(kind) ? at::randn({heads, n, n}) : at::rand({heads, n, n});
    if (kind == MapKind::S)
        maps.masked_fill_(at::rand({heads, n, n}) < 0.2, -INFINITY);
    // Ties between a positive and a negative cell of equal magnitude: poolMap keeps the positive one.
    if (isSignedMap(kind) && n > 6) {
        maps[0][5][1] = -4.0f;
        maps[0][5][2] = 4.0f;
    }
    const at::Tensor future = at::ones({n, n}, at::kBool).triu(1);
    return maps.masked_fill(future, 123.0f);
}

/// The host's view of head h: NaN where masked, as a full-map capture returns it.
AttentionMap hostMap(const at::Tensor& maps, int64_t head, MapKind kind)
{
    const int64_t n = maps.size(-1);
    const at::Tensor future = at::ones({n, n}, at::kBool).triu(1);
    const at::Tensor m = maps.select(0, head).masked_fill(future, NAN).contiguous();
    AttentionMap out;
    out.kind = kind;
    out.rows = out.cols = n;
    out.values.assign(m.data_ptr<float>(), m.data_ptr<float>() + m.numel());
    return out;
}

void checkOverview(MapKind kind, PoolMode mode, int64_t n, int64_t size, int64_t tile, bool reverse)
{
    const std::vector<int64_t> heads {2, 0}; // a subset, out of order: rows of the result follow this list
    const at::Tensor maps = randomMaps(3, n, kind);
    MapCollector collector(MapRegion::overview(size, mode), n, heads, {kind}, at::Device(at::kCPU));
    EXPECT_EQ(collector.rowAlignment(), 1);
    std::vector<int64_t> starts;
    for (int64_t q0 = 0; q0 < n; q0 += tile)
        starts.push_back(q0);
    if (reverse)
        std::reverse(starts.begin(), starts.end());
    for (int64_t q0 : starts) {
        const int64_t q1 = std::min(n, q0 + tile);
        collector.add(kind, maps.narrow(1, q0, q1 - q0).narrow(2, 0, q1).unsqueeze(0), q0);
    }
    const at::Tensor result = collector.results().at(kind).contiguous();
    for (size_t row = 0; row < heads.size(); ++row) {
        const AttentionMap expected = poolMap(hostMap(maps, heads[row], kind), size, mode, isSignedMap(kind));
        const std::string what = toString(kind) + " " + toString(mode) + " N " + std::to_string(n) + " size "
            + std::to_string(size) + " tile " + std::to_string(tile) + (reverse ? " reversed" : "") + " head "
            + std::to_string(heads[row]);
        ASSERT_EQ(collector.rows(), expected.rows) << what;
        ASSERT_EQ(collector.cols(), expected.cols) << what;
        EXPECT_EQ(collector.rowBlock(), expected.rowBlock) << what;
        const at::Tensor got = result.select(0, static_cast<int64_t>(row));
        int mismatches = 0;
        for (int64_t r = 0; r < expected.rows; ++r)
            for (int64_t c = 0; c < expected.cols; ++c) {
                const float e = expected.at(r, c), g = got[r][c].item<float>();
                const bool ok = std::isnan(e) ? std::isnan(g)
                    : mode == PoolMode::Max   ? g == e
                                              : std::fabs(g - e) <= 1e-6 * std::max(1.0f, std::fabs(e));
                if (!ok && ++mismatches <= 3)
                    ADD_FAILURE() << what << " block (" << r << ", " << c << "): got " << g << ", expected " << e;
            }
    }
}

} // namespace

TEST(MapCollectorOverview, UnalignedTilesEqualPoolingTheFullMap)
{
    at::manual_seed(11);
    const int64_t n = 41; // prime: no block size or tile height divides it
    for (MapKind kind : {MapKind::A, MapKind::D, MapKind::S})
        for (PoolMode mode : {PoolMode::Max, PoolMode::Mean})
            for (int64_t size : {8, 13, 3}) // blocks of 6, 4 and 14 rows
                for (int64_t tile : {int64_t {1}, int64_t {5}, int64_t {33}, n})
                    checkOverview(kind, mode, n, size, tile, /*reverse=*/false);
}

TEST(MapCollectorOverview, TileOrderDoesNotMatter)
{
    at::manual_seed(12);
    for (MapKind kind : {MapKind::A, MapKind::D})
        for (PoolMode mode : {PoolMode::Max, PoolMode::Mean})
            checkOverview(kind, mode, 41, 8, 5, /*reverse=*/true);
}

TEST(MapCollectorOverview, CollectorsWithDifferentBlocksShareTiles)
{
    // One layer's tiles feed a fine overview of one head and coarse thumbnails of every head.
    at::manual_seed(13);
    const int64_t n = 50;
    const at::Tensor maps = randomMaps(3, n, MapKind::D);
    MapCollector fine(MapRegion::overview(20, PoolMode::Max), n, {1}, {MapKind::D}, at::Device(at::kCPU));
    MapCollector thumbs(MapRegion::overview(6, PoolMode::Mean), n, {0, 1, 2}, {MapKind::D}, at::Device(at::kCPU));
    ASSERT_NE(fine.rowBlock(), thumbs.rowBlock());
    for (int64_t q0 = 0; q0 < n; q0 += 7) {
        const int64_t q1 = std::min(n, q0 + 7);
        const at::Tensor tile = maps.narrow(1, q0, q1 - q0).narrow(2, 0, q1).unsqueeze(0);
        fine.add(MapKind::D, tile, q0);
        thumbs.add(MapKind::D, tile, q0);
    }
    const AttentionMap fineExpected = poolMap(hostMap(maps, 1, MapKind::D), 20, PoolMode::Max, true);
    const at::Tensor fineGot = fine.results().at(MapKind::D).select(0, 0).contiguous();
    EXPECT_TRUE(at::equal(fineGot.nan_to_num(-7.0f),
        at::tensor(fineExpected.values).view({fineExpected.rows, fineExpected.cols}).nan_to_num(-7.0f)));
    for (int64_t h = 0; h < 3; ++h) {
        const AttentionMap expected = poolMap(hostMap(maps, h, MapKind::D), 6, PoolMode::Mean, true);
        const at::Tensor got = thumbs.results().at(MapKind::D).select(0, h).contiguous();
        const at::Tensor want = at::tensor(expected.values).view({expected.rows, expected.cols});
        EXPECT_TRUE(at::allclose(got, want, 1e-6, 1e-6, /*equal_nan=*/true)) << "head " << h;
    }
}
