// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace attn::app {

/**
 * @brief One worker thread that runs queued tasks in order (plain C++, no Qt): a remote connection's network calls
 * block, so they run here and never on the UI thread. The destructor drops what has not started and joins the task
 * that runs (whoever owns the queue makes that task end soon, e.g. by cancelling its request).
 */
class SerialQueue {
public:
    SerialQueue();
    ~SerialQueue();
    SerialQueue(const SerialQueue&) = delete;
    SerialQueue& operator=(const SerialQueue&) = delete;

    void post(std::function<void()> task);

private:
    void loop();

    std::mutex m_mutex;
    std::condition_variable m_wake;
    std::deque<std::function<void()>> m_tasks;
    bool m_stopping = false;
    std::thread m_thread;
};

} // namespace attn::app
