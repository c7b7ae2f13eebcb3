// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// UTF-8 helpers of the tokenizer.json pipeline: every offset in it is a byte offset into a valid UTF-8 string.

#include <cstddef>
#include <optional>
#include <string>

namespace attn::hf {

/// The byte offset of the first invalid UTF-8 sequence (overlong forms, surrogates and code points above U+10FFFF
/// are invalid, as for Rust's str), or nothing when the text is valid.
std::optional<size_t> firstInvalidUtf8(const std::string& text);

/// The length in bytes of the UTF-8 sequence that starts with this lead byte (1 for anything that is not a lead).
size_t utf8Length(unsigned char lead);

/// Decodes the code point at byte offset pos of valid UTF-8 text and advances pos past it.
char32_t decodeUtf8(const std::string& text, size_t& pos);

void appendUtf8(std::string& out, char32_t cp);
std::string toUtf8(char32_t cp);

/// The text with every invalid sequence replaced by U+FFFD (for callers that cannot report an error).
std::string replaceInvalidUtf8(const std::string& text);

} // namespace attn::hf
