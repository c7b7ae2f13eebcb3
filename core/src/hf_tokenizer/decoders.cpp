// SPDX-License-Identifier: GPL-3.0-or-later
// Decoders (for decode() only): ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip, WordPiece, Sequence.
#include "hf_tokenizer/components.h"
#include "hf_tokenizer/pattern.h"
#include "hf_tokenizer/utf8.h"

namespace attn::hf {

namespace {

std::string replaceAll(std::string text, const std::string& from, const std::string& to)
{
    if (from.empty())
        return text;
    for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
        text.replace(at, from.size(), to);
    return text;
}

class ByteLevelDecoder final : public Decoder {
public:
    void decode(std::vector<std::string>& tokens) const override
    {
        std::string bytes;
        for (const std::string& token : tokens)
            for (size_t pos = 0; pos < token.size();) {
                const size_t begin = pos;
                const char32_t c = decodeUtf8(token, pos);
                if (auto b = charToByte(c))
                    bytes.push_back(static_cast<char>(*b));
                else
                    bytes.append(token, begin, pos - begin);
            }
        tokens = {replaceInvalidUtf8(bytes)};
    }
};

class MetaspaceDecoder final : public Decoder {
public:
    std::string replacement;
    bool stripFirst = true;
    void decode(std::vector<std::string>& tokens) const override
    {
        for (size_t i = 0; i < tokens.size(); ++i) {
            tokens[i] = replaceAll(tokens[i], replacement, " ");
            if (i == 0 && stripFirst && !tokens[i].empty() && tokens[i][0] == ' ')
                tokens[i].erase(0, 1);
        }
    }
};

class ReplaceDecoder final : public Decoder {
public:
    std::string from, to;
    void decode(std::vector<std::string>& tokens) const override
    {
        for (std::string& token : tokens)
            token = replaceAll(token, from, to);
    }
};

std::optional<unsigned char> fallbackByte(const std::string& token)
{
    if (token.size() != 6 || token.compare(0, 3, "<0x") != 0 || token[5] != '>')
        return std::nullopt;
    unsigned value = 0;
    for (size_t i = 3; i < 5; ++i) {
        const char c = token[i];
        value *= 16;
        if (c >= '0' && c <= '9')
            value += static_cast<unsigned>(c - '0');
        else if (c >= 'A' && c <= 'F')
            value += static_cast<unsigned>(c - 'A' + 10);
        else
            return std::nullopt;
    }
    return static_cast<unsigned char>(value);
}

class ByteFallbackDecoder final : public Decoder {
public:
    void decode(std::vector<std::string>& tokens) const override
    {
        std::vector<std::string> out;
        std::string pending;
        size_t pendingCount = 0;
        auto flush = [&] {
            if (pendingCount == 0)
                return;
            if (firstInvalidUtf8(pending))
                for (size_t i = 0; i < pendingCount; ++i)
                    out.push_back(toUtf8(0xFFFD));
            else
                out.push_back(pending);
            pending.clear();
            pendingCount = 0;
        };
        for (const std::string& token : tokens) {
            if (auto b = fallbackByte(token)) {
                pending.push_back(static_cast<char>(*b));
                ++pendingCount;
                continue;
            }
            flush();
            out.push_back(token);
        }
        flush();
        tokens = std::move(out);
    }
};

class FuseDecoder final : public Decoder {
public:
    void decode(std::vector<std::string>& tokens) const override
    {
        std::string joined;
        for (const std::string& token : tokens)
            joined += token;
        tokens = {joined};
    }
};

class StripDecoder final : public Decoder {
public:
    std::string content;
    size_t start = 0, stop = 0;
    void decode(std::vector<std::string>& tokens) const override
    {
        if (content.empty())
            return;
        for (std::string& token : tokens) {
            for (size_t i = 0; i < start && token.rfind(content, 0) == 0; ++i)
                token.erase(0, content.size());
            for (size_t i = 0; i < stop && token.size() >= content.size()
                 && token.compare(token.size() - content.size(), content.size(), content) == 0;
                 ++i)
                token.erase(token.size() - content.size());
        }
    }
};

class WordPieceDecoder final : public Decoder {
public:
    std::string prefix = "##";
    bool cleanup = true;
    void decode(std::vector<std::string>& tokens) const override
    {
        for (size_t i = 0; i < tokens.size(); ++i) {
            if (i > 0) {
                if (tokens[i].rfind(prefix, 0) == 0)
                    tokens[i].erase(0, prefix.size());
                else
                    tokens[i] = " " + tokens[i];
            }
            if (cleanup) {
                std::string& t = tokens[i];
                for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>> {{" .", "."},
                         {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"}, {" n't", "n't"}, {" 'm", "'m"},
                         {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}})
                    t = replaceAll(t, from, to);
            }
        }
    }
};

class SequenceDecoder final : public Decoder {
public:
    std::vector<std::unique_ptr<Decoder>> parts;
    void decode(std::vector<std::string>& tokens) const override
    {
        for (const auto& part : parts)
            part->decode(tokens);
    }
};

} // namespace

Result<std::unique_ptr<Decoder>> parseDecoder(const nlohmann::json& node, const std::string& where)
{
    const std::string type = typeOf(node, where);
    if (type == "ByteLevel")
        return std::unique_ptr<Decoder>(new ByteLevelDecoder());
    if (type == "Metaspace") {
        auto d = std::make_unique<MetaspaceDecoder>();
        d->replacement = node.value("replacement", std::string("\xE2\x96\x81"));
        d->stripFirst
            = node.value("prepend_scheme", std::string(node.value("add_prefix_space", true) ? "always" : "never"))
            != "never";
        return std::unique_ptr<Decoder>(std::move(d));
    }
    if (type == "Replace") {
        auto pattern = parsePattern(node.value("pattern", nlohmann::json()), where + ".pattern");
        if (!pattern)
            return pattern.status();
        if (pattern->regex)
            return fieldError(where + ".pattern", "a Regex pattern in the Replace decoder is not supported");
        auto d = std::make_unique<ReplaceDecoder>();
        d->from = pattern->literal;
        d->to = node.value("content", std::string());
        return std::unique_ptr<Decoder>(std::move(d));
    }
    if (type == "ByteFallback")
        return std::unique_ptr<Decoder>(new ByteFallbackDecoder());
    if (type == "Fuse")
        return std::unique_ptr<Decoder>(new FuseDecoder());
    if (type == "Strip") {
        auto d = std::make_unique<StripDecoder>();
        d->content = node.value("content", std::string(" "));
        d->start = node.value("start", size_t {0});
        d->stop = node.value("stop", size_t {0});
        return std::unique_ptr<Decoder>(std::move(d));
    }
    if (type == "WordPiece") {
        auto d = std::make_unique<WordPieceDecoder>();
        d->prefix = node.value("prefix", std::string("##"));
        d->cleanup = node.value("cleanup", true);
        return std::unique_ptr<Decoder>(std::move(d));
    }
    if (type == "Sequence") {
        if (!node.contains("decoders") || !node["decoders"].is_array())
            return fieldError(where, "Sequence has no \"decoders\" list");
        auto sequence = std::make_unique<SequenceDecoder>();
        for (size_t i = 0; i < node["decoders"].size(); ++i) {
            auto part = parseDecoder(node["decoders"][i], where + ".decoders[" + std::to_string(i) + "]");
            if (!part)
                return part.status();
            sequence->parts.push_back(std::move(part).value());
        }
        return std::unique_ptr<Decoder>(std::move(sequence));
    }
    return unsupportedType("decoder", type.empty() ? "(none)" : type, where);
}

} // namespace attn::hf
