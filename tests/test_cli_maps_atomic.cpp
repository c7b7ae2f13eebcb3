// SPDX-License-Identifier: GPL-3.0-or-later
// attnscope-cli maps writes all-or-nothing (issue 15, defects 4 and 5): a --force rerun killed at any moment
// leaves the old or the new complete bundle, never a manifest describing other files; concurrent runs into one
// --out never mix; SIGINT leaves no staging folder behind; a prompt of bytes that are not UTF-8 is exported.
#include "attnscope/fileio.h"
#include "attnscope/npy.h"
#include "test_helpers.h"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <thread>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace attn;
using attn::test::TempDir;
namespace fs = std::filesystem;

namespace {

/// Starts the CLI (the shell execs it, so the pid is the CLI's own) with its output in `log`.
pid_t spawnCli(const std::string& args, const std::string& log)
{
    const std::string command = "exec " + std::string(ATTNSCOPE_CLI_PATH) + " " + args + " > " + log + " 2>&1";
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    return pid;
}

int waitFor(pid_t pid)
{
    int status = 0;
    ::waitpid(pid, &status, 0);
    return status;
}

std::vector<std::string> leftovers(const std::string& parent)
{
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(parent)) {
        const std::string name = entry.path().filename().string();
        if (name.find(".tmp-") != std::string::npos || name.find(".old-") != std::string::npos)
            names.push_back(name);
    }
    return names;
}

/// The bundle is complete and describes exactly the files beside it: each listed .npy exists with the shape
/// of the manifest's own token count (the prompts differ in length, so a file of another run shows), and
/// nothing else is in the folder. Returns the manifest's prompt.
std::string expectCompleteBundle(const std::string& out)
{
    auto text = readFile(out + "/maps.json");
    EXPECT_TRUE(text) << text.message();
    if (!text)
        return {};
    const nlohmann::json manifest = nlohmann::json::parse(*text);
    const auto n = static_cast<int64_t>(manifest.at("tokens").size());
    std::set<std::string> named {"maps.json"};
    for (const auto& entry : manifest.at("maps")) {
        const std::string file = entry.at("file");
        named.insert(file);
        auto array = readNpyFloat32(out + "/" + file);
        EXPECT_TRUE(array) << file << ": " << array.message();
        if (array) {
            EXPECT_EQ(array->shape, (std::vector<int64_t> {n, n})) << file << " is not of this manifest's run";
        }
    }
    std::set<std::string> present;
    for (const auto& entry : fs::directory_iterator(out))
        present.insert(entry.path().filename().string());
    EXPECT_EQ(present, named);
    return manifest.at("prompt");
}

std::string repeated(const std::string& word, int n)
{
    std::string text;
    for (int i = 0; i < n; ++i)
        text += word;
    return text;
}

} // namespace

TEST(CliMapsAtomic, KilledForceRunLeavesTheOldOrTheNewBundle)
{
    TempDir dir;
    const std::string model = dir.file("m");
    // diff + CoPE: 11 map kinds; 3 layers x 4 heads -> 132 files per run, enough writes to be killed among.
    ASSERT_EQ(std::system((std::string(ATTNSCOPE_CLI_PATH) + " init " + model
                  + " --attention diff --position cope --layers 3 --d-model 32 --heads 4 > /dev/null")
                              .c_str()),
        0);
    const std::string out = dir.file("out");
    const std::string log = dir.file("cli.log");
    const std::string oldPrompt = repeated("old ", 40); // 161 tokens with <bos>
    const std::string newPrompt = repeated("new!", 45); // 181
    ASSERT_EQ(waitFor(spawnCli("maps " + model + " --prompt '" + oldPrompt + "' --out " + out, log)), 0)
        << readFile(log).value();
    ASSERT_EQ(expectCompleteBundle(out), oldPrompt);

    // A whole --force run, then runs killed while loading (a time into the run) and while writing (once their
    // staging folder holds k of the 132 maps).
    const std::string force = "maps " + model + " --prompt '" + newPrompt + "' --force --out " + out;
    ASSERT_EQ(waitFor(spawnCli(force, log)), 0) << readFile(log).value();
    ASSERT_EQ(expectCompleteBundle(out), newPrompt);
    int attempt = 0;
    for (const int signal : {SIGINT, SIGKILL}) {
        int midWrite = 0;
        for (const int k : {0, 1, 30, 90, 125}) {
            // Alternate prompts, so a kill that lands after the swap is told apart from one before it.
            const std::string prompt = attempt++ % 2 == 0 ? oldPrompt : newPrompt;
            const std::vector<std::string> earlier = leftovers(dir.path()); // SIGKILLed runs' folders
            const std::set<std::string> before(earlier.begin(), earlier.end());
            const pid_t pid = spawnCli("maps " + model + " --prompt '" + prompt + "' --force --out " + out, log);
            bool exited = false; // finished before the kill (then it was reaped already)
            if (k == 0) {
                std::this_thread::sleep_for(std::chrono::milliseconds(300));
            } else {
                const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
                bool seen = false;
                while (!seen && !exited && std::chrono::steady_clock::now() < deadline) {
                    exited = ::waitpid(pid, nullptr, WNOHANG) == pid;
                    for (const std::string& name : leftovers(dir.path())) {
                        if (before.count(name))
                            continue;
                        std::error_code ec;
                        int maps = 0;
                        for (const auto& entry : fs::directory_iterator(dir.file(name), ec))
                            maps += entry.path().extension() == ".npy" ? 1 : 0;
                        seen = seen || maps >= k;
                    }
                    std::this_thread::sleep_for(std::chrono::microseconds(200));
                }
                midWrite += seen ? 1 : 0;
            }
            if (!exited) {
                ::kill(pid, signal);
                waitFor(pid);
            }
            SCOPED_TRACE("signal " + std::to_string(signal) + " after " + std::to_string(k) + " maps");
            const std::string now = expectCompleteBundle(out);
            EXPECT_TRUE(now == oldPrompt || now == newPrompt);
            if (signal == SIGINT) { // caught: the run removes its staging folder before it dies
                EXPECT_TRUE(leftovers(dir.path()).empty());
            }
        }
        EXPECT_GE(midWrite, 3) << "most kills should land while maps are being written";
    }
    // A SIGKILLed run cannot clean up; the next run removes what it left.
    ASSERT_EQ(waitFor(spawnCli(force, log)), 0) << readFile(log).value();
    EXPECT_EQ(expectCompleteBundle(out), newPrompt);
    EXPECT_TRUE(leftovers(dir.path()).empty());
}

