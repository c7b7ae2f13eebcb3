// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace attn {

/**
 * @brief Outcome of a core call: ok, or an error with a message meant for a person.
 *
 * No exception crosses the core API (RenderDoc's ResultDetails style): every public
 * entry point catches and reports through Status / Result.
 */
class Status {
public:
    static Status ok() { return Status(); }
    static Status error(std::string message) { return Status(std::move(message)); }

    bool isOk() const { return !m_failed; }
    explicit operator bool() const { return isOk(); }
    const std::string& message() const { return m_message; }

private:
    Status() = default;
    explicit Status(std::string message)
        : m_failed(true)
        , m_message(std::move(message))
    {
    }
    bool m_failed = false;
    std::string m_message;
};

/** @brief A value or an error Status. */
template <typename T> class Result {
public:
    Result(T value)
        : m_value(std::move(value))
    {
    }
    Result(Status status)
        : m_status(std::move(status))
    {
        if (m_status.isOk())
            m_status = Status::error("internal error: Result built from an ok Status without a value");
    }

    bool isOk() const { return m_value.has_value(); }
    explicit operator bool() const { return isOk(); }
    const Status& status() const { return m_status; }
    const std::string& message() const { return m_status.message(); }

    T& value() & { return *m_value; }
    const T& value() const& { return *m_value; }
    T&& value() && { return std::move(*m_value); }
    T* operator->() { return &*m_value; }
    const T* operator->() const { return &*m_value; }
    T& operator*() & { return *m_value; }
    const T& operator*() const& { return *m_value; }

private:
    std::optional<T> m_value;
    Status m_status = Status::ok();
};

} // namespace attn
