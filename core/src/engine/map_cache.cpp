// SPDX-License-Identifier: GPL-3.0-or-later
#include "engine/map_cache.h"

#include <algorithm>

namespace attn::engine {

bool sameRegion(const MapRegion& a, const MapRegion& b)
{
    if (a.mode != b.mode)
        return false;
    switch (a.mode) {
    case MapRegion::Mode::Full:
        return true;
    case MapRegion::Mode::Overview:
        return a.overviewSize == b.overviewSize && a.pool == b.pool;
    case MapRegion::Mode::Window:
        return a.rowBegin == b.rowBegin && a.rowEnd == b.rowEnd && a.colBegin == b.colBegin && a.colEnd == b.colEnd;
    }
    return false;
}

int64_t MapCache::sizeOf(const AttentionMap& map)
{
    return static_cast<int64_t>(map.values.size() * sizeof(float) + sizeof(Entry));
}

std::list<MapCache::Entry>::iterator MapCache::locate(
    int64_t layer, int64_t head, MapKind kind, const MapRegion& region)
{
    return std::find_if(m_entries.begin(), m_entries.end(), [&](const Entry& e) {
        return e.map.layer == layer && e.map.head == head && e.map.kind == kind && sameRegion(e.region, region);
    });
}

const AttentionMap* MapCache::find(int64_t layer, int64_t head, MapKind kind, const MapRegion& region)
{
    auto it = locate(layer, head, kind, region);
    if (it == m_entries.end())
        return nullptr;
    m_entries.splice(m_entries.begin(), m_entries, it);
    return &m_entries.front().map;
}

bool MapCache::hasAll(int64_t layer, int64_t head, const std::vector<MapKind>& kinds, const MapRegion& region)
{
    return !kinds.empty() && std::all_of(kinds.begin(), kinds.end(), [&](MapKind kind) {
        return locate(layer, head, kind, region) != m_entries.end();
    });
}

void MapCache::put(const AttentionMap& map, const MapRegion& region)
{
    auto old = locate(map.layer, map.head, map.kind, region);
    if (old != m_entries.end()) {
        m_bytes -= sizeOf(old->map);
        m_entries.erase(old);
    }
    const int64_t size = sizeOf(map);
    if (size > m_budget)
        return;
    while (m_bytes + size > m_budget && !m_entries.empty()) {
        m_bytes -= sizeOf(m_entries.back().map);
        m_entries.pop_back();
    }
    m_entries.push_front({region, map});
    m_bytes += size;
}

void MapCache::clear()
{
    m_entries.clear();
    m_bytes = 0;
}

} // namespace attn::engine
