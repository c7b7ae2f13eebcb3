// SPDX-License-Identifier: GPL-3.0-or-later
#include "client_id.h"

#include <random>

namespace attn::remote {

std::string makeClientId()
{
    static constexpr char kHex[] = "0123456789abcdef";
    std::random_device device;
    std::string id;
    for (int i = 0; i < 32; ++i)
        id.push_back(kHex[device() % 16]);
    return id;
}

bool isValidClientId(std::string_view id)
{
    if (id.size() < kClientIdMinLength || id.size() > kClientIdMaxLength)
        return false;
    for (const char c : id) {
        const bool ok
            = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
        if (!ok)
            return false;
    }
    return true;
}

} // namespace attn::remote
