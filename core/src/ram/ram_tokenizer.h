// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "attnscope/tokenizer.h"

#include <map>
#include <string>
#include <vector>

namespace attn::detail {

/**
 * @brief The CoPE code's SimpleTokenizer over the vocabulary stored in its checkpoint (tokenizer.ind2word): strip,
 * lower-case, a space before ".", "," and "?", split on whitespace; no BOS. A word outside the vocabulary is an
 * error in encodeChecked (the code raises KeyError); encode() gives it id 0 (<pad>) so a live token count still works.
 */
class RamWordTokenizer final : public Tokenizer {
public:
    explicit RamWordTokenizer(std::vector<std::string> words);
    std::vector<int64_t> encode(const std::string& text) const override;
    Result<Encoding> encodeChecked(const std::string& text, bool addSpecialTokens = true) const override;
    std::string decode(const std::vector<int64_t>& ids) const override;
    std::string display(int64_t id) const override;
    int64_t vocabSize() const override { return static_cast<int64_t>(m_words.size()); }
    std::optional<int64_t> bosId() const override { return std::nullopt; }
    std::optional<int64_t> eosId() const override { return std::nullopt; }

    /// The words of a prompt and their byte spans, as SimpleTokenizer splits it.
    std::vector<std::pair<std::string, TokenSpan>> split(const std::string& text) const;

private:
    std::vector<std::string> m_words;
    std::map<std::string, int64_t> m_ids;
};

} // namespace attn::detail
