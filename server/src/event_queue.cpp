// SPDX-License-Identifier: GPL-3.0-or-later
#include "event_queue.h"

namespace attn::server {

void EventQueue::push(AnalysisEvent event)
{
    std::unique_lock<std::mutex> lock(m_mutex);
    if (std::holds_alternative<LayerResult>(event))
        m_changed.wait(lock, [this] { return m_abandoned || m_events.size() < m_capacity; });
    if (m_abandoned)
        return;
    m_events.push_back(std::move(event));
    lock.unlock();
    m_changed.notify_all();
}

std::optional<AnalysisEvent> EventQueue::pop(std::chrono::milliseconds timeout)
{
    std::unique_lock<std::mutex> lock(m_mutex);
    if (!m_changed.wait_for(lock, timeout, [this] { return !m_events.empty(); }))
        return std::nullopt;
    AnalysisEvent event = std::move(m_events.front());
    m_events.pop_front();
    lock.unlock();
    m_changed.notify_all();
    return event;
}

void EventQueue::abandon()
{
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_abandoned = true;
        m_events.clear();
    }
    m_changed.notify_all();
}

AnalysisSink EventQueue::sinkFor(std::shared_ptr<EventQueue> queue)
{
    AnalysisSink sink;
    sink.started = [queue](AnalysisStart start) { queue->push(std::move(start)); };
    sink.progress = [queue](uint64_t id, int64_t done, int64_t total) { queue->push(ProgressEvent {id, done, total}); };
    sink.layer = [queue](LayerResult layer) { queue->push(std::move(layer)); };
    sink.finished = [queue](AnalysisSummary summary) { queue->push(std::move(summary)); };
    sink.failed = [queue](uint64_t id, Status status) { queue->push(FailedEvent {id, std::move(status)}); };
    return sink;
}

} // namespace attn::server
