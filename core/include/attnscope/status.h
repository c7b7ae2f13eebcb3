// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace attn {

/**
 * @brief What kind of failure a Status reports, so that callers branch on the code and never on the message
 * (which is for a person, and may one day be translated).
 */
enum class StatusCode {
    Ok,
    Invalid, ///< the input (a file, a prompt, a request, an option) is malformed or does not fit the model
    Refused, ///< well-formed but not supported or not allowed (an unknown architecture, a path outside the allowed
             ///< folders)
    Cancelled, ///< stopped by a cancel or superseded by a newer request of the same stream
    OutOfMemory, ///< the host or device ran out of memory
    Io, ///< reading or writing a file or socket failed
    Internal, ///< a bug: something that should not happen
};

/** @brief "ok", "invalid", "refused", "cancelled", "out of memory", "i/o", "internal". */
const char* toString(StatusCode code);

/**
 * @brief Outcome of a core call: ok, or an error with a code and a message meant for a person.
 *
 * No exception crosses the core API (RenderDoc's ResultDetails style): every public
 * entry point catches and reports through Status / Result.
 */
class Status {
public:
    static Status ok() { return Status(); }
    /// An error whose kind is Invalid (most core errors are about malformed input).
    static Status error(std::string message) { return Status(StatusCode::Invalid, std::move(message)); }
    static Status error(StatusCode code, std::string message)
    {
        return Status(code == StatusCode::Ok ? StatusCode::Internal : code, std::move(message));
    }
    static Status cancelled(std::string message = "cancelled")
    {
        return Status(StatusCode::Cancelled, std::move(message));
    }

    bool isOk() const { return m_code == StatusCode::Ok; }
    explicit operator bool() const { return isOk(); }
    StatusCode code() const { return m_code; }
    bool isCancelled() const { return m_code == StatusCode::Cancelled; }
    const std::string& message() const { return m_message; }
    /// The same error with context in front of its message ("loading x: " + message), keeping the code.
    Status withContext(const std::string& context) const
    {
        return isOk() ? *this : Status(m_code, context + m_message);
    }

private:
    Status() = default;
    Status(StatusCode code, std::string message)
        : m_code(code)
        , m_message(std::move(message))
    {
    }
    StatusCode m_code = StatusCode::Ok;
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
            m_status
                = Status::error(StatusCode::Internal, "internal error: Result built from an ok Status without a value");
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