TEST(CliMapsAtomic, ConcurrentRunsIntoOneFolderNeverMix)
{
    TempDir dir;
    const std::string model = dir.file("m");
    ASSERT_EQ(std::system((std::string(ATTNSCOPE_CLI_PATH) + " init " + model
                  + " --attention diff --layers 2 --d-model 32 --heads 2 > /dev/null")
                              .c_str()),
        0);
    const std::string out = dir.file("out");
    std::vector<pid_t> runs;
    for (int i = 0; i < 4; ++i)
        runs.push_back(spawnCli("maps " + model + " --prompt '" + repeated("x", 20 + 7 * i) + "' --out " + out,
            dir.file(std::to_string(i))));
    int succeeded = 0;
    for (size_t i = 0; i < runs.size(); ++i) {
        const int status = waitFor(runs[i]);
        ASSERT_TRUE(WIFEXITED(status));
        const std::string log = readFile(dir.file(std::to_string(i))).value();
        succeeded += WEXITSTATUS(status) == 0 ? 1 : 0;
        // The others lose with the overwrite rule's message, whether they lost at the start or at the swap.
        EXPECT_TRUE(WEXITSTATUS(status) == 0 || log.find("already exists") != std::string::npos) << log;
    }
    EXPECT_EQ(succeeded, 1);
    expectCompleteBundle(out);
    EXPECT_TRUE(leftovers(dir.path()).empty());
}

TEST(CliMapsAtomic, TextThatIsNotUtf8IsExportedOrRefusedBeforeWriting)
{
    TempDir dir;
    // A model folder whose name is not UTF-8: maps.json used to fail on it after every .npy was written.
    const std::string model = dir.file("model-\xff\xfe");
    ASSERT_EQ(std::system((std::string(ATTNSCOPE_CLI_PATH) + " init '" + model
                  + "' --layers 1 --d-model 16 --heads 2 > /dev/null")
                              .c_str()),
        0);
    const std::string out = dir.file("out");
    ASSERT_EQ(waitFor(spawnCli("maps '" + model + "' --prompt 'a b' --out " + out, dir.file("log"))), 0)
        << readFile(dir.file("log")).value();
    const nlohmann::json manifest = nlohmann::json::parse(readFile(out + "/maps.json").value());
    const std::string shown = manifest.at("model").at("path");
    EXPECT_NE(shown.find("model-\xef\xbf\xbd"), std::string::npos) << shown; // U+FFFD for display
    ASSERT_TRUE(manifest.at("model").contains("path_base64"));
    expectCompleteBundle(out);

    // A prompt the tokenizer refuses is refused before anything is written, naming the prompt and the byte.
    attn::test::writeBytes(dir.file("prompt.bin"), std::string("abc \xff\xfe"));
    const std::string refused = dir.file("refused");
    EXPECT_NE(waitFor(spawnCli("maps '" + model + "' --prompt-file " + dir.file("prompt.bin") + " --out " + refused,
                  dir.file("log"))),
        0);
    EXPECT_NE(readFile(dir.file("log")).value().find("prompt"), std::string::npos) << readFile(dir.file("log")).value();
    EXPECT_FALSE(fs::exists(refused));
    EXPECT_TRUE(leftovers(dir.path()).empty());
}
