// SPDX-License-Identifier: GPL-3.0-or-later
// The tokenizer.json tokenizer: loading (tokenizer.json + tokenizer_config.json), the encode pipeline, display.
#include "attnscope/hf_tokenizer.h"

#include "attnscope/fileio.h"
#include "hf_tokenizer/added_tokens.h"
#include "hf_tokenizer/components.h"
#include "hf_tokenizer/display.h"
#include "hf_tokenizer/utf8.h"
#include "json_limits.h"

#include <filesystem>

namespace attn {

namespace hf {

Status fieldError(const std::string& where, const std::string& message)
{
    return Status::error("tokenizer.json: " + where + ": " + message);
}

Status unsupportedType(const std::string& kind, const std::string& type, const std::string& where)
{
    std::string message = "tokenizer.json: " + kind + " type '" + type + "' is not supported";
    if (where != kind)
        message += " (at " + where + ")";
    return Status::error(message);
}

std::string typeOf(const nlohmann::json& node, const std::string&)
{
    if (node.is_object() && node.contains("type") && node["type"].is_string())
        return node["type"].get<std::string>();
    return {};
}

namespace {

class HfTokenizer final : public Tokenizer {
public:
    std::unique_ptr<Normalizer> normalizer;
    std::unique_ptr<PreTokenizer> preTokenizer;
    std::unique_ptr<Model> model;
    std::unique_ptr<PostProcessor> postProcessor;
    std::unique_ptr<Decoder> decoder;
    AddedVocabulary added;
    std::unordered_map<int64_t, std::string> idToToken;
    std::unordered_map<int64_t, bool> specialIds;
    int64_t size = 0;
    std::optional<int64_t> bos, eos;
    TokenDisplay displayRules;

    std::vector<int64_t> encode(const std::string& text) const override
    {
        auto encoding = encodeChecked(text);
        if (encoding)
            return encoding->ids;
        // encode() cannot report; invalid UTF-8 is encoded as U+FFFD, as a Python caller would have to.
        auto repaired = encodeChecked(replaceInvalidUtf8(text));
        return repaired ? repaired->ids : std::vector<int64_t> {};
    }

    Result<Encoding> encodeChecked(const std::string& text, bool addSpecialTokens = true) const override
    {
        if (auto bad = firstInvalidUtf8(text))
            return Status::error("prompt is not valid UTF-8 at byte " + std::to_string(*bad));
        std::vector<Piece> pieces = added.split(NormalizedString(text, 0, text.size()), false);

        std::vector<Piece> normalized;
        for (Piece& piece : pieces) {
            if (piece.tokens) {
                normalized.push_back(std::move(piece));
                continue;
            }
            if (normalizer)
                if (Status s = normalizer->normalize(piece.text); !s)
                    return s;
            for (Piece& part : added.split(piece.text, true))
                if (!part.text.empty())
                    normalized.push_back(std::move(part));
        }

        std::vector<Piece> split;
        for (Piece& piece : normalized) {
            if (piece.tokens || !preTokenizer) {
                split.push_back(std::move(piece));
                continue;
            }
            auto parts = preTokenizer->split(std::move(piece.text));
            if (!parts)
                return parts.status();
            for (NormalizedString& part : *parts)
                if (!part.empty())
                    split.push_back({std::move(part), std::nullopt});
        }

        Encoded encoded;
        encoded.prompt = &text;
        for (Piece& piece : split) {
            if (!piece.tokens) {
                auto tokens = model->tokenize(piece.text.get());
                if (!tokens)
                    return tokens.status();
                piece.tokens = std::move(tokens).value();
            }
            for (const Token& token : *piece.tokens) {
                encoded.ids.push_back(token.id);
                encoded.values.push_back(token.value);
                encoded.spans.push_back(piece.text.originalSpan(token.begin, token.end));
            }
        }
        if (postProcessor)
            postProcessor->process(encoded, addSpecialTokens);

        Encoding result;
        result.ids = std::move(encoded.ids);
        for (const Span& span : encoded.spans)
            result.spans.push_back({span.first, span.second});
        return result;
    }

    std::string decode(const std::vector<int64_t>& ids) const override
    {
        std::vector<std::string> tokens;
        for (int64_t id : ids) {
            auto it = idToToken.find(id);
            if (it == idToToken.end() || specialIds.count(id))
                continue;
            tokens.push_back(it->second);
        }
        if (!decoder) {
            std::string joined;
            for (size_t i = 0; i < tokens.size(); ++i)
                joined += (i ? " " : "") + tokens[i];
            return joined;
        }
        decoder->decode(tokens);
        std::string joined;
        for (const std::string& t : tokens)
            joined += t;
        return joined;
    }

