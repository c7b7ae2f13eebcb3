// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Unicode facts the pipeline needs, from utf8proc: normalization forms (as per-character changes, so offsets follow),
// lower-casing, whitespace and word characters.

#include "hf_tokenizer/normalized_string.h"

#include <string>
#include <vector>

namespace attn::hf {

enum class NormalizationForm { NFC, NFD, NFKC, NFKD };

/// The normalized form of valid UTF-8 text as a transform() list. The text is cut before every character that
/// cannot combine with what precedes it; each run is normalized alone, its first output character takes the run's
/// first input character and the others follow in order (surplus outputs are insertions, missing ones removals).
std::vector<CharChange> normalizeChanges(const std::string& text, NormalizationForm form);

/// Full lower-case mapping per character (Rust's char::to_lowercase) as a transform() list.
std::vector<CharChange> lowercaseChanges(const std::string& text);

/// Rust's char::is_whitespace (the Unicode White_Space property).
bool isWhitespace(char32_t c);
/// A word character as the `regex` crate's \w sees it (letters, marks, decimal and letter numbers, connectors).
bool isWordChar(char32_t c);

} // namespace attn::hf
