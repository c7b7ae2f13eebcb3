// SPDX-License-Identifier: GPL-3.0-or-later
// attnscope-cli: the headless front end (scripting, batch export, CI checks). No Qt.
#include "cli_common.h"

#include <iostream>

int main(int argc, char** argv)
{
    CLI::App app {"attnscope-cli " ATTNSCOPE_VERSION ": look inside differential and CoPE attention"};
    app.require_subcommand(1);
    app.set_version_flag(
        "--version", std::string("attnscope-cli " ATTNSCOPE_VERSION ", LibTorch ") + attn::torchVersion());
    int exitCode = 0;
    attn::cli::registerInit(app, exitCode);
    attn::cli::registerInfo(app, exitCode);
    attn::cli::registerMaps(app, exitCode);
    attn::cli::registerGenerate(app, exitCode);
    attn::cli::registerTask(app, exitCode);
    attn::cli::registerTrain(app, exitCode);
    attn::cli::registerEval(app, exitCode);
    attn::cli::registerBench(app, exitCode);
    attn::cli::registerTokenize(app, exitCode);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    } catch (const std::exception& e) {
        return attn::cli::fail(std::string("unexpected failure: ") + e.what());
    }
    return exitCode;
}
