// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The stages of the tokenizer.json pipeline (tokenizers' Tokenizer::encode): normalizer, pre-tokenizer, model,
// post-processor, decoder; each parsed from its JSON object, unknown types refused by name.

#include "attnscope/status.h"
#include "hf_tokenizer/normalized_string.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace attn::hf {

/// A token of one piece: id, its string and the normalized byte range [begin, end) in the piece.
struct Token {
    int64_t id;
    std::string value;
    size_t begin;
    size_t end;
};

/// A piece of the prompt on its way through the pipeline; once tokenized (an added token, or after the model)
/// later stages leave it alone.
struct Piece {
    NormalizedString text;
    std::optional<std::vector<Token>> tokens;
};

/// The encoding as the post-processors see it: spans are prompt byte ranges.
struct Encoded {
    const std::string* prompt = nullptr; // spans index into it
    std::vector<int64_t> ids;
    std::vector<std::string> values;
    std::vector<Span> spans;
};

class Normalizer {
public:
    virtual ~Normalizer() = default;
    virtual Status normalize(NormalizedString& text) const = 0;
};

class PreTokenizer {
public:
    virtual ~PreTokenizer() = default;
    /// Splits one not yet tokenized piece; empty results are dropped by the caller.
    virtual Result<std::vector<NormalizedString>> split(NormalizedString text) const = 0;
};

class Model {
public:
    virtual ~Model() = default;
    virtual Result<std::vector<Token>> tokenize(const std::string& piece) const = 0;
    /// The id of a token in vocab(), if there.
    std::optional<int64_t> tokenToId(const std::string& token) const
    {
        const auto& ids = vocab();
        auto it = ids.find(token);
        return it == ids.end() ? std::nullopt : std::optional<int64_t>(it->second);
    }
    /// Every (token, id) of the model's vocabulary.
    virtual const std::unordered_map<std::string, int64_t>& vocab() const = 0;
};

class PostProcessor {
public:
    virtual ~PostProcessor() = default;
    virtual void process(Encoded& encoding, bool addSpecialTokens) const = 0;
};

class Decoder {
public:
    virtual ~Decoder() = default;
    /// Rewrites the token strings; decode() joins what is left.
    virtual void decode(std::vector<std::string>& tokens) const = 0;
};

/// "tokenizer.json: <where>: <message>" style errors; `where` names the JSON path ("normalizer.normalizers[1]").
Status fieldError(const std::string& where, const std::string& message);
/// "tokenizer.json: <kind> type 'Foo' is not supported" (plus where, when nested).
Status unsupportedType(const std::string& kind, const std::string& type, const std::string& where);
std::string typeOf(const nlohmann::json& node, const std::string& where);

Result<std::unique_ptr<Normalizer>> parseNormalizer(const nlohmann::json& node, const std::string& where);
Result<std::unique_ptr<PreTokenizer>> parsePreTokenizer(const nlohmann::json& node, const std::string& where);
Result<std::unique_ptr<Model>> parseModel(const nlohmann::json& node, const std::string& where);
/// Template ids are checked against idValid.
Result<std::unique_ptr<PostProcessor>> parsePostProcessor(const nlohmann::json& node, const std::string& where);
Result<std::unique_ptr<Decoder>> parseDecoder(const nlohmann::json& node, const std::string& where);

/// A TemplateProcessing that puts these (token, id) pairs around $A (the add_bos_token/add_eos_token rebuild).
std::unique_ptr<PostProcessor> makeBosEosTemplate(
    std::optional<std::pair<std::string, int64_t>> bos, std::optional<std::pair<std::string, int64_t>> eos);

/// GPT-2's bytes_to_unicode: the printable character that stands for each byte in byte-level vocabularies.
char32_t byteToChar(unsigned char byte);
/// The inverse; nothing for a character that stands for no byte.
std::optional<unsigned char> charToByte(char32_t c);

} // namespace attn::hf
