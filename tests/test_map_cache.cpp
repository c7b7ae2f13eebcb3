// SPDX-License-Identifier: GPL-3.0-or-later
// MapCache: the maps a kept prompt computed last, by layer, head, kind and region, within a byte budget (least
// recently used leave first).
#include "engine/map_cache.h"

#include <gtest/gtest.h>

using namespace attn;
using namespace attn::engine;

namespace {

AttentionMap mapOf(int64_t layer, int64_t head, MapKind kind, int64_t side, float fill)
{
    AttentionMap map;
    map.layer = layer;
    map.head = head;
    map.kind = kind;
    map.rows = map.cols = side;
    map.values.assign(static_cast<size_t>(side * side), fill);
    return map;
}

TEST(MapCache, FindsAMapOnlyByItsLayerHeadKindAndRegion)
{
    MapCache cache;
    const MapRegion overview = MapRegion::overview(16, PoolMode::Max);
    cache.put(mapOf(2, 5, MapKind::A, 16, 0.25f), overview);
    const AttentionMap* kept = cache.find(2, 5, MapKind::A, overview);
    ASSERT_NE(kept, nullptr);
    EXPECT_EQ(kept->values, std::vector<float>(256, 0.25f));
    EXPECT_EQ(cache.find(2, 4, MapKind::A, overview), nullptr);
    EXPECT_EQ(cache.find(1, 5, MapKind::A, overview), nullptr);
    EXPECT_EQ(cache.find(2, 5, MapKind::S, overview), nullptr);
    EXPECT_EQ(cache.find(2, 5, MapKind::A, MapRegion::overview(32, PoolMode::Max)), nullptr);
    EXPECT_EQ(cache.find(2, 5, MapKind::A, MapRegion::overview(16, PoolMode::Mean)), nullptr);
    EXPECT_EQ(cache.find(2, 5, MapKind::A, MapRegion::full()), nullptr);
    EXPECT_TRUE(cache.hasAll(2, 5, {MapKind::A}, overview));
    EXPECT_FALSE(cache.hasAll(2, 5, {MapKind::A, MapKind::S}, overview)) << "one kind missing";
    EXPECT_FALSE(cache.hasAll(2, 5, {}, overview)) << "no kinds asked: nothing to serve";

    // Windows differ by their bounds; the same key replaces the old map.
    cache.put(mapOf(0, 0, MapKind::D, 4, 1.0f), MapRegion::window(0, 4, 0, 4));
    EXPECT_EQ(cache.find(0, 0, MapKind::D, MapRegion::window(0, 4, 1, 5)), nullptr);
    cache.put(mapOf(0, 0, MapKind::D, 4, 2.0f), MapRegion::window(0, 4, 0, 4));
    EXPECT_EQ(cache.size(), 2u);
    EXPECT_EQ(cache.find(0, 0, MapKind::D, MapRegion::window(0, 4, 0, 4))->values.front(), 2.0f);
}

TEST(MapCache, KeepsWithinItsBudgetDroppingTheLeastRecentlyUsed)
{
    const int64_t oneMap = 100 * 100 * 4;
    MapCache cache(3 * oneMap + 3 * 512); // three maps and their bookkeeping
    const MapRegion full = MapRegion::full();
    for (int64_t head = 0; head < 3; ++head)
        cache.put(mapOf(0, head, MapKind::A, 100, static_cast<float>(head)), full);
    ASSERT_EQ(cache.size(), 3u);
    ASSERT_NE(cache.find(0, 0, MapKind::A, full), nullptr); // head 0 is now the most recently used
    cache.put(mapOf(0, 3, MapKind::A, 100, 3.0f), full);
    EXPECT_LE(cache.bytes(), 3 * oneMap + 3 * 512);
    EXPECT_NE(cache.find(0, 0, MapKind::A, full), nullptr);
    EXPECT_EQ(cache.find(0, 1, MapKind::A, full), nullptr) << "head 1 was used least recently";
    EXPECT_NE(cache.find(0, 2, MapKind::A, full), nullptr);
    EXPECT_NE(cache.find(0, 3, MapKind::A, full), nullptr);

    cache.put(mapOf(0, 9, MapKind::A, 400, 9.0f), full); // larger than the whole budget: not kept, nothing evicted
    EXPECT_EQ(cache.find(0, 9, MapKind::A, full), nullptr);
    EXPECT_EQ(cache.size(), 3u);
    cache.clear();
    EXPECT_EQ(cache.size(), 0u);
    EXPECT_EQ(cache.bytes(), 0);
}

} // namespace
