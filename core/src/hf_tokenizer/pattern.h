// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The {"String": s} | {"Regex": r} patterns of Replace and Split.

#include "hf_tokenizer/components.h"
#include "hf_tokenizer/onig_regex.h"

namespace attn::hf {

struct Pattern {
    std::string literal;
    std::shared_ptr<OnigRegex> regex; // set for {"Regex": ...}
    std::vector<Segment> find(const std::string& text) const;
};

Result<Pattern> parsePattern(const nlohmann::json& node, const std::string& where);

} // namespace attn::hf
