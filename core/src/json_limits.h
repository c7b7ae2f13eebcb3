// SPDX-License-Identifier: GPL-3.0-or-later
// Reading JSON that comes from anywhere (config.json, safetensors headers, tokenizer.json, indexes, sidecars).
// Internal to attnscope_format.
#pragma once

#include "attnscope/status.h"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace attn::detail {

/// Deeper than any real model file (tokenizer.json nests about 8 levels) and shallow enough that everything
/// recursing over a parsed value (dump(), destructors, our own walkers) stays far from the stack's end.
constexpr std::size_t kMaxJsonDepth = 64;

// Size bounds checked before reading, generous next to real files (configs are kilobytes, a 256k-token
// tokenizer.json about 35 MB, the index of a 400B-parameter model about 100 KB).
constexpr uint64_t kMaxConfigBytes = uint64_t(16) << 20;
constexpr uint64_t kMaxIndexBytes = uint64_t(256) << 20;
constexpr uint64_t kMaxTokenizerBytes = uint64_t(1) << 30;

struct JsonLimits {
    std::size_t maxDepth = kMaxJsonDepth;
    /// nlohmann keeps the last of two equal keys silently; strict formats refuse them. tokenizer.json does not
    /// (the tokenizers library keeps the last one too).
    bool rejectDuplicateKeys = true;
};

/**
 * @brief Parses untrusted JSON text into `out`. A linear SAX pass first refuses nesting deeper than
 * limits.maxDepth (before anything recurses) and, if asked, a key given twice in one object (naming its path);
 * only then is the value built. The message (without a file prefix) quotes at most a short excerpt of the input.
 */
Status parseUntrustedJson(std::string_view text, const JsonLimits& limits, nlohmann::json& out);

/// At most maxChars of text for a message, with control and non-ASCII bytes escaped (\x00), "..." when cut.
std::string textExcerpt(std::string_view text, std::size_t maxChars = 40);
/// A parsed value's JSON text cut to at most maxChars, for messages ("[1, 2, ...").
std::string jsonExcerpt(const nlohmann::json& value, std::size_t maxChars = 40);

} // namespace attn::detail
