// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "attnscope/maps.h"

#include <cstdint>
#include <list>
#include <vector>

namespace attn::engine {

/**
 * @brief The last maps computed on a kept prompt, so that going back to a head (A, B, A), or to one computed ahead
 * of time (AnalysisRequest::prefetch), costs a copy instead of its score tiles. Keyed by layer, head, kind and
 * region; least recently used maps leave first once the byte budget is full. Valid for one prompt: the owner clears
 * it with the prompt state.
 */
class MapCache {
public:
    explicit MapCache(int64_t budgetBytes = kDefaultBudgetBytes)
        : m_budget(budgetBytes)
    {
    }

    /// 64 MiB: 36 overviews of 684 x 684 (a 2 K-token prompt), or 4 full maps of 2048 x 2048.
    static constexpr int64_t kDefaultBudgetBytes = int64_t(64) << 20;

    /// The map, marked as just used; nullptr if not kept.
    const AttentionMap* find(int64_t layer, int64_t head, MapKind kind, const MapRegion& region);
    /// Whether every kind of this head is kept.
    bool hasAll(int64_t layer, int64_t head, const std::vector<MapKind>& kinds, const MapRegion& region);
    /// Keeps a copy (replacing one with the same key); a map larger than the whole budget is not kept.
    void put(const AttentionMap& map, const MapRegion& region);
    void clear();
    int64_t bytes() const { return m_bytes; }
    size_t size() const { return m_entries.size(); }

private:
    struct Entry {
        MapRegion region;
        AttentionMap map;
    };
    std::list<Entry>::iterator locate(int64_t layer, int64_t head, MapKind kind, const MapRegion& region);
    static int64_t sizeOf(const AttentionMap& map);

    int64_t m_budget;
    int64_t m_bytes = 0;
    std::list<Entry> m_entries; ///< most recently used first
};

/// Whether two regions ask for the same cells (the fields a mode does not use are ignored).
bool sameRegion(const MapRegion& a, const MapRegion& b);

} // namespace attn::engine
