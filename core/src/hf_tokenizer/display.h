// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Axis labels for tokenizer.json tokens: byte-level characters back to their bytes, ▁ and spaces as "␣", newline
// "⏎", tab "⇥", byte-fallback pieces and incomplete UTF-8 as <0xE2>.

#include <nlohmann/json.hpp>

#include <string>

namespace attn::hf {

class TokenDisplay {
public:
    /// Byte-level when a ByteLevel pre-tokenizer or decoder appears anywhere in the file.
    static TokenDisplay forTokenizer(const nlohmann::json& root);
    std::string show(const std::string& token) const;

private:
    bool m_byteLevel = false;
};

} // namespace attn::hf
