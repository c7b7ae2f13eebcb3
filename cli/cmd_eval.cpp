// SPDX-License-Identifier: GPL-3.0-or-later
// attnscope-cli eval: teacher-forced accuracy of a model on held-out samples of a task.
#include "cli_common.h"

#include "attnscope/trainer.h"

#include <cstdio>
#include <iostream>

namespace attn::cli {

void registerEval(CLI::App& app, int& exitCode)
{
    struct Args {
        std::string dir;
        std::string task;
        int64_t samples = 1000;
        std::string device = "auto";
        TaskOptions options;
    };
    auto args = std::make_shared<Args>();
    // The trainer's own held-out stream uses seed + 1000003; the default seed here is that of seed 0.
    args->options.seed = 1000003;
    CLI::App* cmd = app.add_subcommand("eval", "teacher-forced accuracy of a model on held-out task samples");
    cmd->add_option("DIR", args->dir, "model directory")->required();
    cmd->add_option("--task", args->task, "counting, flipflop, selective-copy or needles")->required();
    cmd->add_option("--samples", args->samples, "samples to evaluate")
        ->check(CLI::Range(1, 100000000))
        ->capture_default_str();
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
        auto result = evaluate(args->dir, *task, args->options, args->samples, *device);
        if (!result) {
            exitCode = fail(result.message());
            return;
        }
        char line[160];
        std::snprintf(line, sizeof line, "%s: %lld samples  accuracy %.4f  token accuracy %.4f", args->task.c_str(),
            static_cast<long long>(result->samples), result->accuracy, result->tokenAccuracy);
        std::cout << line << "\n";
    });
}

} // namespace attn::cli
