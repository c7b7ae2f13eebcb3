// SPDX-License-Identifier: GPL-3.0-or-later
// Post-processors: TemplateProcessing (single sequence), ByteLevel (offset trimming), Sequence.
#include "hf_tokenizer/components.h"
#include "hf_tokenizer/unicode.h"
#include "hf_tokenizer/utf8.h"
#include "json_limits.h"

namespace attn::hf {

namespace {

class Template final : public PostProcessor {
public:
    struct Item {
        bool isSequence;
        std::vector<int64_t> ids;
        std::vector<std::string> tokens;
    };
    std::vector<Item> single;

    void process(Encoded& encoding, bool addSpecialTokens) const override
    {
        if (!addSpecialTokens)
            return;
        Encoded out;
        for (const Item& item : single) {
            if (item.isSequence) {
                out.ids.insert(out.ids.end(), encoding.ids.begin(), encoding.ids.end());
                out.values.insert(out.values.end(), encoding.values.begin(), encoding.values.end());
                out.spans.insert(out.spans.end(), encoding.spans.begin(), encoding.spans.end());
                continue;
            }
            for (size_t i = 0; i < item.ids.size(); ++i) {
                out.ids.push_back(item.ids[i]);
                out.values.push_back(i < item.tokens.size() ? item.tokens[i] : std::string());
                out.spans.emplace_back(0, 0); // special tokens point at no prompt text
            }
        }
        encoding = std::move(out);
    }
};

// Leading/trailing spaces (Ġ or real whitespace) of a token are cut from its span, as tokenizers' ByteLevel
// process_offsets does.
class ByteLevelOffsets final : public PostProcessor {
public:
    bool trimOffsets = true;
    bool addPrefixSpace = true;

    void process(Encoded& encoding, bool) const override
    {
        if (!trimOffsets)
            return;
        for (size_t i = 0; i < encoding.ids.size(); ++i) {
            std::vector<char32_t> chars;
            for (size_t pos = 0; pos < encoding.values[i].size();)
                chars.push_back(decodeUtf8(encoding.values[i], pos));
            auto isSpace = [](char32_t c) { return c == 0x120 || isWhitespace(c); };
            size_t leading = 0;
            while (leading < chars.size() && isSpace(chars[leading]))
                ++leading;
            size_t trailing = 0;
            while (trailing < chars.size() && isSpace(chars[chars.size() - 1 - trailing]))
                ++trailing;
            // tokenizers trims here in CHARACTER offsets (what Python sees): a prefix space that stands for a
            // multi-byte character removes that whole character.
            Span& span = encoding.spans[i];
            const std::string& prompt = *encoding.prompt;
            if (leading > 0) {
                const bool isFirst = i == 0 || span.first == 0;
                if (isFirst && addPrefixSpace && leading == 1)
                    leading = 0;
                for (size_t n = 0; n < leading && span.first < span.second; ++n)
                    span.first += utf8Length(static_cast<unsigned char>(prompt[span.first]));
            }
            for (size_t n = 0; n < trailing && span.second > span.first; ++n) {
                --span.second;
                while (span.second > span.first && (static_cast<unsigned char>(prompt[span.second]) & 0xC0) == 0x80)
                    --span.second;
            }
        }
    }
};

class SequenceProcessor final : public PostProcessor {
public:
    std::vector<std::unique_ptr<PostProcessor>> parts;
    void process(Encoded& encoding, bool addSpecialTokens) const override
    {
        for (const auto& part : parts)
            part->process(encoding, addSpecialTokens);
    }
};

Result<std::unique_ptr<PostProcessor>> parseTemplate(const nlohmann::json& node, const std::string& where)
{
    auto processor = std::make_unique<Template>();
    if (!node.contains("single") || !node["single"].is_array())
        return fieldError(where + ".single", "missing or not a list");
    const nlohmann::json specials = node.value("special_tokens", nlohmann::json::object());
    for (size_t i = 0; i < node["single"].size(); ++i) {
        const nlohmann::json& item = node["single"][i];
        const std::string at = where + ".single[" + std::to_string(i) + "]";
        if (item.contains("Sequence")) {
            processor->single.push_back({true, {}, {}});
        } else if (item.contains("SpecialToken") && item["SpecialToken"].contains("id")) {
            const std::string name = item["SpecialToken"]["id"].get<std::string>();
            if (!specials.contains(name))
                return fieldError(at, "special token '" + name + "' is not in special_tokens");
            const nlohmann::json& entry = specials[name];
            Template::Item special {false, {}, {}};
            for (const auto& id : entry.value("ids", nlohmann::json::array())) {
                if (!id.is_number_integer() || id.get<int64_t>() < 0)
                    return fieldError(where + ".special_tokens." + name, "ids holds " + detail::jsonExcerpt(id));
                special.ids.push_back(id.get<int64_t>());
            }
            for (const auto& token : entry.value("tokens", nlohmann::json::array()))
                special.tokens.push_back(token.is_string() ? token.get<std::string>() : std::string());
            processor->single.push_back(std::move(special));
        } else {
            return fieldError(
                at, "expected {\"Sequence\": ...} or {\"SpecialToken\": ...}, got " + detail::jsonExcerpt(item));
        }
    }
    return std::unique_ptr<PostProcessor>(std::move(processor));
}

} // namespace

Result<std::unique_ptr<PostProcessor>> parsePostProcessor(const nlohmann::json& node, const std::string& where)
{
    const std::string type = typeOf(node, where);
    if (type == "TemplateProcessing")
        return parseTemplate(node, where);
    if (type == "ByteLevel") {
        auto processor = std::make_unique<ByteLevelOffsets>();
        processor->trimOffsets = node.value("trim_offsets", true);
        processor->addPrefixSpace = node.value("add_prefix_space", true);
        return std::unique_ptr<PostProcessor>(std::move(processor));
    }
    if (type == "Sequence") {
        if (!node.contains("processors") || !node["processors"].is_array())
            return fieldError(where, "Sequence has no \"processors\" list");
        auto sequence = std::make_unique<SequenceProcessor>();
        for (size_t i = 0; i < node["processors"].size(); ++i) {
            auto part = parsePostProcessor(node["processors"][i], where + ".processors[" + std::to_string(i) + "]");
            if (!part)
                return part.status();
            sequence->parts.push_back(std::move(part).value());
        }
        return std::unique_ptr<PostProcessor>(std::move(sequence));
    }
    return unsupportedType("post_processor", type.empty() ? "(none)" : type, where);
}

std::unique_ptr<PostProcessor> makeBosEosTemplate(
    std::optional<std::pair<std::string, int64_t>> bos, std::optional<std::pair<std::string, int64_t>> eos)
{
    auto processor = std::make_unique<Template>();
    if (bos)
        processor->single.push_back({false, {bos->second}, {bos->first}});
    processor->single.push_back({true, {}, {}});
    if (eos)
        processor->single.push_back({false, {eos->second}, {eos->first}});
    return processor;
}

} // namespace attn::hf
