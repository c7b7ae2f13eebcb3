// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Regular expressions on Oniguruma, the engine Hugging Face tokenizers uses (its default `onig` feature), with the
// same settings: UTF-8 subjects, Oniguruma's default syntax, no options.

#include "attnscope/status.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace attn::hf {

class OnigRegex {
public:
    /// Compiles the pattern; the error carries Oniguruma's message.
    static Result<std::shared_ptr<OnigRegex>> compile(const std::string& pattern);
    /// A pattern that matches the literal text (regex metacharacters escaped).
    static std::string escape(const std::string& literal);

    ~OnigRegex();
    OnigRegex(const OnigRegex&) = delete;
    OnigRegex& operator=(const OnigRegex&) = delete;

    /// All non-overlapping matches [begin, end) in byte offsets, searched as the onig crate's find_iter does
    /// (the whole subject stays visible to look-around; an empty match right after the previous one is skipped).
    std::vector<std::pair<size_t, size_t>> findAll(const std::string& subject) const;

private:
    OnigRegex() = default;
    struct Impl;
    std::unique_ptr<Impl> m;
};

} // namespace attn::hf
