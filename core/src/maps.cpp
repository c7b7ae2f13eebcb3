// SPDX-License-Identifier: GPL-3.0-or-later
#include "attnscope/maps.h"

#include <algorithm>
#include <array>
#include <utility>

namespace attn {

namespace {
constexpr std::array<std::pair<MapKind, const char*>, 18> kNames = {{
    {MapKind::A, "A"},
    {MapKind::A1, "A1"},
    {MapKind::A2, "A2"},
    {MapKind::LA2, "LA2"},
    {MapKind::D, "D"},
    {MapKind::DN, "DN"},
    {MapKind::G, "G"},
    {MapKind::P, "P"},
    {MapKind::B, "B"},
    {MapKind::G1, "G1"},
    {MapKind::P1, "P1"},
    {MapKind::B1, "B1"},
    {MapKind::G2, "G2"},
    {MapKind::P2, "P2"},
    {MapKind::B2, "B2"},
    {MapKind::S, "S"},
    {MapKind::S1, "S1"},
    {MapKind::S2, "S2"},
}};
} // namespace

std::string toString(MapKind kind)
{
    for (const auto& [k, name] : kNames)
        if (k == kind)
            return name;
    return "?";
}

Result<MapKind> parseMapKind(const std::string& text)
{
    for (const auto& [k, name] : kNames)
        if (text == name)
            return k;
    std::string all;
    for (const auto& entry : kNames)
        all += (all.empty() ? "" : ", ") + std::string(entry.second);
    return Status::error("unknown map kind '" + text + "' (known: " + all + ")");
}

std::vector<MapKind> availableMapKinds(const ModelConfig& config, bool includeLogits)
{
    // push_back rather than insert({...}): GCC 12 reports a false -Wstringop-overflow for the latter at -O2.
    std::vector<MapKind> kinds;
    auto add = [&kinds](std::initializer_list<MapKind> more) {
        for (MapKind k : more)
            kinds.push_back(k);
    };
    if (config.isDiff()) {
        if (config.hasCope())
            add({MapKind::G1, MapKind::P1, MapKind::B1, MapKind::G2, MapKind::P2, MapKind::B2});
        add({MapKind::A1, MapKind::A2, MapKind::LA2, MapKind::D, MapKind::DN});
        if (includeLogits)
            add({MapKind::S1, MapKind::S2});
    } else {
        if (config.hasCope())
            add({MapKind::G, MapKind::P, MapKind::B});
        add({MapKind::A});
        if (includeLogits)
            add({MapKind::S});
    }
    return kinds;
}

bool isSignedMap(MapKind kind)
{
    switch (kind) {
    case MapKind::D:
    case MapKind::DN:
    case MapKind::B:
    case MapKind::B1:
    case MapKind::B2:
    case MapKind::S:
    case MapKind::S1:
    case MapKind::S2:
        return true;
    default:
        return false;
    }
}

const AttentionMap* CaptureResult::find(int64_t layer, int64_t head, MapKind kind) const
{
    for (const auto& map : maps)
        if (map.layer == layer && map.head == head && map.kind == kind)
            return &map;
    return nullptr;
}

std::string toString(PoolMode mode)
{
    return mode == PoolMode::Max ? "max" : "mean";
}

Result<PoolMode> parsePoolMode(const std::string& text)
{
    if (text == "max")
        return PoolMode::Max;
    if (text == "mean")
        return PoolMode::Mean;
    return Status::error("unknown pooling '" + text + "' (known: max, mean)");
}

MapRegion MapRegion::overview(int64_t size, PoolMode pool)
{
    MapRegion region;
    region.mode = Mode::Overview;
    // Any R >= N gives blocks of one token, so capping R changes nothing, but keeps ceil(N / R) = (N + R - 1) / R
    // from overflowing (--overview 9223372036854775807 divided by zero downstream).
    constexpr int64_t kMaxOverviewSize = int64_t(1) << 40; // far above any sequence; R + N fits in int64
    region.overviewSize = std::min<int64_t>(size, kMaxOverviewSize);
    region.pool = pool;
    return region;
}

MapRegion MapRegion::window(int64_t rowBegin, int64_t rowEnd, int64_t colBegin, int64_t colEnd)
{
    MapRegion region;
    region.mode = Mode::Window;
    region.rowBegin = rowBegin;
    region.rowEnd = rowEnd;
    region.colBegin = colBegin;
    region.colEnd = colEnd;
    return region;
}

} // namespace attn
