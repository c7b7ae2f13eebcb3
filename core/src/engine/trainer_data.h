// SPDX-License-Identifier: GPL-3.0-or-later
// Trainer internals shared by trainer.cpp and trainer_data.cpp: task samples -> padded token batches,
// and teacher-forced evaluation of in-memory weights.
#pragma once

#include "attnscope/tasks.h"
#include "attnscope/tokenizer.h"
#include "attnscope/trainer.h"
#include "engine/weights.h"

#include <vector>

namespace attn::engine {

/// One encoded sample: input = seq[:-1], target = seq[1:]; the answer targets are [answerBegin, end).
struct EncodedSample {
    std::vector<int64_t> input;
    std::vector<int64_t> target;
    int64_t answerBegin = 0;
};

/// promptText + answer (+ <eos>), left-truncated so that the input fits maxSeqLen (the official
/// counting recipe left-truncates too: the question and answer are at the end and must survive).
EncodedSample encodeSample(const Tokenizer& tokenizer, const TaskSample& sample, int64_t maxSeqLen, bool withEos);

struct Batch {
    at::Tensor input; ///< int64 [B, T], right-padded with <pad>
    at::Tensor target; ///< int64 [B, T], 0 where not scored
    at::Tensor mask; ///< float [B, T], 1 on scored (answer, eos) targets
    int64_t realTokens = 0; ///< input tokens without padding
};

/// Right padding is harmless for causal attention: pad positions come after every real position, so
/// they never enter a real position's softmax; only the loss needs masking.
Batch makeBatch(const std::vector<EncodedSample>& samples, int64_t padId, const at::Device& device);

/// Mean cross-entropy over the masked target positions. logits: [B, T, V].
at::Tensor maskedLoss(const at::Tensor& logits, const Batch& batch);

/// Teacher-forced argmax accuracy over `samples` samples drawn from generator (no <eos> scored).
EvalResult evaluateWeights(const ModelWeights& weights, const ModelConfig& config, const Tokenizer& tokenizer,
    TaskGenerator& generator, int64_t samples, const at::Device& device);

} // namespace attn::engine
