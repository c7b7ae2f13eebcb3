// SPDX-License-Identifier: GPL-3.0-or-later
#include "hf_tokenizer/pattern.h"
#include "json_limits.h"

namespace attn::hf {

std::vector<Segment> Pattern::find(const std::string& text) const
{
    if (regex)
        return segmentsFromMatches(text, regex->findAll(text));
    return literalSegments(text, literal);
}

Result<Pattern> parsePattern(const nlohmann::json& node, const std::string& where)
{
    Pattern pattern;
    if (node.is_object() && node.contains("String") && node["String"].is_string()) {
        pattern.literal = node["String"].get<std::string>();
        return pattern;
    }
    if (node.is_object() && node.contains("Regex") && node["Regex"].is_string()) {
        auto regex = OnigRegex::compile(node["Regex"].get<std::string>());
        if (!regex)
            return fieldError(where, regex.message());
        pattern.regex = std::move(regex).value();
        return pattern;
    }
    return fieldError(where, "expected {\"String\": ...} or {\"Regex\": ...}, got " + detail::jsonExcerpt(node));
}

} // namespace attn::hf
