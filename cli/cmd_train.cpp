// SPDX-License-Identifier: GPL-3.0-or-later
// attnscope-cli train: trains a small model on a synthetic task (core trainer), with a progress line.
#include "cli_common.h"

#include "attnscope/model_format.h"
#include "attnscope/trainer.h"

#include <chrono>
#include <cstdio>
#include <iostream>

namespace attn::cli {

namespace {

struct TrainArgs {
    std::string task;
    std::string attention = "softmax";
    std::string position = "rope";
    int64_t layers = 2;
    int64_t dModel = 64;
    int64_t heads = 4;
    int64_t kvHeads = 0;
    int64_t maxSeqLen = 256;
    std::string device = "auto";
    TrainOptions options;
};

std::string formatSeconds(double s)
{
    const int64_t total = static_cast<int64_t>(s + 0.5);
    char text[32];
    std::snprintf(text, sizeof text, "%lld:%02lld:%02lld", static_cast<long long>(total / 3600),
        static_cast<long long>(total / 60 % 60), static_cast<long long>(total % 60));
    return text;
}

} // namespace

void registerTrain(CLI::App& app, int& exitCode)
{
    auto args = std::make_shared<TrainArgs>();
    TrainOptions& o = args->options;
    CLI::App* cmd = app.add_subcommand("train", "train a small model on a synthetic task (docs/tasks.md)");
    cmd->add_option("--task", args->task, "counting, flipflop, selective-copy or needles")->required();
    cmd->add_option("--attention", args->attention, "softmax or diff")
        ->check(CLI::IsMember({"softmax", "diff"}))
        ->capture_default_str();
    cmd->add_option("--position", args->position, "none, learned, rope, cope or rope+cope")
        ->check(CLI::IsMember({"none", "learned", "rope", "cope", "rope+cope"}))
        ->capture_default_str();
    cmd->add_option("--layers", args->layers, "layers")->check(CLI::Range(1, 1024))->capture_default_str();
    cmd->add_option("--d-model", args->dModel, "model width")->check(CLI::Range(1, 65536))->capture_default_str();
    cmd->add_option("--heads", args->heads, "heads (diff: differential heads)")
        ->check(CLI::Range(1, 1024))
        ->capture_default_str();
    cmd->add_option("--kv-heads", args->kvHeads, "key/value heads (GQA); default: --heads")->check(CLI::Range(1, 1024));
    cmd->add_option("--max-seq-len", args->maxSeqLen, "longest input (longer samples are left-truncated)")
        ->check(CLI::Range(2, 1 << 20))
        ->capture_default_str();
    cmd->add_option("--steps", o.steps, "optimiser steps")->check(CLI::Range(1, 100000000))->capture_default_str();
    cmd->add_option("--batch", o.batchSize, "samples per step")->check(CLI::Range(1, 1 << 20))->capture_default_str();
    cmd->add_option("--lr", o.lr, "peak learning rate")->capture_default_str();
    cmd->add_option("--min-lr-ratio", o.minLrRatio, "cosine floor as a fraction of --lr")->capture_default_str();
    cmd->add_option("--warmup", o.warmupSteps, "linear warmup steps")
        ->check(CLI::Range(0, 100000000))
        ->capture_default_str();
    cmd->add_option("--weight-decay", o.weightDecay, "AdamW weight decay (matrices only)")->capture_default_str();
    cmd->add_option("--grad-clip", o.gradClip, "global gradient-norm clip (0: off)")->capture_default_str();
    cmd->add_option("--eval-every", o.evalEvery, "evaluate every N steps (0: at the end)")->capture_default_str();
    cmd->add_option("--eval-samples", o.evalSamples, "held-out samples per evaluation")->capture_default_str();
    cmd->add_option("--checkpoint-every", o.checkpointEvery, "checkpoint every N steps")->capture_default_str();
    cmd->add_option("--seed", o.seed, "random seed (init, data)")->capture_default_str();
    cmd->add_option("--device", args->device, "auto, cpu, cuda or cuda:N")->capture_default_str();
    TaskOptions& t = o.taskOptions;
    cmd->add_option("--vars", t.nVars, "counting: variables")->capture_default_str();
    cmd->add_option("--max-steps", t.maxSteps, "counting: most statements")->capture_default_str();
    cmd->add_option("--length", t.length, "flipflop: tokens per sequence")->capture_default_str();
    cmd->add_option("--p-ignore", t.pIgnore, "flipflop: probability of an ignore instruction")->capture_default_str();
    cmd->add_option("--data", t.nData, "selective-copy: data tokens")->capture_default_str();
    cmd->add_option("--blanks", t.nBlank, "selective-copy: blank tokens")->capture_default_str();
    cmd->add_option("--context-words", t.contextWords, "needles: filler words")->capture_default_str();
    cmd->add_option("--needles", t.nNeedles, "needles: N")->capture_default_str();
    cmd->add_option("--queried", t.nQueried, "needles: R")->capture_default_str();
    cmd->add_option("--depth", t.depthPercent, "needles: answer depth 0..100, -1 = random")->capture_default_str();
    cmd->add_option("--out", o.outDir, "run directory (must be empty unless --resume)")->required();
    cmd->add_flag("--resume", o.resume, "continue the run checkpointed in --out");
    cmd->callback([args, &exitCode] {
        TrainOptions& o = args->options;
        auto task = parseTaskKind(args->task);
        auto attention = parseAttentionKind(args->attention);
        auto position = parsePositionKind(args->position);
        auto device = DeviceSpec::parse(args->device);
        for (const Status* s : {&task.status(), &attention.status(), &position.status(), &device.status()})
            if (!s->isOk()) {
                exitCode = fail(s->message());
                return;
            }
        o.task = *task;
        o.device = *device;
        o.model.attention = *attention;
        o.model.position = *position;
        o.model.nLayers = args->layers;
        o.model.dModel = args->dModel;
        o.model.nHeads = args->heads;
        o.model.nKvHeads = args->kvHeads > 0 ? args->kvHeads : args->heads;
        o.model.maxSeqLen = args->maxSeqLen;
        const int64_t divisor = *attention == AttentionKind::Diff ? 2 * args->heads : args->heads;
        if (args->dModel % divisor != 0) {
            exitCode = fail("--d-model " + std::to_string(args->dModel) + " is not divisible by "
                + std::to_string(divisor) + (divisor != args->heads ? " (2 x heads for diff)" : " (heads)"));
            return;
        }
        auto lastPrint = std::chrono::steady_clock::now() - std::chrono::seconds(2);
        auto onProgress = [&lastPrint](const TrainProgress& p) {
            const auto now = std::chrono::steady_clock::now();
            if (p.step < p.steps && now - lastPrint < std::chrono::seconds(1))
                return; // at most one line a second, and always the last step
            lastPrint = now;
            char line[200];
            std::snprintf(line, sizeof line, "step %lld/%lld  loss %.4f  lr %.2e  %.0f tok/s  ETA %s",
                static_cast<long long>(p.step), static_cast<long long>(p.steps), p.loss, p.lr, p.tokensPerSecond,
                formatSeconds(p.etaSeconds).c_str());
            std::cout << line << std::endl;
        };
        if (Status s = train(o, onProgress, nullptr); !s) {
            exitCode = fail(s.message());
            return;
        }
        std::cout << "trained model in " << o.outDir << " (train.json has the log)\n";
    });
}

} // namespace attn::cli
