// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "attnscope/metrics.h"
#include "attnscope/model.h"
#include "attnscope/status.h"
#include "attnscope/tasks.h"
#include "attnscope/trainer.h"

#include <cstdint>
#include <string>
#include <vector>

namespace attn {

/**
 * @file
 * @brief The papers' evaluations of a trained model beyond one accuracy (docs/tasks.md, "Evaluation"):
 * per-split accuracy and the DIFF paper's Table 3 attention allocation per answer depth.
 */

struct SplitResult {
    std::string name; ///< taskSplits' name
    TaskOptions options;
    EvalResult result;
};

/**
 * @brief evaluate() on every split of taskSplits(task, options), each on `samples` samples from
 * options.seed.
 */
Result<std::vector<SplitResult>> evaluateSplits(const std::string& modelDir, TaskKind task, const TaskOptions& options,
    int64_t samples, const DeviceSpec& device = {});

/** @brief One answer depth of the needle test: accuracy and where the answer-generating rows attend. */
struct DepthAllocation {
    int depthPercent = 0;
    EvalResult result; ///< teacher-forced accuracy on the same samples the attention is measured on
    /// Mean over samples of captureAllocation (toSpan = answer, noise = context, sink = BOS, rest = question and
    /// answer); rows = the answer-generating rows over all samples.
    SpanAttention attention;
};

/** @brief The DIFF paper's Table 3 depths. */
inline std::vector<int> paperDepths()
{
    return {0, 25, 50, 75, 100};
}

/**
 * @brief For each depth, `samples` needle samples (options with depthPercent = depth, seeded by options.seed):
 * teacher-forced accuracy, and the attention allocation of the rows that generate the answer (the last
 * question token and each answer token but the last, fed teacher-forced), averaged over heads within a
 * layer, then over layers (paperAverage), then over samples. DIFF heads use DN = D / (1 - lambda).
 * Answer = the answer needle's tokens; noise = every other context token (before and after it, the other
 * needles included), without the BOS and the question. Needs a word tokenizer (one token per word) and
 * prompts that fit max_seq_len, and says so otherwise.
 */
Result<std::vector<DepthAllocation>> needleAllocation(const std::string& modelDir, const TaskOptions& options,
    int64_t samples, const std::vector<int>& depths = paperDepths(), const DeviceSpec& device = {});

} // namespace attn
