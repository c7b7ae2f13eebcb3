// SPDX-License-Identifier: GPL-3.0-or-later
// Pre-tokenizers: ByteLevel, Split, Metaspace, Digits, Whitespace, WhitespaceSplit, Punctuation, Sequence.
#include "hf_tokenizer/components.h"
#include "hf_tokenizer/pattern.h"
#include "hf_tokenizer/unicode.h"
#include "hf_tokenizer/utf8.h"
#include "json_limits.h"

#include <utf8proc.h>

#include <functional>

namespace attn::hf {

namespace {

// GPT-2's split, as tokenizers' ByteLevel pre-tokenizer uses it with use_regex.
const char* const kGpt2Regex = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

std::vector<Segment> charSegments(const std::string& text, const std::function<bool(char32_t)>& isMatch)
{
    std::vector<std::pair<size_t, size_t>> matches;
    for (size_t pos = 0; pos < text.size();) {
        const size_t begin = pos;
        if (isMatch(decodeUtf8(text, pos)))
            matches.emplace_back(begin, pos);
    }
    return segmentsFromMatches(text, matches);
}

Result<SplitBehavior> parseBehavior(const nlohmann::json& node, const std::string& where)
{
    const std::string name = node.is_string() ? node.get<std::string>() : std::string();
    if (name == "Removed")
        return SplitBehavior::Removed;
    if (name == "Isolated")
        return SplitBehavior::Isolated;
    if (name == "MergedWithPrevious")
        return SplitBehavior::MergedWithPrevious;
    if (name == "MergedWithNext")
        return SplitBehavior::MergedWithNext;
    if (name == "Contiguous")
        return SplitBehavior::Contiguous;
    return fieldError(where,
        "behavior " + detail::jsonExcerpt(node)
            + " is not one of Removed, Isolated, MergedWithPrevious, "
              "MergedWithNext, Contiguous");
}

class ByteLevel final : public PreTokenizer {
public:
    ByteLevel(bool addPrefixSpace, std::shared_ptr<OnigRegex> regex)
        : m_addPrefixSpace(addPrefixSpace)
        , m_regex(std::move(regex))
    {
    }
    Result<std::vector<NormalizedString>> split(NormalizedString text) const override
    {
        if (m_addPrefixSpace && text.get().rfind(' ', 0) != 0)
            text.prepend(" ");
        std::vector<NormalizedString> pieces;
        if (m_regex)
            pieces = text.split(segmentsFromMatches(text.get(), m_regex->findAll(text.get())), SplitBehavior::Isolated);
        else
            pieces.push_back(std::move(text));
        for (NormalizedString& piece : pieces) {
            // Every byte becomes its printable stand-in; the bytes after a character's first are insertions, so
            // all of them keep the whole character's prompt range.
            std::vector<CharChange> dest;
            dest.reserve(piece.get().size());
            for (size_t pos = 0; pos < piece.get().size();) {
                const size_t length = utf8Length(static_cast<unsigned char>(piece.get()[pos]));
                for (size_t i = 0; i < length; ++i)
                    dest.push_back({byteToChar(static_cast<unsigned char>(piece.get()[pos + i])), i > 0 ? 1 : 0});
                pos += length;
            }
            piece.transform(dest, 0);
        }
        return pieces;
    }

private:
    bool m_addPrefixSpace;
    std::shared_ptr<OnigRegex> m_regex;
};

class Split final : public PreTokenizer {
public:
    Split(Pattern pattern, SplitBehavior behavior, bool invert)
        : m_pattern(std::move(pattern))
        , m_behavior(behavior)
        , m_invert(invert)
    {
    }
    Result<std::vector<NormalizedString>> split(NormalizedString text) const override
    {
        // A String pattern is a literal; tokenizers escapes it into a regex, which finds the same matches.
        std::vector<Segment> segments = m_pattern.find(text.get());
        if (m_invert)
            invertSegments(segments);
        return text.split(segments, m_behavior);
    }

private:
    Pattern m_pattern;
    SplitBehavior m_behavior;
    bool m_invert;
};

enum class PrependScheme { Always, First, Never };

class Metaspace final : public PreTokenizer {
public:
    Metaspace(std::string replacement, PrependScheme scheme, bool splitOnReplacement)
        : m_replacement(std::move(replacement))
        , m_scheme(scheme)
        , m_split(splitOnReplacement)
    {
    }
    Result<std::vector<NormalizedString>> split(NormalizedString text) const override
    {
        text.replace(literalSegments(text.get(), " "), m_replacement);
        const bool startsWithReplacement = text.get().rfind(m_replacement, 0) == 0;
        if (m_scheme == PrependScheme::Always && !startsWithReplacement)
            text.prepend(m_replacement);
        else if (m_scheme == PrependScheme::First && !startsWithReplacement && text.original().first == 0)
            text.prepend(m_replacement);
        if (!m_split)
            return std::vector<NormalizedString> {std::move(text)};
        return text.split(literalSegments(text.get(), m_replacement), SplitBehavior::MergedWithNext);
    }

private:
    std::string m_replacement;
    PrependScheme m_scheme;
    bool m_split;
};

class CharSplit final : public PreTokenizer {
public:
    CharSplit(std::function<bool(char32_t)> isMatch, SplitBehavior behavior)
        : m_isMatch(std::move(isMatch))
        , m_behavior(behavior)
    {
    }
    Result<std::vector<NormalizedString>> split(NormalizedString text) const override
    {
        return text.split(charSegments(text.get(), m_isMatch), m_behavior);
    }

private:
    std::function<bool(char32_t)> m_isMatch;
    SplitBehavior m_behavior;
};

// Whitespace: the words and punctuation runs of \w+|[^\w\s]+ are kept, the rest removed.
class Whitespace final : public PreTokenizer {
public:
    explicit Whitespace(std::shared_ptr<OnigRegex> regex)
        : m_regex(std::move(regex))
    {
    }
    Result<std::vector<NormalizedString>> split(NormalizedString text) const override
    {
        std::vector<Segment> segments = segmentsFromMatches(text.get(), m_regex->findAll(text.get()));
        invertSegments(segments);
        return text.split(segments, SplitBehavior::Removed);
    }

private:
    std::shared_ptr<OnigRegex> m_regex;
};

class SequencePreTokenizer final : public PreTokenizer {
public:
    explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> parts)
        : m_parts(std::move(parts))
    {
    }
    Result<std::vector<NormalizedString>> split(NormalizedString text) const override
    {
        std::vector<NormalizedString> pieces;
        pieces.push_back(std::move(text));
        for (const auto& part : m_parts) {
            std::vector<NormalizedString> next;
            for (NormalizedString& piece : pieces) {
                auto parts = part->split(std::move(piece));
                if (!parts)
                    return parts.status();
                for (NormalizedString& p : *parts)
                    if (!p.empty())
                        next.push_back(std::move(p));
            }
            pieces = std::move(next);
        }
        return pieces;
    }

private:
    std::vector<std::unique_ptr<PreTokenizer>> m_parts;
};

bool isPunctuation(char32_t c)
{
    if (c < 0x80
        && ((c >= '!' && c <= '/') || (c >= ':' && c <= '@') || (c >= '[' && c <= '`') || (c >= '{' && c <= '~')))
        return true;
    switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_PC:
    case UTF8PROC_CATEGORY_PD:
    case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI:
    case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
        return true;
    default:
        return false;
    }
}

