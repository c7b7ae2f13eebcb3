// SPDX-License-Identifier: GPL-3.0-or-later
#include "hf_tokenizer/unicode.h"

#include "hf_tokenizer/utf8.h"

#include <utf8proc.h>

#include <cstdlib>
#include <memory>

namespace attn::hf {

namespace {

bool startsRun(char32_t c)
{
    const utf8proc_property_t* p = utf8proc_get_property(static_cast<utf8proc_int32_t>(c));
    if (p->combining_class != 0)
        return false;
    if (p->category == UTF8PROC_CATEGORY_MN || p->category == UTF8PROC_CATEGORY_MC
        || p->category == UTF8PROC_CATEGORY_ME)
        return false;
    // Hangul vowel and trailing jamo compose with the syllable before them.
    return !((c >= 0x1161 && c <= 0x1175) || (c >= 0x11A8 && c <= 0x11C2));
}

utf8proc_option_t optionsFor(NormalizationForm form)
{
    switch (form) {
    case NormalizationForm::NFC:
        return static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    case NormalizationForm::NFD:
        return static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE);
    case NormalizationForm::NFKC:
        return static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT);
    case NormalizationForm::NFKD:
        return static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT);
    }
    return UTF8PROC_STABLE;
}

std::vector<char32_t> decodeAll(const std::string& text)
{
    std::vector<char32_t> chars;
    for (size_t pos = 0; pos < text.size();)
        chars.push_back(decodeUtf8(text, pos));
    return chars;
}

void appendRun(std::vector<CharChange>& out, const std::vector<char32_t>& in, const std::vector<char32_t>& normalized)
{
    const size_t n = in.size();
    const size_t m = normalized.size();
    for (size_t j = 0; j < m; ++j) {
        int change = 0;
        if (j >= n)
            change = 1;
        else if (j == 0 && m < n)
            change = -static_cast<int>(n - m);
        out.push_back({normalized[j], change});
    }
}

} // namespace

std::vector<CharChange> normalizeChanges(const std::string& text, NormalizationForm form)
{
    const std::vector<char32_t> chars = decodeAll(text);
    std::vector<CharChange> out;
    out.reserve(chars.size());
    size_t runBegin = 0;
    while (runBegin < chars.size()) {
        size_t runEnd = runBegin + 1;
        while (runEnd < chars.size() && !startsRun(chars[runEnd]))
            ++runEnd;
        std::vector<char32_t> in(
            chars.begin() + static_cast<std::ptrdiff_t>(runBegin), chars.begin() + static_cast<std::ptrdiff_t>(runEnd));
        if (in.size() == 1 && in[0] < 0x80) {
            out.push_back({in[0], 0}); // ASCII is stable under every form
        } else {
            std::string run;
            for (char32_t c : in)
                appendUtf8(run, c);
            utf8proc_uint8_t* mapped = nullptr;
            const utf8proc_ssize_t size = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(run.data()),
                static_cast<utf8proc_ssize_t>(run.size()), &mapped, optionsFor(form));
            std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> owner(mapped, &std::free);
            if (size < 0)
                appendRun(out, in, in); // cannot happen for valid UTF-8; keep the text as it is
            else
                appendRun(
                    out, in, decodeAll(std::string(reinterpret_cast<const char*>(mapped), static_cast<size_t>(size))));
        }
        runBegin = runEnd;
    }
    return out;
}

std::vector<CharChange> lowercaseChanges(const std::string& text)
{
    std::vector<CharChange> out;
    out.reserve(text.size());
    for (size_t pos = 0; pos < text.size();) {
        const char32_t c = decodeUtf8(text, pos);
        if (c == 0x130) {
            // The one unconditional multi-character lower-case mapping (SpecialCasing.txt): İ -> i + combining dot.
            out.push_back({U'i', 0});
            out.push_back({0x307, 1});
            continue;
        }
        out.push_back({static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))), 0});
    }
    return out;
}

bool isWhitespace(char32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680
        || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

bool isWordChar(char32_t c)
{
    switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_PC:
        return true;
    default:
        return c == 0x200C || c == 0x200D; // Join_Control
    }
}

} // namespace attn::hf
