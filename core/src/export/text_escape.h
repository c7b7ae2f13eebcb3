// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Exported text that may not be UTF-8 (prompt bytes, vocabulary entries, paths): a readable field plus, when
// needed, the exact bytes in base64 beside it (export.h describes the convention).

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace attn::exportfmt {

/// RFC 4648 base64 with padding.
std::string base64(const std::string& bytes);

bool isUtf8(const std::string& text);

/// The text with U+FFFD for every invalid UTF-8 sequence (valid text is returned unchanged).
std::string displayText(const std::string& bytes);

/// object[key] = displayText(bytes); and object[key + "_base64"] = base64(bytes) when bytes are not UTF-8.
void putText(nlohmann::ordered_json& object, const std::string& key, const std::string& bytes);

/// object[key] = the display strings; object[key + "_base64"] = per entry null or its bytes' base64, when any
/// entry is not UTF-8.
void putTextArray(nlohmann::ordered_json& object, const std::string& key, const std::vector<std::string>& texts);

} // namespace attn::exportfmt