bool isNumeric(char32_t c)
{
    const utf8proc_category_t category = utf8proc_category(static_cast<utf8proc_int32_t>(c));
    return category == UTF8PROC_CATEGORY_ND || category == UTF8PROC_CATEGORY_NL || category == UTF8PROC_CATEGORY_NO;
}

Result<std::shared_ptr<OnigRegex>> compileBuiltIn(const char* pattern, const std::string& where)
{
    auto regex = OnigRegex::compile(pattern);
    if (!regex)
        return fieldError(where, regex.message());
    return regex;
}

} // namespace

Result<std::unique_ptr<PreTokenizer>> parsePreTokenizer(const nlohmann::json& node, const std::string& where)
{
    const std::string type = typeOf(node, where);
    if (type.empty())
        return fieldError(where, "has no \"type\"");
    if (type == "ByteLevel") {
        std::shared_ptr<OnigRegex> regex;
        if (node.value("use_regex", true)) {
            auto compiled = compileBuiltIn(kGpt2Regex, where);
            if (!compiled)
                return compiled.status();
            regex = std::move(compiled).value();
        }
        return std::unique_ptr<PreTokenizer>(new ByteLevel(node.value("add_prefix_space", true), std::move(regex)));
    }
    if (type == "Split") {
        auto pattern = parsePattern(node.value("pattern", nlohmann::json()), where + ".pattern");
        if (!pattern)
            return pattern.status();
        auto behavior = parseBehavior(node.value("behavior", nlohmann::json()), where + ".behavior");
        if (!behavior)
            return behavior.status();
        return std::unique_ptr<PreTokenizer>(
            new Split(std::move(pattern).value(), *behavior, node.value("invert", false)));
    }
    if (type == "Metaspace") {
        const std::string replacement = node.value("replacement", std::string("\xE2\x96\x81"));
        PrependScheme scheme = node.value("add_prefix_space", true) ? PrependScheme::Always : PrependScheme::Never;
        if (node.contains("prepend_scheme")) {
            const std::string name
                = node["prepend_scheme"].is_string() ? node["prepend_scheme"].get<std::string>() : "";
            if (name == "always")
                scheme = PrependScheme::Always;
            else if (name == "first")
                scheme = PrependScheme::First;
            else if (name == "never")
                scheme = PrependScheme::Never;
            else
                return fieldError(where,
                    "prepend_scheme " + detail::jsonExcerpt(node["prepend_scheme"]) + " is not always, first or never");
        }
        return std::unique_ptr<PreTokenizer>(new Metaspace(replacement, scheme, node.value("split", true)));
    }
    if (type == "Digits")
        return std::unique_ptr<PreTokenizer>(new CharSplit(
            isNumeric, node.value("individual_digits", false) ? SplitBehavior::Isolated : SplitBehavior::Contiguous));
    if (type == "WhitespaceSplit")
        return std::unique_ptr<PreTokenizer>(new CharSplit(isWhitespace, SplitBehavior::Removed));
    if (type == "Whitespace") {
        auto regex = compileBuiltIn(R"(\w+|[^\w\s]+)", where);
        if (!regex)
            return regex.status();
        return std::unique_ptr<PreTokenizer>(new Whitespace(std::move(regex).value()));
    }
    if (type == "Punctuation") {
        SplitBehavior behavior = SplitBehavior::Isolated;
        if (node.contains("behavior")) {
            auto parsed = parseBehavior(node["behavior"], where + ".behavior");
            if (!parsed)
                return parsed.status();
            behavior = *parsed;
        }
        return std::unique_ptr<PreTokenizer>(new CharSplit(isPunctuation, behavior));
    }
    if (type == "Sequence") {
        if (!node.contains("pretokenizers") || !node["pretokenizers"].is_array())
            return fieldError(where, "Sequence has no \"pretokenizers\" list");
        std::vector<std::unique_ptr<PreTokenizer>> parts;
        for (size_t i = 0; i < node["pretokenizers"].size(); ++i) {
            auto part
                = parsePreTokenizer(node["pretokenizers"][i], where + ".pretokenizers[" + std::to_string(i) + "]");
            if (!part)
                return part.status();
            parts.push_back(std::move(part).value());
        }
        return std::unique_ptr<PreTokenizer>(new SequencePreTokenizer(std::move(parts)));
    }
    return unsupportedType("pre_tokenizer", type, where);
}

} // namespace attn::hf
