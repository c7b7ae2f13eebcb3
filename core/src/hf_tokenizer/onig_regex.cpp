// SPDX-License-Identifier: GPL-3.0-or-later
#include "hf_tokenizer/onig_regex.h"

#include "hf_tokenizer/utf8.h"

#include <oniguruma.h>

#include <mutex>
#include <optional>

namespace attn::hf {

struct OnigRegex::Impl {
    regex_t* regex = nullptr;
};

namespace {

void initialiseOniguruma()
{
    static std::once_flag once;
    std::call_once(once, [] {
        OnigEncoding encodings[] = {ONIG_ENCODING_UTF8};
        onig_initialize(encodings, 1);
    });
}

struct RegionDeleter {
    void operator()(OnigRegion* region) const { onig_region_free(region, 1); }
};

} // namespace

Result<std::shared_ptr<OnigRegex>> OnigRegex::compile(const std::string& pattern)
{
    initialiseOniguruma();
    std::shared_ptr<OnigRegex> result(new OnigRegex());
    result->m = std::make_unique<Impl>();
    OnigErrorInfo info;
    const auto* begin = reinterpret_cast<const OnigUChar*>(pattern.data());
    const int code = onig_new(&result->m->regex, begin, begin + pattern.size(), ONIG_OPTION_NONE, ONIG_ENCODING_UTF8,
        ONIG_SYNTAX_DEFAULT, &info);
    if (code != ONIG_NORMAL) {
        result->m->regex = nullptr;
        OnigUChar message[ONIG_MAX_ERROR_MESSAGE_LEN];
        onig_error_code_to_str(message, code, &info);
        return Status::error("regex /" + pattern + "/ does not compile: " + reinterpret_cast<const char*>(message));
    }
    return result;
}

OnigRegex::~OnigRegex()
{
    if (m && m->regex)
        onig_free(m->regex);
}

std::string OnigRegex::escape(const std::string& literal)
{
    static const std::string special = "\\.+*?()|[]{}^$#&-~";
    std::string out;
    for (char c : literal) {
        if (special.find(c) != std::string::npos)
            out.push_back('\\');
        out.push_back(c);
    }
    return out;
}

std::vector<std::pair<size_t, size_t>> OnigRegex::findAll(const std::string& subject) const
{
    std::vector<std::pair<size_t, size_t>> matches;
    std::unique_ptr<OnigRegion, RegionDeleter> region(onig_region_new());
    const auto* text = reinterpret_cast<const OnigUChar*>(subject.data());
    const OnigUChar* end = text + subject.size();
    size_t searchFrom = 0;
    std::optional<size_t> lastMatchEnd;
    while (searchFrom <= subject.size()) {
        onig_region_clear(region.get());
        const int at = onig_search(m->regex, text, end, text + searchFrom, end, region.get(), ONIG_OPTION_NONE);
        if (at < 0)
            break;
        const auto begin = static_cast<size_t>(region->beg[0]);
        const auto stop = static_cast<size_t>(region->end[0]);
        if (begin == stop && lastMatchEnd && *lastMatchEnd == stop) {
            // An empty match where the previous one ended: step one character on, as the onig crate does.
            searchFrom += searchFrom < subject.size() ? utf8Length(static_cast<unsigned char>(subject[searchFrom])) : 1;
            continue;
        }
        matches.emplace_back(begin, stop);
        searchFrom = stop;
        lastMatchEnd = stop;
    }
    return matches;
}

} // namespace attn::hf