    std::string display(int64_t id) const override
    {
        auto it = idToToken.find(id);
        if (it == idToToken.end())
            return "<id " + std::to_string(id) + "?>";
        if (specialIds.count(id))
            return it->second;
        return displayRules.show(it->second);
    }

    int64_t vocabSize() const override { return size; }
    std::optional<int64_t> bosId() const override { return bos; }
    std::optional<int64_t> eosId() const override { return eos; }
};

Status parseAddedTokens(const nlohmann::json& root, const Model& model, std::vector<AddedToken>& out)
{
    if (!root.contains("added_tokens") || root["added_tokens"].is_null())
        return Status::ok();
    if (!root["added_tokens"].is_array())
        return fieldError("added_tokens", "is not a list");
    for (size_t i = 0; i < root["added_tokens"].size(); ++i) {
        const nlohmann::json& node = root["added_tokens"][i];
        const std::string where = "added_tokens[" + std::to_string(i) + "]";
        if (!node.is_object() || !node.contains("id") || !node["id"].is_number_integer() || !node.contains("content")
            || !node["content"].is_string())
            return fieldError(where, "needs an integer \"id\" and a string \"content\"");
        AddedToken token;
        token.id = node["id"].get<int64_t>();
        token.content = node["content"].get<std::string>();
        token.singleWord = node.value("single_word", false);
        token.lstrip = node.value("lstrip", false);
        token.rstrip = node.value("rstrip", false);
        token.normalized = node.value("normalized", true);
        token.special = node.value("special", false);
        if (token.id < 0 || token.id > INT32_MAX)
            return fieldError(where, "id " + std::to_string(token.id) + " is out of range");
        if (auto inVocab = model.tokenToId(token.content); inVocab && *inVocab != token.id)
            return fieldError(where,
                "'" + token.content + "' has id " + std::to_string(token.id) + " but model.vocab gives it id "
                    + std::to_string(*inVocab));
        out.push_back(std::move(token));
    }
    return Status::ok();
}

// A tokenizer_config.json token entry: a string, or an AddedToken dict {"content": ...}; null means none.
std::optional<std::string> configToken(const nlohmann::json& config, const char* key)
{
    if (!config.contains(key))
        return std::nullopt;
    const nlohmann::json& node = config[key];
    if (node.is_string())
        return node.get<std::string>();
    if (node.is_object() && node.contains("content") && node["content"].is_string())
        return node["content"].get<std::string>();
    return std::nullopt;
}

bool isLlamaClass(const std::string& name)
{
    for (const char* llama : {"LlamaTokenizer", "LlamaTokenizerFast", "CodeLlamaTokenizer", "CodeLlamaTokenizerFast",
             "GemmaTokenizer", "GemmaTokenizerFast"})
        if (name == llama)
            return true;
    return false;
}

Result<std::unique_ptr<Tokenizer>> build(const nlohmann::json& root, const nlohmann::json& config)
{
    if (!root.is_object())
        return Status::error("tokenizer.json: the top level is not a JSON object");
    auto tok = std::make_unique<HfTokenizer>();
    if (!root.contains("model"))
        return Status::error("tokenizer.json: no \"model\"");
    auto model = parseModel(root["model"], "model");
    if (!model)
        return model.status();
    tok->model = std::move(model).value();
    auto parseOptional = [&](const char* key, auto parse, auto& slot) -> Status {
        if (!root.contains(key) || root[key].is_null())
            return Status::ok();
        auto parsed = parse(root[key], key);
        if (!parsed)
            return parsed.status();
        slot = std::move(parsed).value();
        return Status::ok();
    };
    if (Status s = parseOptional("normalizer", parseNormalizer, tok->normalizer); !s)
        return s;
    if (Status s = parseOptional("pre_tokenizer", parsePreTokenizer, tok->preTokenizer); !s)
        return s;
    if (Status s = parseOptional("post_processor", parsePostProcessor, tok->postProcessor); !s)
        return s;
    if (Status s = parseOptional("decoder", parseDecoder, tok->decoder); !s)
        return s;

    std::vector<AddedToken> addedTokens;
    if (Status s = parseAddedTokens(root, *tok->model, addedTokens); !s)
        return s;
    for (const auto& [token, id] : tok->model->vocab()) {
        tok->idToToken[id] = token;
        tok->size = std::max(tok->size, id + 1);
    }
    for (const AddedToken& token : addedTokens) {
        auto [it, inserted] = tok->idToToken.emplace(token.id, token.content);
        if (!inserted && it->second != token.content)
            return fieldError("added_tokens",
                "id " + std::to_string(token.id) + " is given to both '" + it->second + "' and '" + token.content
                    + "'");
        if (token.special)
            tok->specialIds[token.id] = true;
        tok->size = std::max(tok->size, token.id + 1);
    }
    if (Status s = tok->added.build(addedTokens, tok->normalizer.get()); !s)
        return s;

    auto idOf = [&](const std::string& token) -> std::optional<int64_t> {
        for (const AddedToken& t : addedTokens)
            if (t.content == token)
                return t.id;
        return tok->model->tokenToId(token);
    };
    const std::optional<std::string> bosToken = configToken(config, "bos_token");
    const std::optional<std::string> eosToken = configToken(config, "eos_token");
    if (bosToken) {
        tok->bos = idOf(*bosToken);
        if (!tok->bos)
            return Status::error("tokenizer_config.json: bos_token '" + *bosToken + "' is not in the vocabulary");
    }
    if (eosToken) {
        tok->eos = idOf(*eosToken);
        if (!tok->eos)
            return Status::error("tokenizer_config.json: eos_token '" + *eosToken + "' is not in the vocabulary");
    }
    // Llama-style classes rebuild the template from add_bos_token (default true) / add_eos_token (default false),
    // as transformers' LlamaTokenizerFast.update_post_processor does; other classes keep tokenizer.json's.
    if (isLlamaClass(config.value("tokenizer_class", std::string()))) {
        const bool addBos = config.value("add_bos_token", true) && bosToken;
        const bool addEos = config.value("add_eos_token", false) && eosToken;
        std::optional<std::pair<std::string, int64_t>> bos, eos;
        if (addBos)
            bos = std::make_pair(*bosToken, *tok->bos);
        if (addEos)
            eos = std::make_pair(*eosToken, *tok->eos);
        tok->postProcessor = makeBosEosTemplate(bos, eos);
    }
    tok->displayRules = TokenDisplay::forTokenizer(root);
    return std::unique_ptr<Tokenizer>(std::move(tok));
}

Result<nlohmann::json> parseText(const std::string& text, const std::string& name)
{
    nlohmann::json root;
    // Duplicate keys are kept (the last wins), as the tokenizers library reads them.
    detail::JsonLimits limits;
    limits.rejectDuplicateKeys = false;
    if (Status parsed = detail::parseUntrustedJson(text, limits, root); !parsed)
        return Status::error(name + ": " + parsed.message());
    return root;
}

Result<nlohmann::json> parseFile(const std::string& path, const std::string& name)
{
    auto text = readRegularFile(path, detail::kMaxTokenizerBytes);
    if (!text)
        return text.status();
    auto root = parseText(*text, name);
    if (!root)
        return Status::error(root.message() + " (" + path + ")");
    return root;
}

} // namespace

} // namespace hf

Result<std::unique_ptr<Tokenizer>> loadHfTokenizer(const std::string& dir)
{
    try {
        const std::string path = (std::filesystem::path(dir) / "tokenizer.json").string();
        std::error_code ec;
        if (!std::filesystem::exists(path, ec))
            return Status::error("tokenizer.json not found in " + dir);
        auto root = hf::parseFile(path, "tokenizer.json");
        if (!root)
            return root.status();
        nlohmann::json config = nlohmann::json::object();
        const std::string configPath = (std::filesystem::path(dir) / "tokenizer_config.json").string();
        if (std::filesystem::exists(configPath, ec)) {
            auto parsed = hf::parseFile(configPath, "tokenizer_config.json");
            if (!parsed)
                return parsed.status();
            if (!parsed->is_object())
                return Status::error("tokenizer_config.json: the top level is not a JSON object");
            config = std::move(parsed).value();
        }
        auto tok = hf::build(*root, config);
        if (!tok)
            return Status::error(tok.message() + " (" + dir + ")");
        return tok;
    } catch (const std::exception& e) {
        return Status::error("tokenizer.json (" + dir + "): " + e.what());
    }
}

Result<std::unique_ptr<Tokenizer>> parseHfTokenizer(const std::string& tokenizerJson, const std::string& configJson)
{
    try {
        auto root = hf::parseText(tokenizerJson, "tokenizer.json");
        if (!root)
            return root.status();
        nlohmann::json config = nlohmann::json::object();
        if (!configJson.empty()) {
            auto parsed = hf::parseText(configJson, "tokenizer_config.json");
            if (!parsed)
                return parsed.status();
            if (!parsed->is_object())
                return Status::error("tokenizer_config.json: the top level is not a JSON object");
            config = std::move(parsed).value();
        }
        return hf::build(*root, config);
    } catch (const std::exception& e) {
        return Status::error(std::string("tokenizer.json: ") + e.what());
    }
}

} // namespace attn
