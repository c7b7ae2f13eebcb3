// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// tokenizer.json's added_tokens, split out of the text before (normalized: false) and after (normalized: true) the
// normalizer: leftmost-longest matches, honouring single_word, lstrip and rstrip.

#include "hf_tokenizer/components.h"

namespace attn::hf {

struct AddedToken {
    int64_t id = 0;
    std::string content;
    bool singleWord = false, lstrip = false, rstrip = false, normalized = true, special = false;
};

class AddedVocabulary {
public:
    /// normalizer (may be null) rewrites the content of normalized tokens into what they match after normalizing.
    Status build(std::vector<AddedToken> tokens, const Normalizer* normalizer);
    const std::vector<AddedToken>& tokens() const { return m_tokens; }
    /// Splits text into added-token pieces (tokens set) and the rest, for one of the two passes.
    std::vector<Piece> split(const NormalizedString& text, bool normalizedPass) const;

private:
    struct Matcher {
        // Patterns per first byte, longest first.
        std::vector<std::vector<std::pair<std::string, size_t>>> byFirstByte
            = std::vector<std::vector<std::pair<std::string, size_t>>>(256);
        bool empty = true;
    };
    std::vector<AddedToken> m_tokens;
    Matcher m_raw, m_normalized;
};

} // namespace attn::hf
