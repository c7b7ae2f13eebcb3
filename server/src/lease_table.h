// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace attn::server {

/**
 * @brief Who is still there: the server's leases on loaded models (--idle-unload). Every call from an owner (a
 * client id, or the peer for a client that sends none) renews its lease; a call still running (an Analyze, a Load)
 * keeps it alive however long it takes. expire() hands back the models of owners not seen for the idle limit, so a
 * client that crashed, was killed or lost its network does not hold GPU memory forever; those models are remembered
 * for a while, so the owner's next call can be told why its model is gone. Thread-safe; the clock is injectable so
 * the rules can be tested without waiting.
 */
class LeaseTable {
public:
    using Clock = std::function<std::chrono::steady_clock::time_point()>;

    /// idleLimit 0: leases never expire (expire() returns nothing).
    explicit LeaseTable(std::chrono::seconds idleLimit, Clock clock = &std::chrono::steady_clock::now);

    std::chrono::seconds idleLimit() const { return m_idleLimit; }
    bool enabled() const { return m_idleLimit.count() > 0; }

    /// A call from owner arrived: it is alive now.
    void touch(const std::string& owner);
    /// A call that may run for long began / ended; the owner counts as alive in between.
    void callStarted(const std::string& owner);
    void callEnded(const std::string& owner);

    /// A model owner opened; forget() when it is unloaded.
    void addModel(int modelId, const std::string& owner, const std::string& path);
    void forget(int modelId);

    /// A model unloaded because its owner was idle.
    struct Expired {
        int modelId = 0;
        std::string owner;
        std::string path;
        int64_t idleSeconds = 0; ///< how long the owner had not been seen
    };
    /// The models whose owners have been idle for at least the limit, now out of the table (the caller unloads
    /// them); also drops owners that hold nothing and are idle, so the table does not grow with every connection.
    std::vector<Expired> expire();
    /// A model expire() returned, among the most recent kRememberedExpiries.
    std::optional<Expired> expired(int modelId) const;

    /// RAII for callStarted / callEnded.
    class Call {
    public:
        Call(LeaseTable& table, std::string owner)
            : m_table(table)
            , m_owner(std::move(owner))
        {
            m_table.callStarted(m_owner);
        }
        ~Call() { m_table.callEnded(m_owner); }
        Call(const Call&) = delete;
        Call& operator=(const Call&) = delete;

    private:
        LeaseTable& m_table;
        std::string m_owner;
    };

    static constexpr size_t kRememberedExpiries = 1024;

private:
    struct Owner {
        std::chrono::steady_clock::time_point lastSeen;
        int runningCalls = 0;
    };
    struct Model {
        std::string owner;
        std::string path;
    };
    void touchLocked(const std::string& owner, std::chrono::steady_clock::time_point now);

    const std::chrono::seconds m_idleLimit;
    const Clock m_clock;
    mutable std::mutex m_mutex;
    std::map<std::string, Owner> m_owners;
    std::map<int, Model> m_models;
    std::map<int, Expired> m_expired;
    std::deque<int> m_expiredOrder; ///< oldest first, to bound m_expired
};

} // namespace attn::server
