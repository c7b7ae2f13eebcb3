// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "attnscope/config.h"
#include "attnscope/status.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace attn {

/// The [begin, end) BYTE range of a token in the prompt; empty (0, 0) for tokens the tokenizer adds (BOS, ...).
struct TokenSpan {
    size_t begin = 0;
    size_t end = 0;
    bool operator==(const TokenSpan& other) const { return begin == other.begin && end == other.end; }
};

/// Token ids with the prompt bytes each one stands for.
struct Encoding {
    std::vector<int64_t> ids;
    std::vector<TokenSpan> spans;
};

/**
 * @brief Text <-> token ids, plus a display string per token for axis labels.
 *
 * Display strings make whitespace and control characters visible (space "␣", newline "⏎",
 * tab "⇥", other control bytes as "<0x07>"), so a heatmap axis never shows an empty label.
 */
class Tokenizer {
public:
    virtual ~Tokenizer() = default;
    virtual std::vector<int64_t> encode(const std::string& text) const = 0;
    /// encode() with spans; refuses text that is not valid UTF-8 (the message gives the byte offset).
    /// addSpecialTokens false leaves out what the tokenizer adds around the text (BOS, template tokens).
    virtual Result<Encoding> encodeChecked(const std::string& text, bool addSpecialTokens = true) const = 0;
    virtual std::string decode(const std::vector<int64_t>& ids) const = 0;
    virtual std::string display(int64_t id) const = 0;
    virtual int64_t vocabSize() const = 0;
    virtual std::optional<int64_t> bosId() const = 0;
    virtual std::optional<int64_t> eosId() const = 0;
    /// encode() for text that continues a sequence (an answer after its prompt): without the BOS that a tokenizer
    /// with add_bos puts in front of every text.
    std::vector<int64_t> encodeContinuation(const std::string& text) const;
};

/**
 * @brief UTF-8 bytes 0..255, then BOS = 256, EOS = 257, PAD = 258 (vocab size 259).
 * encode() prepends BOS when addBos is set; decode() drops the special tokens.
 */
class ByteTokenizer final : public Tokenizer {
public:
    static constexpr int64_t kBos = 256;
    static constexpr int64_t kEos = 257;
    static constexpr int64_t kPad = 258;
    static constexpr int64_t kVocabSize = 259;

    explicit ByteTokenizer(bool addBos = true);
    std::vector<int64_t> encode(const std::string& text) const override;
    Result<Encoding> encodeChecked(const std::string& text, bool addSpecialTokens = true) const override;
    std::string decode(const std::vector<int64_t>& ids) const override;
    std::string display(int64_t id) const override;
    int64_t vocabSize() const override { return kVocabSize; }
    std::optional<int64_t> bosId() const override { return kBos; }
    std::optional<int64_t> eosId() const override { return kEos; }

private:
    bool m_addBos;
};

/**
 * @brief Word-level tokenizer (the CoPE counting tokenizer): optional lower-casing, ".", "," and "?"
 * split off as their own tokens, then whitespace split; unknown words map to "<unk>".
 * The vocabulary must contain "<unk>"; "<bos>", "<eos>", "<pad>" are recognised when present.
 */
class WordTokenizer final : public Tokenizer {
public:
    static Result<std::unique_ptr<WordTokenizer>> fromVocab(
        std::vector<std::string> vocab, bool lowercase, bool addBos);
    /// One token per line; line number (0-based) = id. Empty lines and duplicates are errors.
    static Result<std::unique_ptr<WordTokenizer>> fromVocabFile(const std::string& path, bool lowercase, bool addBos);

    std::vector<int64_t> encode(const std::string& text) const override;
    Result<Encoding> encodeChecked(const std::string& text, bool addSpecialTokens = true) const override;
    std::string decode(const std::vector<int64_t>& ids) const override;
    std::string display(int64_t id) const override;
    int64_t vocabSize() const override;
    std::optional<int64_t> bosId() const override;
    std::optional<int64_t> eosId() const override;
    /// The word-splitting step alone (after lower-casing), exposed for tests and task generators.
    std::vector<std::string> split(const std::string& text) const;
    /// split() with the byte range of every word in text.
    std::vector<std::pair<std::string, TokenSpan>> splitWithSpans(const std::string& text) const;
    const std::vector<std::string>& vocab() const;

    ~WordTokenizer() override;

private:
    WordTokenizer();
    struct Impl;
    std::unique_ptr<Impl> m;
};

/** @brief Builds the tokenizer a config names; word vocab paths are relative to modelDir. */
Result<std::unique_ptr<Tokenizer>> makeTokenizer(const TokenizerConfig& config, const std::string& modelDir);

} // namespace attn
