// SPDX-License-Identifier: GPL-3.0-or-later
#include "lease_table.h"

namespace attn::server {

LeaseTable::LeaseTable(std::chrono::seconds idleLimit, Clock clock)
    : m_idleLimit(idleLimit)
    , m_clock(std::move(clock))
{
}

void LeaseTable::touchLocked(const std::string& owner, std::chrono::steady_clock::time_point now)
{
    m_owners[owner].lastSeen = now;
}

void LeaseTable::touch(const std::string& owner)
{
    if (!enabled())
        return; // nothing expires: keep no record of who called
    const auto now = m_clock();
    const std::lock_guard<std::mutex> lock(m_mutex);
    touchLocked(owner, now);
}

void LeaseTable::callStarted(const std::string& owner)
{
    if (!enabled())
        return;
    const auto now = m_clock();
    const std::lock_guard<std::mutex> lock(m_mutex);
    touchLocked(owner, now);
    ++m_owners[owner].runningCalls;
}

void LeaseTable::callEnded(const std::string& owner)
{
    if (!enabled())
        return;
    const auto now = m_clock();
    const std::lock_guard<std::mutex> lock(m_mutex);
    // The idle time counts from the end of its last call, not from its start.
    touchLocked(owner, now);
    Owner& entry = m_owners[owner];
    if (entry.runningCalls > 0)
        --entry.runningCalls;
}

void LeaseTable::addModel(int modelId, const std::string& owner, const std::string& path)
{
    if (!enabled())
        return;
    const auto now = m_clock();
    const std::lock_guard<std::mutex> lock(m_mutex);
    touchLocked(owner, now);
    m_models[modelId] = Model {owner, path};
}

void LeaseTable::forget(int modelId)
{
    const std::lock_guard<std::mutex> lock(m_mutex);
    m_models.erase(modelId);
}

std::vector<LeaseTable::Expired> LeaseTable::expire()
{
    std::vector<Expired> out;
    if (!enabled())
        return out;
    const auto now = m_clock();
    const std::lock_guard<std::mutex> lock(m_mutex);
    auto idleFor
        = [&](const Owner& owner) { return std::chrono::duration_cast<std::chrono::seconds>(now - owner.lastSeen); };
    for (auto it = m_models.begin(); it != m_models.end();) {
        const auto owner = m_owners.find(it->second.owner);
        // addModel() records its owner and an owner that holds a model is never dropped: this is always found.
        const bool alive
            = owner != m_owners.end() && (owner->second.runningCalls > 0 || idleFor(owner->second) < m_idleLimit);
        if (alive) {
            ++it;
            continue;
        }
        Expired expired;
        expired.modelId = it->first;
        expired.owner = it->second.owner;
        expired.path = it->second.path;
        expired.idleSeconds = owner == m_owners.end() ? 0 : idleFor(owner->second).count();
        m_expired[expired.modelId] = expired;
        m_expiredOrder.push_back(expired.modelId);
        if (m_expiredOrder.size() > kRememberedExpiries) {
            m_expired.erase(m_expiredOrder.front());
            m_expiredOrder.pop_front();
        }
        out.push_back(std::move(expired));
        it = m_models.erase(it);
    }
    // Owners that hold no model and run no call are only worth their last-seen time until it is stale.
    for (auto it = m_owners.begin(); it != m_owners.end();) {
        bool holds = false;
        for (const auto& [id, model] : m_models)
            holds = holds || model.owner == it->first;
        if (!holds && it->second.runningCalls == 0 && idleFor(it->second) >= m_idleLimit)
            it = m_owners.erase(it);
        else
            ++it;
    }
    return out;
}

std::optional<LeaseTable::Expired> LeaseTable::expired(int modelId) const
{
    const std::lock_guard<std::mutex> lock(m_mutex);
    const auto it = m_expired.find(modelId);
    if (it == m_expired.end())
        return std::nullopt;
    return it->second;
}

} // namespace attn::server
