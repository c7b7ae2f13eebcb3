// SPDX-License-Identifier: GPL-3.0-or-later
// attnscope-cli task: samples of the synthetic tasks (prompts for the GUI, evaluation sets) as JSON lines.
#include "cli_common.h"

#include "attnscope/fileio.h"
#include "attnscope/tasks.h"

#include <nlohmann/json.hpp>

#include <iostream>

namespace attn::cli {

void registerTask(CLI::App& app, int& exitCode)
{
    struct Args {
        std::string task;
        int count = 5;
        TaskOptions options;
        std::string vocabOut;
        bool textOnly = false;
    };
    auto args = std::make_shared<Args>();
    CLI::App* cmd = app.add_subcommand("task", "generate samples of a synthetic task (docs/tasks.md) as JSON lines");
    cmd->add_option("TASK", args->task, "counting, flipflop, selective-copy or needles")->required();
    cmd->add_option("--count", args->count, "samples to write")->check(CLI::Range(0, 10000000))->capture_default_str();
    cmd->add_option("--seed", args->options.seed, "random seed")->capture_default_str();
    addTaskOptions(*cmd, args->options);
    cmd->add_option("--vocab-out", args->vocabOut, "also write the task's word vocabulary (vocab.txt format)");
    cmd->add_flag("--text", args->textOnly, "print only the prompt text, one sample per line");
    cmd->callback([args, &exitCode] {
        auto kind = parseTaskKind(args->task);
        if (!kind) {
            exitCode = fail(kind.message());
            return;
        }
        auto generator = TaskGenerator::create(*kind, args->options);
        if (!generator) {
            exitCode = fail(generator.message());
            return;
        }
        if (!args->vocabOut.empty()) {
            if (fileExists(args->vocabOut)) {
                exitCode = fail(args->vocabOut + " already exists; remove it or choose another --vocab-out");
                return;
            }
            std::string text;
            for (const std::string& token : taskVocabulary(*kind, args->options))
                text += token + "\n";
            if (Status s = writeFileAtomic(args->vocabOut, text); !s) {
                exitCode = fail(s.message());
                return;
            }
        }
        for (int i = 0; i < args->count; ++i) {
            const TaskSample sample = generator->next();
            if (args->textOnly) {
                std::cout << promptText(sample) << "\n";
                continue;
            }
            nlohmann::json line = {{"prompt", promptText(sample)}, {"answer", sample.answer},
                {"context", sample.context}, {"question", sample.question}, {"answer_spans", sample.answerSpans}};
            if (sample.depthPercent >= 0)
                line["depth_percent"] = sample.depthPercent;
            std::cout << line.dump() << "\n";
        }
    });
}

} // namespace attn::cli
