// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "attnscope/config.h"
#include "attnscope/model.h"
#include "attnscope/status.h"
#include "attnscope/tasks.h"

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

namespace attn {

/**
 * @brief One training run of a small model on a synthetic task (docs/tasks.md).
 *
 * The model's architecture comes from `model`; the trainer fills in what the task decides: vocab_size
 * and the word tokenizer (vocab.txt), and derives head_dim / ffn_hidden / n_kv_heads / cope.npos when
 * they are 0 (as `attnscope-cli init` does).
 */
struct TrainOptions {
    std::string outDir;
    ModelConfig model = defaultModel();
    TaskKind task = TaskKind::Counting;
    TaskOptions taskOptions; ///< its seed is ignored: the task stream is seeded from `seed`
    int64_t steps = 1000;
    int64_t batchSize = 32;
    double lr = 1e-3;
    double minLrRatio = 0.1; ///< cosine decay ends at minLrRatio * lr
    int64_t warmupSteps = 50;
    double weightDecay = 0.01;
    double gradClip = 1.0; ///< global gradient norm; <= 0 disables clipping
    int64_t evalEvery = 250; ///< 0: only at the end
    int64_t evalSamples = 256;
    int64_t checkpointEvery = 500; ///< 0: only at the end (and on cancel)
    int64_t logEvery = 10; ///< train.json keeps the loss of every logEvery-th step
    uint64_t seed = 0;
    /// Start every sequence with <bos> (tokenizer.add_bos in config.json). Off by default so the counting
    /// models keep their recipe; the needles models use it because the DIFF paper's protocol has a BOS
    /// (attention sink) that is kept out of "noise", and without one the first context word is the sink.
    bool addBos = false;
    DeviceSpec device;
    /// Continue the run checkpointed in outDir: its config.json and train_state.json (seed, step) win over
    /// `model` and `seed`; task and batch size must match. An empty outDir starts a fresh run.
    bool resume = false;

    static ModelConfig defaultModel()
    {
        ModelConfig c;
        c.dModel = 64;
        c.nLayers = 2;
        c.nHeads = 4;
        c.maxSeqLen = 256;
        c.position = PositionKind::Rope;
        return c;
    }
};

struct TrainProgress {
    int64_t step = 0; ///< steps done (1-based after the first step)
    int64_t steps = 0;
    double loss = 0.0; ///< this step's mean answer-token loss
    double lr = 0.0;
    double tokensPerSecond = 0.0; ///< input tokens (padding excluded) per second in this session
    double etaSeconds = 0.0;
};

struct EvalResult {
    int64_t samples = 0;
    double accuracy = 0.0; ///< exact match of the whole answer (teacher-forced argmax on answer tokens)
    double tokenAccuracy = 0.0; ///< fraction of answer tokens predicted right
};

/**
 * @brief Trains (or, with resume, continues) a run in options.outDir: model.safetensors + config.json +
 * vocab.txt (a loadable model at every checkpoint), checkpoint.safetensors (AdamW moments),
 * train_state.json and the train.json log. Refuses a non-empty outDir unless resume is set.
 * onProgress runs after every step; cancel is checked before every step: a cancelled run saves a
 * checkpoint and returns the error "cancelled at step N". Deterministic for a seed on CPU.
 */
Status train(const TrainOptions& options, const std::function<void(const TrainProgress&)>& onProgress = {},
    const std::atomic<bool>* cancel = nullptr);

/**
 * @brief Teacher-forced evaluation of the model in modelDir on `samples` held-out samples of the task
 * (the generator seeded with taskOptions.seed; the trainer's own held-out set is seed + 1000003).
 */
Result<EvalResult> evaluate(const std::string& modelDir, TaskKind task, const TaskOptions& taskOptions, int64_t samples,
    const DeviceSpec& device = {});

} // namespace attn
