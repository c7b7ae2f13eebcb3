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
    ModelShapeArgs shape;
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
    args->shape.dModel = 64; // a width that trains in minutes on a CPU
    args->shape.addTo(*cmd);
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
    cmd->add_flag("--bos", o.addBos, "start every sequence with <bos> (tokenizer.add_bos)");
    TaskOptions& t = o.taskOptions;
    addTaskOptions(*cmd, t);
    cmd->add_option("--out", o.outDir, "run directory (must be empty unless --resume)")->required();
    cmd->add_flag("--resume", o.resume, "continue the run checkpointed in --out");
    cmd->callback([args, &exitCode] {
        TrainOptions& o = args->options;
        auto task = parseTaskKind(args->task);
        auto device = DeviceSpec::parse(args->device);
        for (const Status* st : {&task.status(), &device.status()})
            if (!st->isOk()) {
                exitCode = fail(st->message());
                return;
            }
        if (Status st = args->shape.applyTo(o.model); !st) {
            exitCode = fail(st.message());
            return;
        }
        o.task = *task;
        o.device = *device;
        o.model.maxSeqLen = args->maxSeqLen;
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
