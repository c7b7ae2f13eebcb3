// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace attn::server {

/**
 * @brief Checks a call's "authorization: Bearer TOKEN" value against the server's token in constant time: both
 * are hashed with SHA-256 and the digests compared with CRYPTO_memcmp, so neither the token's bytes nor its
 * length show in the time a refusal takes.
 */
class TokenCheck {
public:
    /// An empty token accepts every call (the server listens on loopback only then).
    explicit TokenCheck(const std::string& token);
    bool required() const { return m_required; }
    /// `header`: the call's authorization metadata value, as received (may be empty).
    bool accepts(const std::string& header) const;

private:
    bool m_required = false;
    std::array<uint8_t, 32> m_digest {};
};

} // namespace attn::server
