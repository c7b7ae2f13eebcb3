// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "attnscope/maps.h"
#include "attnscope/metrics.h"
#include "attnscope/status.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace attn {

/**
 * @file
 * @brief The DIFF paper's Table 3 attention allocation over a whole capture (docs/metrics.md,
 * "Attention allocation over a model"). Plain C++: the engine fills the CaptureResult, this only sums.
 */

/**
 * @brief [begin, end) word indices of the whitespace words that the character range [charBegin, charEnd)
 * of text touches. Task prompts are single-space separated words (docs/tasks.md), so with a word
 * tokenizer word i is token i (+1 after a BOS). Errors on an empty or out-of-range character range.
 */
Result<std::pair<int64_t, int64_t>> wordRange(const std::string& text, size_t charBegin, size_t charEnd);

/** @brief Whitespace-separated words in text (what WordTokenizer makes of a task prompt). */
int64_t countWords(const std::string& text);

/**
 * @brief Where one prompt's segments lie, in token positions of the captured sequence.
 *
 * - span: the answer span [spanBegin, spanEnd) (the answer needle);
 * - noiseEnd: the first token of the question; everything from there on (question, answer tokens fed
 *   teacher-forced) is the query segment, which the paper keeps out of noise;
 * - queryRows: the rows whose next-token prediction is an answer token (the last question token and
 *   every answer token but the last), i.e. the rows that generate the answer;
 * - firstTokenIsBos: whether token 0 is a <bos>. If it is, it is the paper's BOS segment and stays out of
 *   noise; if not, token 0 is an ordinary context word and its mass is counted as noise (or answer).
 */
struct AllocationLayout {
    int64_t spanBegin = 0;
    int64_t spanEnd = 0;
    int64_t noiseEnd = -1;
    std::vector<int64_t> queryRows;
    bool firstTokenIsBos = true;
};

/**
 * @brief The paper-style allocation of one capture: for every captured (layer, head), spanAttention over
 * layout.queryRows on the head's attention (DN if captured, else D with the layer's lambda, else A), then
 * paperAverage (mean over the heads of a layer, then over layers). Without a BOS the sink field is folded
 * into noise and reported as 0. Errors when the capture holds no attention map, or a head's map is bad.
 */
Result<SpanAttention> captureAllocation(const CaptureResult& capture, const AllocationLayout& layout);

} // namespace attn
