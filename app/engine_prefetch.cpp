// SPDX-License-Identifier: GPL-3.0-or-later
// Computing ahead: once a run's maps are on screen, the engine computes the maps the navigation keys lead to next
// (the next and previous head, the same head one layer down and up) into its kept prompt state, so that stepping
// through heads costs a copy. A prefetch runs at idle priority: any other request cancels it (AnalysisEngine).
#include "engine.h"

namespace attn::app {

namespace {

/// Where Next/Previous Head and Next/Previous Layer lead from `shown`, in that order (the spin boxes do not wrap).
std::vector<HeadRef> neighbours(const HeadRef& shown, const ModelConfig& config)
{
    std::vector<HeadRef> out;
    for (const HeadRef& ref : {HeadRef {shown.layer, shown.head + 1}, HeadRef {shown.layer, shown.head - 1},
             HeadRef {shown.layer + 1, shown.head}, HeadRef {shown.layer - 1, shown.head}})
        if (ref.layer >= 0 && ref.layer < config.nLayers && ref.head >= 0 && ref.head < config.nHeads)
            out.push_back(ref);
    return out;
}

} // namespace

void Engine::dropPlannedPrefetch()
{
    m_prefetchTimer.stop();
    m_plannedPrefetch.reset();
}

void Engine::planPrefetch(const AnalysisRequest& shown)
{
    dropPlannedPrefetch();
    const auto config = m_configs.find(shown.modelId);
    // In this process only (a server keeps its own state), for a run that showed one head of a known model.
    if (m_remoteModels.count(shown.modelId) || config == m_configs.end() || shown.heads.size() != 1
        || shown.kinds.empty() || shown.tokens.empty())
        return;
    AnalysisRequest ahead;
    ahead.stream = "prefetch";
    ahead.prefetch = true;
    ahead.modelId = shown.modelId;
    ahead.tokens = shown.tokens;
    ahead.kinds = shown.kinds;
    ahead.region = shown.region;
    ahead.heads = neighbours(shown.heads.front(), config->second);
    if (ahead.heads.empty())
        return;
    m_plannedPrefetch = std::move(ahead);
    m_prefetchTimer.start();
}

void Engine::startPlannedPrefetch()
{
    if (!m_plannedPrefetch)
        return;
    AnalysisRequest ahead = std::move(*m_plannedPrefetch);
    m_plannedPrefetch.reset();
    m_core->submit(std::move(ahead), AnalysisSink()); // its only outcome is the engine's kept state
}

void Engine::initPrefetch()
{
    // After the shown maps have painted: started at once, the prefetch would take the cores from that paint.
    m_prefetchTimer.setSingleShot(true);
    m_prefetchTimer.setInterval(kPrefetchDelayMs);
    connect(&m_prefetchTimer, &QTimer::timeout, this, &Engine::startPlannedPrefetch);
}

} // namespace attn::app
