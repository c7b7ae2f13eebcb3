// SPDX-License-Identifier: GPL-3.0-or-later
// attnscope-cli generate: greedy continuation of a prompt.
#include "cli_common.h"

#include <iostream>

namespace attn::cli {

void registerGenerate(CLI::App& app, int& exitCode)
{
    struct Args {
        std::string dir, prompt, promptFile;
        int64_t tokens = 16;
        RunOptions run;
    };
    auto args = std::make_shared<Args>();
    CLI::App* cmd = app.add_subcommand("generate", "greedy decoding of N tokens after a prompt");
    cmd->add_option("MODEL", args->dir, "model folder (attnscope or Hugging Face) or checkpoint file")->required();
    cmd->add_option("--prompt", args->prompt, "prompt text");
    cmd->add_option("--prompt-file", args->promptFile, "file holding the prompt");
    cmd->add_option("--tokens", args->tokens, "tokens to generate")
        ->check(CLI::Range(0, 1 << 20))
        ->capture_default_str();
    args->run.addTo(*cmd);
    cmd->callback([args, &exitCode] {
        auto prompt = readPrompt(args->prompt, args->promptFile);
        if (!prompt) {
            exitCode = fail(prompt.message());
            return;
        }
        auto model = loadModel(args->dir, args->run);
        if (!model) {
            exitCode = fail(model.message());
            return;
        }
        auto encoded = (*model)->tokenizer().encodeChecked(*prompt);
        if (!encoded) {
            exitCode = fail("the prompt: " + encoded.message());
            return;
        }
        auto generated = (*model)->generate(encoded->ids, args->tokens);
        if (!generated) {
            exitCode = fail(generated.message());
            return;
        }
        std::cout << (*model)->tokenizer().decode(*generated) << "\n";
    });
}

} // namespace attn::cli
