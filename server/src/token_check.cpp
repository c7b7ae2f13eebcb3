// SPDX-License-Identifier: GPL-3.0-or-later
#include "token_check.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

namespace attn::server {

namespace {

std::array<uint8_t, 32> digestOf(const std::string& text)
{
    std::array<uint8_t, 32> digest {};
    SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest.data());
    return digest;
}

} // namespace

TokenCheck::TokenCheck(const std::string& token)
    : m_required(!token.empty())
    , m_digest(digestOf(token))
{
}

bool TokenCheck::accepts(const std::string& header) const
{
    if (!m_required)
        return true;
    static const std::string scheme = "Bearer ";
    // The scheme is public; only the token's comparison must not depend on its bytes.
    const std::string given
        = header.compare(0, scheme.size(), scheme) == 0 ? header.substr(scheme.size()) : std::string();
    const std::array<uint8_t, 32> digest = digestOf(given);
    return CRYPTO_memcmp(digest.data(), m_digest.data(), digest.size()) == 0 && !given.empty();
}

} // namespace attn::server
