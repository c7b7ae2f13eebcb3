// SPDX-License-Identifier: GPL-3.0-or-later
// Runs the real attnscope-cli binary (ATTNSCOPE_CLI_PATH) as a user would, capturing its exit code and output.
#pragma once

#include "attnscope/fileio.h"
#include "test_helpers.h"

#include <cstdlib>
#include <string>
#include <sys/wait.h>

namespace attn::test {

struct CliRun {
    int code = -1;
    std::string output; ///< stdout and stderr together
};

inline CliRun cli(const std::string& args, const TempDir& dir)
{
    const std::string log = dir.file("cli.log");
    const std::string command = std::string(ATTNSCOPE_CLI_PATH) + " " + args + " > " + log + " 2>&1";
    const int status = std::system(command.c_str());
    CliRun r;
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    auto text = readFile(log);
    r.output = text ? *text : "";
    return r;
}

} // namespace attn::test
