// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "attnscope/analysis.h"

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <variant>

namespace attn::server {

struct ProgressEvent {
    uint64_t requestId = 0;
    int64_t layersDone = 0;
    int64_t layersTotal = 0;
};
struct FailedEvent {
    uint64_t requestId = 0;
    Status status = Status::ok();
};
using AnalysisEvent = std::variant<AnalysisStart, ProgressEvent, LayerResult, AnalysisSummary, FailedEvent>;

/**
 * @brief Hands one request's results from the engine's thread to the gRPC call's thread. Layer results wait for
 * room (at most `capacity` queued), so a slow client holds back the engine instead of piling maps up in memory;
 * everything else never waits. After abandon() nothing waits and nothing is kept.
 */
class EventQueue {
public:
    explicit EventQueue(size_t capacity = 2)
        : m_capacity(capacity)
    {
    }
    void push(AnalysisEvent event);
    /// The next event, or nothing after `timeout`.
    std::optional<AnalysisEvent> pop(std::chrono::milliseconds timeout);
    void abandon();

    /// An AnalysisSink whose calls push here (the queue must outlive the request: hold it in a shared_ptr).
    static AnalysisSink sinkFor(std::shared_ptr<EventQueue> queue);

private:
    std::mutex m_mutex;
    std::condition_variable m_changed;
    std::deque<AnalysisEvent> m_events;
    size_t m_capacity;
    bool m_abandoned = false;
};

} // namespace attn::server
