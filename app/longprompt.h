// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QString>

#include <cstdint>

namespace attn::app {

/// The length of the Help menu's long-context demo: a prompt of this many tokens (<bos> included) shows the pooled
/// overviews, the exact-window button and what a RoPE model does far beyond its training prompts.
inline constexpr int kLongContextDemoTokens = 16384;

/**
 * @brief A prompt of the multi-needle retrieval task (docs/tasks.md) with one needle at half depth, as close to
 * `maxWords` words as whole filler sentences allow and never over: the task the bundled needles models learned on
 * prompts of at most 160 tokens, stretched. Word-level tokenizers make one token per word. Empty if the generator
 * refuses the length (said on stderr).
 */
QString longNeedlesPrompt(int maxWords, uint64_t seed);

} // namespace attn::app
