// SPDX-License-Identifier: GPL-3.0-or-later
#include "request_checks.h"

#include <algorithm>
#include <limits>
#include <string>

namespace attn::server {

namespace {

constexpr int64_t kMaxInt64 = std::numeric_limits<int64_t>::max();

/// a * b for a, b >= 0, or INT64_MAX when it would not fit.
int64_t saturatingProduct(int64_t a, int64_t b)
{
    if (a == 0 || b == 0)
        return 0;
    return a > kMaxInt64 / b ? kMaxInt64 : a * b;
}

/// Length of [begin, end) ∩ [0, n]: numbers from a client may be anything, so nothing here subtracts before clipping.
int64_t clippedLength(int64_t begin, int64_t end, int64_t n)
{
    const int64_t b = std::clamp<int64_t>(begin, 0, n);
    const int64_t e = std::clamp<int64_t>(end, 0, n);
    return e > b ? e - b : 0;
}

std::string mib(int64_t bytes)
{
    return std::to_string(bytes / (1 << 20) + (bytes % (1 << 20) != 0 ? 1 : 0)) + " MiB";
}

} // namespace

int64_t cellsPerMap(const MapRegion& region, int64_t n)
{
    n = std::max<int64_t>(0, n);
    switch (region.mode) {
    case MapRegion::Mode::Full:
        return saturatingProduct(n, n);
    case MapRegion::Mode::Overview: {
        // Pooled to at most `size` cells a side, and never more cells than the map has.
        const int64_t side = std::clamp<int64_t>(region.overviewSize, 1, std::max<int64_t>(1, n));
        return saturatingProduct(std::min(side, n), std::min(side, n));
    }
    case MapRegion::Mode::Window:
        return saturatingProduct(
            clippedLength(region.rowBegin, region.rowEnd, n), clippedLength(region.colBegin, region.colEnd, n));
    }
    return saturatingProduct(n, n);
}

int64_t largestMapBytes(const AnalysisRequest& request, int64_t bytesPerValue)
{
    const int64_t n = static_cast<int64_t>(request.tokens.size());
    const bool anyMaps = !request.kinds.empty() && (!request.heads.empty() || !request.everyHeadOfLayers.empty());
    int64_t largest = anyMaps ? saturatingProduct(cellsPerMap(request.region, n), bytesPerValue) : 0;
    if (request.thumbnailSize > 0) {
        const int64_t side = std::min(n, request.thumbnailSize);
        largest = std::max(largest, saturatingProduct(saturatingProduct(side, side), bytesPerValue));
    }
    constexpr int64_t kAround = 4096; // the map's fields and the message around it
    return largest > kMaxInt64 - kAround ? kMaxInt64 : largest + kAround;
}

Status checkAnalyzeRequest(const AnalysisRequest& request, int64_t bytesPerValue, int64_t maxMessageBytes)
{
    const int64_t n = static_cast<int64_t>(request.tokens.size());
    if (request.thumbnailSize < 0)
        return Status::error(
            "thumbnail_size must be 0 (none) or a positive size, not " + std::to_string(request.thumbnailSize));
    if (request.queryTile < 0)
        return Status::error("query_tile must be 0 (from the memory budget) or a positive row count, not "
            + std::to_string(request.queryTile));
    const bool anyMaps = !request.kinds.empty() && (!request.heads.empty() || !request.everyHeadOfLayers.empty());
    if (anyMaps && request.region.mode == MapRegion::Mode::Full && n > kMaxFullMapTokens)
        return Status::error("full maps stop at " + std::to_string(kMaxFullMapTokens) + " tokens (this prompt has "
            + std::to_string(n) + "): ask for an overview or a window");
    const int64_t largest = largestMapBytes(request, bytesPerValue);
    if (largest > maxMessageBytes)
        return Status::error(StatusCode::OutOfMemory,
            "one map would take " + (largest == kMaxInt64 ? std::string("more than 8 EiB") : mib(largest))
                + ", above this server's message limit of " + mib(maxMessageBytes)
                + " (--max-message-mib): ask for an overview, a window or float16");
    return Status::ok();
}

} // namespace attn::server
