// SPDX-License-Identifier: GPL-3.0-or-later
// attnscope-cli eval: teacher-forced accuracy of a model on held-out samples of a task, on each of the task's
// evaluation splits, and for needles the DIFF paper's attention allocation per answer depth (Table 3).
#include "cli_common.h"

#include "attnscope/task_eval.h"
#include "attnscope/trainer.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>

namespace attn::cli {

namespace {

/// The options a task reads, under the CLI's names (as eval.json and train.json spell them).
nlohmann::json taskOptionsJson(TaskKind kind, const TaskOptions& t)
{
    switch (kind) {
    case TaskKind::Counting:
        return {{"vars", t.nVars}, {"max_steps", t.maxSteps}};
    case TaskKind::FlipFlop:
        return {{"length", t.length}, {"p_ignore", t.pIgnore}};
    case TaskKind::SelectiveCopy:
        return {{"data", t.nData}, {"blanks", t.nBlank}, {"data_vocab", t.dataVocab}};
    case TaskKind::Needles:
        return {{"context_words", t.contextWords}, {"needles", t.nNeedles}, {"queried", t.nQueried},
            {"depth", t.depthPercent}};
    }
    return nlohmann::json::object();
}

/// What distinguishes a split, for the text output: "" for the task's only split.
std::string splitNote(TaskKind kind, const SplitResult& s, size_t splits)
{
    if (splits <= 1)
        return "";
    char text[96];
    if (kind == TaskKind::FlipFlop)
        std::snprintf(text, sizeof text, "  [%s, p_ignore %.2f]", s.name.c_str(), s.options.pIgnore);
    else if (kind == TaskKind::SelectiveCopy)
        std::snprintf(text, sizeof text, "  [%s, %d blanks]", s.name.c_str(), s.options.nBlank);
    else
        std::snprintf(text, sizeof text, "  [%s]", s.name.c_str());
    return text;
}

} // namespace

void registerEval(CLI::App& app, int& exitCode)
{
    struct Args {
        std::string dir;
        std::string task;
        int64_t samples = 1000;
        int64_t depthSamples = 50;
        bool json = false;
        std::string device = "auto";
        TaskOptions options;
    };
    auto args = std::make_shared<Args>();
    // The trainer's own held-out stream uses seed + 1000003; the default seed here is that of seed 0.
    args->options.seed = 1000003;
    CLI::App* cmd = app.add_subcommand("eval",
        "teacher-forced accuracy of a model on held-out task samples, per split (flipflop: in-distribution, sparse, "
        "dense); needles adds the attention allocation per answer depth (DIFF paper Table 3)");
    cmd->add_option("DIR", args->dir, "model directory")->required();
    cmd->add_option("--task", args->task, "counting, flipflop, selective-copy or needles")->required();
    cmd->add_option("--samples", args->samples, "samples to evaluate per split")
        ->check(CLI::Range(1, 100000000))
        ->capture_default_str();
    cmd->add_option("--depth-samples", args->depthSamples,
           "needles: samples per answer depth for the attention allocation (0: skip it; the paper uses 50)")
        ->check(CLI::Range(0, 1000000))
        ->capture_default_str();
    cmd->add_flag("--json", args->json, "print one JSON object instead of text");
    cmd->add_option("--device", args->device, "auto, cpu, cuda or cuda:N")->capture_default_str();
    TaskOptions& t = args->options;
    cmd->add_option("--seed", t.seed, "seed of the evaluation samples")->capture_default_str();
    addTaskOptions(*cmd, t);
    cmd->callback([args, &exitCode] {
        auto task = parseTaskKind(args->task);
        if (!task) {
            exitCode = fail(task.message());
            return;
        }
        auto device = DeviceSpec::parse(args->device);
        if (!device) {
            exitCode = fail(device.message());
            return;
        }
        if (Status s = validateTaskOptions(*task, args->options); !s) {
            exitCode = fail(s.message());
            return;
        }
        auto splits = evaluateSplits(args->dir, *task, args->options, args->samples, *device);
        if (!splits) {
            exitCode = fail(splits.message());
            return;
        }
        std::vector<DepthAllocation> depths;
        if (*task == TaskKind::Needles && args->depthSamples > 0) {
            auto a = needleAllocation(args->dir, args->options, args->depthSamples, paperDepths(), *device);
            if (!a) {
                exitCode = fail(a.message());
                return;
            }
            depths = std::move(a.value());
        }
        if (args->json) {
            nlohmann::json out = {{"model", args->dir}, {"task", args->task}, {"seed", args->options.seed},
                {"splits", nlohmann::json::array()}};
            for (const SplitResult& s : *splits)
                out["splits"].push_back(
                    {{"name", s.name}, {"options", taskOptionsJson(*task, s.options)}, {"samples", s.result.samples},
                        {"accuracy", s.result.accuracy}, {"token_accuracy", s.result.tokenAccuracy}});
            if (!depths.empty()) {
                out["allocation"] = nlohmann::json::array();
                for (const DepthAllocation& d : depths)
                    out["allocation"].push_back(
                        {{"depth", d.depthPercent}, {"samples", d.result.samples}, {"accuracy", d.result.accuracy},
                            {"token_accuracy", d.result.tokenAccuracy}, {"answer", d.attention.toSpan},
                            {"noise", d.attention.noise}, {"bos", d.attention.sink}, {"query", d.attention.rest}});
            }
            std::cout << out.dump(2) << "\n";
            return;
        }
        char line[200];
        for (const SplitResult& s : *splits) {
            std::snprintf(line, sizeof line, "%s: %lld samples  accuracy %.4f  token accuracy %.4f%s",
                args->task.c_str(), static_cast<long long>(s.result.samples), s.result.accuracy, s.result.tokenAccuracy,
                splitNote(*task, s, splits->size()).c_str());
            std::cout << line << "\n";
        }
        if (depths.empty())
            return;
        std::cout << "attention allocation (DIFF paper Table 3, reconstructed: rows generating the answer, mean over "
                     "heads, then layers; DIFF heads D/(1-lambda)):\n"
                     "depth  samples  accuracy  answer  noise   bos     query\n";
        for (const DepthAllocation& d : depths) {
            std::snprintf(line, sizeof line, "%4d%%  %7lld  %8.4f  %6.4f  %6.4f  %6.4f  %6.4f", d.depthPercent,
                static_cast<long long>(d.result.samples), d.result.accuracy, d.attention.toSpan, d.attention.noise,
                d.attention.sink, d.attention.rest);
            std::cout << line << "\n";
        }
    });
}

} // namespace attn::cli
