// SPDX-License-Identifier: GPL-3.0-or-later
// WordPiece: greedy longest match first per word; a word with an unmatched rest, or longer than
// max_input_chars_per_word characters, becomes one unk.
#include "hf_tokenizer/components.h"
#include "hf_tokenizer/utf8.h"
#include "json_limits.h"

namespace attn::hf {

namespace {

class WordPiece final : public Model {
public:
    std::unordered_map<std::string, int64_t> vocabMap;
    std::string unk = "[UNK]";
    std::string prefix = "##";
    size_t maxChars = 100;

    Result<std::vector<Token>> tokenize(const std::string& word) const override
    {
        size_t chars = 0;
        for (size_t pos = 0; pos < word.size(); pos += utf8Length(static_cast<unsigned char>(word[pos])))
            ++chars;
        auto unkIt = vocabMap.find(unk);
        if (unkIt == vocabMap.end())
            return Status::error("tokenizer.json: model.unk_token '" + unk + "' is not in model.vocab");
        const std::vector<Token> whole {{unkIt->second, unk, 0, word.size()}};
        if (chars > maxChars)
            return whole;
        std::vector<Token> tokens;
        size_t start = 0;
        while (start < word.size()) {
            size_t end = word.size();
            bool found = false;
            while (start < end) {
                const std::string candidate = (start > 0 ? prefix : std::string()) + word.substr(start, end - start);
                auto it = vocabMap.find(candidate);
                if (it != vocabMap.end()) {
                    tokens.push_back({it->second, candidate, start, end});
                    found = true;
                    break;
                }
                // Drop the last character of the candidate.
                size_t last = end - 1;
                while (last > start && (static_cast<unsigned char>(word[last]) & 0xC0) == 0x80)
                    --last;
                end = last;
            }
            if (!found)
                return whole;
            start = end;
        }
        return tokens;
    }
    const std::unordered_map<std::string, int64_t>& vocab() const override { return vocabMap; }
};

} // namespace

Result<std::unique_ptr<Model>> parseBpe(const nlohmann::json& node, const std::string& where);

Result<std::unique_ptr<Model>> parseModel(const nlohmann::json& node, const std::string& where)
{
    std::string type = typeOf(node, where);
    // Files written by old tokenizers versions have no "type" in the model; the fields tell.
    if (type.empty() && node.is_object())
        type = node.contains("merges") ? "BPE" : node.contains("continuing_subword_prefix") ? "WordPiece" : "";
    if (type == "BPE")
        return parseBpe(node, where);
    if (type != "WordPiece")
        return unsupportedType("model", type.empty() ? "(none)" : type, where);
    auto model = std::make_unique<WordPiece>();
    if (!node.contains("vocab") || !node["vocab"].is_object())
        return fieldError(where + ".vocab", "missing or not an object of token -> id");
    std::unordered_map<int64_t, std::string> seen;
    for (auto it = node["vocab"].begin(); it != node["vocab"].end(); ++it) {
        if (!it.value().is_number_integer())
            return fieldError(where + ".vocab",
                "id of '" + detail::textExcerpt(it.key()) + "' is not an integer: " + detail::jsonExcerpt(it.value()));
        const auto id = it.value().get<int64_t>();
        if (id < 0 || id > INT32_MAX)
            return fieldError(where + ".vocab", "id " + std::to_string(id) + " of '" + it.key() + "' is out of range");
        auto [previous, inserted] = seen.emplace(id, it.key());
        if (!inserted)
            return fieldError(where + ".vocab",
                "id " + std::to_string(id) + " is given to both '" + previous->second + "' and '" + it.key() + "'");
        model->vocabMap.emplace(it.key(), id);
    }
    if (node.contains("unk_token") && node["unk_token"].is_string())
        model->unk = node["unk_token"].get<std::string>();
    if (node.contains("continuing_subword_prefix") && node["continuing_subword_prefix"].is_string())
        model->prefix = node["continuing_subword_prefix"].get<std::string>();
    if (node.contains("max_input_chars_per_word") && node["max_input_chars_per_word"].is_number_unsigned())
        model->maxChars = node["max_input_chars_per_word"].get<size_t>();
    if (!model->vocabMap.count(model->unk))
        return fieldError(where + ".unk_token", "'" + model->unk + "' is not in model.vocab");
    return std::unique_ptr<Model>(std::move(model));
}

} // namespace attn::hf
