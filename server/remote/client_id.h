// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <string>
#include <string_view>

namespace attn::remote {

/// The metadata a RemoteClient sends on every call so the server knows it across reconnects (a new TCP connection,
/// a new peer address). Not a credential (the token is): it only keeps clients from tripping over each other.
inline constexpr const char* kClientIdMetadata = "attnscope-client-id";
inline constexpr size_t kClientIdMinLength = 8;
inline constexpr size_t kClientIdMaxLength = 64;

/// 32 random hex digits.
std::string makeClientId();
/// kClientIdMinLength..kClientIdMaxLength characters from [A-Za-z0-9_-].
bool isValidClientId(std::string_view id);

} // namespace attn::remote
