// SPDX-License-Identifier: GPL-3.0-or-later
// attnscope-cli end to end: init -> info -> maps (files, manifest, overwrite protection) -> generate.
#include "attnscope/fileio.h"
#include "attnscope/npy.h"
#include "test_helpers.h"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <sstream>
#include <sys/wait.h>

using namespace attn;
using attn::test::TempDir;

namespace {

struct CliRun {
    int code = -1;
    std::string output;
};

CliRun cli(const std::string& args, const TempDir& dir)
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

} // namespace

TEST(Cli, InitInfoMapsGenerate)
{
    TempDir dir;
    const std::string model = dir.file("model");
    CliRun init = cli(
        "init " + model + " --attention diff --position rope+cope --layers 2 --d-model 32 --heads 2 --seed 5", dir);
    ASSERT_EQ(init.code, 0) << init.output;

    CliRun info = cli("info " + model + " --json", dir);
    ASSERT_EQ(info.code, 0) << info.output;
    const auto infoJson = nlohmann::json::parse(info.output);
    EXPECT_EQ(infoJson["config"]["attention"], "diff");
    EXPECT_EQ(infoJson["config"]["position"], "rope+cope");
    EXPECT_GT(infoJson["parameters"].get<int64_t>(), 0);

    const std::string out = dir.file("maps");
    CliRun maps
        = cli("maps " + model + " --prompt 'a = 0 ; a ++;' --layers 1 --heads all --maps D,G1,P2 --out " + out, dir);
    ASSERT_EQ(maps.code, 0) << maps.output;
    const auto manifest = nlohmann::json::parse(readFile(out + "/maps.json").value());
    const auto tokens = manifest["tokens"].get<std::vector<int64_t>>();
    EXPECT_EQ(tokens.size(), 14u); // BOS + 13 bytes
    EXPECT_EQ(manifest["display"][0], "<bos>");
    EXPECT_EQ(manifest["lambda"].size(), 2u);
    EXPECT_EQ(manifest["maps"].size(), 6u); // 2 heads x 3 kinds
    EXPECT_EQ(manifest["model"]["sha256"].get<std::string>().size(), 64u);
    auto d = readNpyFloat32(out + "/L1_H0_D.npy");
    ASSERT_TRUE(d) << d.message();
    ASSERT_EQ(d->shape, (std::vector<int64_t> {14, 14}));
    EXPECT_TRUE(std::isnan(d->values[1])); // row 0, column 1 is in the future
    double row = 0.0;
    for (int j = 0; j < 14; ++j)
        row += d->values[static_cast<size_t>(13 * 14 + j)];
    EXPECT_NEAR(row, 1.0 - manifest["lambda"][1].get<double>(), 1e-5);

    CliRun again = cli("maps " + model + " --prompt hi --out " + out, dir);
    EXPECT_NE(again.code, 0);
    EXPECT_NE(again.output.find("--force"), std::string::npos) << again.output;
    EXPECT_EQ(cli("maps " + model + " --prompt hi --out " + out + " --force", dir).code, 0);

    CliRun gen = cli("generate " + model + " --prompt abc --tokens 3", dir);
    EXPECT_EQ(gen.code, 0) << gen.output;
}

TEST(Cli, ErrorsAreClearAndNonZero)
{
    TempDir dir;
    CliRun missing = cli("info " + dir.file("absent"), dir);
    EXPECT_EQ(missing.code, 1);
    EXPECT_NE(missing.output.find("not a directory"), std::string::npos) << missing.output;
    const std::string model = dir.file("m");
    ASSERT_EQ(cli("init " + model + " --layers 1 --d-model 16 --heads 2", dir).code, 0);
    CliRun badHead = cli("maps " + model + " --prompt x --heads 9 --out " + dir.file("o"), dir);
    EXPECT_EQ(badHead.code, 1);
    EXPECT_NE(badHead.output.find("out of range"), std::string::npos) << badHead.output;
    CliRun badKind = cli("maps " + model + " --prompt x --maps A1 --out " + dir.file("o"), dir);
    EXPECT_NE(badKind.output.find("does not exist"), std::string::npos) << badKind.output;
    CliRun empty = cli("maps " + model + " --prompt '' --out " + dir.file("o"), dir);
    EXPECT_NE(empty.output.find("empty"), std::string::npos) << empty.output;
    CliRun twice = cli("init " + model + " --layers 1 --d-model 16 --heads 2", dir);
    EXPECT_NE(twice.output.find("already holds a model"), std::string::npos) << twice.output;
}

TEST(Cli, TaskSamplesAreSeededJsonLinesAndVocabIsNotOverwritten)
{
    TempDir dir;
    CliRun first = cli("task counting --count 3 --seed 4 --max-steps 40", dir);
    CliRun second = cli("task counting --count 3 --seed 4 --max-steps 40", dir);
    ASSERT_EQ(first.code, 0) << first.output;
    EXPECT_EQ(first.output, second.output);
    std::istringstream lines(first.output);
    std::string line;
    int count = 0;
    while (std::getline(lines, line)) {
        const auto sample = nlohmann::json::parse(line);
        const int answer = std::stoi(sample["answer"].get<std::string>());
        EXPECT_GE(answer, 0);
        EXPECT_LE(answer, 10);
        EXPECT_EQ(sample["prompt"].get<std::string>().rfind("print ", std::string::npos) != std::string::npos, true);
        ++count;
    }
    EXPECT_EQ(count, 3);
    const std::string vocab = dir.file("vocab.txt");
    ASSERT_EQ(cli("task flipflop --count 0 --vocab-out " + vocab, dir).code, 0);
    EXPECT_NE(readFile(vocab).value().find("<unk>"), std::string::npos);
    CliRun again = cli("task flipflop --count 0 --vocab-out " + vocab, dir);
    EXPECT_NE(again.code, 0);
    EXPECT_NE(again.output.find("already exists"), std::string::npos) << again.output;
}
