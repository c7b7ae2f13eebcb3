// SPDX-License-Identifier: GPL-3.0-or-later
#include "engine/prompt_state.h"

#include <algorithm>

namespace attn::engine {

bool sameSpan(const SpanSpec& a, const SpanSpec& b)
{
    if (!a.active() && !b.active())
        return true;
    return a.begin == b.begin && a.end == b.end && a.noiseEnd == b.noiseEnd && a.queryRows == b.queryRows;
}

bool PromptState::statsCover(const AnalysisRequest& request, int64_t nLayers) const
{
    if (tokens.empty() || static_cast<int64_t>(stats.size()) != nLayers)
        return false;
    if (request.metrics && !(statsHaveMetrics && sameSpan(request.span, statsSpan)))
        return false;
    return request.thumbnailSize <= 0 || request.thumbnailSize == statsThumbnailSize;
}

int64_t checkpointStride(int64_t layers, int64_t bytesPerInput, int64_t budgetBytes)
{
    if (layers <= 0 || bytesPerInput <= 0)
        return 1;
    const int64_t fit = std::max<int64_t>(1, budgetBytes / bytesPerInput);
    return std::max<int64_t>(1, (layers + fit - 1) / fit);
}

} // namespace attn::engine
