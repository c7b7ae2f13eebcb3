// SPDX-License-Identifier: GPL-3.0-or-later
// attnscope-cli end to end: init -> info -> maps (files, manifest, overwrite protection) -> generate.
#include "attnscope/fileio.h"
#include "attnscope/npy.h"
#include "cli_runner.h"
#include "test_helpers.h"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <sys/wait.h>

using namespace attn;
using attn::test::cli;
using attn::test::CliRun;
using attn::test::TempDir;

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
    EXPECT_NE(missing.output.find("no such model folder or checkpoint file"), std::string::npos) << missing.output;
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
    // Issue #15, defect 9: option values that once printed a 309-digit bound, wrote nothing and exited 0, or had no
    // folder to write to.
    for (const char* option : {"--overview 0", "--tile 0", "--overview -3", "--tile x"}) {
        CliRun bad = cli("maps " + model + " --prompt x " + option + " --out " + dir.file("o"), dir);
        EXPECT_NE(bad.code, 0) << option;
        EXPECT_NE(bad.output.find("at least 1"), std::string::npos) << option << ": " << bad.output;
        EXPECT_LT(bad.output.size(), 600u) << option << ": " << bad.output;
    }
    CliRun noKinds = cli("maps " + model + " --prompt x --maps '' --out " + dir.file("o"), dir);
    EXPECT_EQ(noKinds.code, 1) << noKinds.output;
    EXPECT_NE(noKinds.output.find("at least one map kind"), std::string::npos) << noKinds.output;
    EXPECT_FALSE(std::filesystem::exists(dir.file("o")));
    CliRun noOut = cli("maps " + model + " --prompt x --out ''", dir);
    EXPECT_NE(noOut.code, 0);
    EXPECT_NE(noOut.output.find("must name a folder"), std::string::npos) << noOut.output;
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

TEST(Cli, TrainThenEvalReportsSplitsAndNeedleAllocation)
{
    TempDir dir;
    const std::string tiny = " --layers 1 --d-model 16 --heads 2 --steps 2 --batch 4 --eval-every 0 --eval-samples 4"
                             " --device cpu";
    const std::string flip = dir.file("flip");
    CliRun trained = cli("train --task flipflop --length 16" + tiny + " --out " + flip, dir);
    ASSERT_EQ(trained.code, 0) << trained.output;
    CliRun text = cli("eval " + flip + " --task flipflop --length 16 --samples 8 --device cpu", dir);
    ASSERT_EQ(text.code, 0) << text.output;
    for (const char* split : {"in-distribution, p_ignore 0.80", "sparse, p_ignore 0.98", "dense, p_ignore 0.10"})
        EXPECT_NE(text.output.find(split), std::string::npos) << text.output;
    CliRun json = cli("eval " + flip + " --task flipflop --length 16 --samples 8 --device cpu --json", dir);
    ASSERT_EQ(json.code, 0) << json.output;
    const auto splits = nlohmann::json::parse(json.output).at("splits");
    ASSERT_EQ(splits.size(), 3u);
    EXPECT_EQ(splits[1].at("name"), "sparse");
    EXPECT_EQ(splits[1].at("options").at("p_ignore").get<double>(), 0.98);
    EXPECT_EQ(splits[2].at("samples").get<int>(), 8);

    const std::string needles = dir.file("needles");
    const std::string task = " --task needles --context-words 24 --needles 2";
    trained = cli("train" + task + " --bos --max-seq-len 96" + tiny + " --out " + needles, dir);
    ASSERT_EQ(trained.code, 0) << trained.output;
    json = cli("eval " + needles + task + " --samples 4 --depth-samples 2 --device cpu --json", dir);
    ASSERT_EQ(json.code, 0) << json.output;
    const auto allocation = nlohmann::json::parse(json.output).at("allocation");
    ASSERT_EQ(allocation.size(), 5u);
    for (const auto& row : allocation) {
        const double sum = row.at("answer").get<double>() + row.at("noise").get<double>() + row.at("bos").get<double>()
            + row.at("query").get<double>();
        EXPECT_NEAR(sum, 1.0, 1e-4) << row.dump();
    }
    EXPECT_EQ(allocation[4].at("depth").get<int>(), 100);
    text = cli("eval " + needles + task + " --samples 4 --depth-samples 2 --device cpu", dir);
    EXPECT_NE(text.output.find("attention allocation"), std::string::npos) << text.output;
    CliRun tooLong = cli("eval " + needles + " --task needles --context-words 300 --samples 2 --device cpu", dir);
    EXPECT_NE(tooLong.code, 0);
    EXPECT_NE(tooLong.output.find("max_seq_len"), std::string::npos) << tooLong.output;
}

TEST(Cli, BenchWritesEveryRequestedMeasurementAndStretchesShortModels)
{
    TempDir dir;
    const std::string model = dir.file("model");
    ASSERT_EQ(
        cli("init " + model + " --attention diff --position rope --layers 2 --d-model 32 --heads 2 --max-seq-len 64",
            dir)
            .code,
        0);
    const std::string json = dir.file("bench.json");
    // 96 tokens is beyond the model's max_seq_len of 64: bench runs a stretched copy (RoPE runs at any length).
    CliRun bench
        = cli("bench " + model + " --tokens 48,96 --repeats 1 --overview 16 --paths all,window,maps --tile 8 --work "
                + dir.file("work") + " --json " + json,
            dir);
    ASSERT_EQ(bench.code, 0) << bench.output;
    const auto doc = nlohmann::json::parse(readFile(json).value());
    EXPECT_EQ(doc["overview"], 16);
    EXPECT_GE(doc["cpu_threads"].get<int>(), 1);
    const auto& rows = doc["rows"];
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0]["tokens"], 48);
    EXPECT_EQ(rows[1]["tokens"], 96);
    for (const auto& row : rows) {
        EXPECT_GT(row["overview_all"]["seconds"].get<double>(), 0.0);
        EXPECT_GT(row["window_256"]["seconds"].get<double>(), 0.0);
        EXPECT_GT(row["naive_head"]["seconds"].get<double>(), 0.0);
        EXPECT_GT(row["every_map"]["seconds"].get<double>(), 0.0);
        EXPECT_EQ(row["forward"]["error"], "skipped"); // not in --paths
        EXPECT_TRUE(row["forward"]["seconds"].is_null());
        EXPECT_GT(row["floor_all_seconds"].get<double>(), 0.0);
    }

    CliRun bad = cli("bench --shape diff-7b --tokens 16", dir);
    EXPECT_NE(bad.code, 0);
    EXPECT_NE(bad.output.find("unknown shape 'diff-7b'"), std::string::npos) << bad.output;
}

// tokenize on a tokenizer.json fixture: the ids and spans must be those the `tokenizers` library recorded.
TEST(Cli, TokenizeJsonAndJsonl)
{
    TempDir dir;
    const std::string fixture = std::string(ATTNSCOPE_TEST_DATA_DIR) + "/hf-tokenizers/llama3";
    const auto expected = nlohmann::json::parse(readFile(fixture + "/expected.json").value());
    std::vector<nlohmann::json> cases;
    for (const auto& c : expected["cases"])
        if (c["add_special_tokens"] == true)
            cases.push_back(c);
    ASSERT_GT(cases.size(), 3u);

    attn::test::writeBytes(dir.file("one.txt"), cases[1]["text"].get<std::string>());
    CliRun one = cli("tokenize " + fixture + " --text-file " + dir.file("one.txt") + " --json", dir);
    ASSERT_EQ(one.code, 0) << one.output;
    const auto oneJson = nlohmann::json::parse(one.output);
    EXPECT_EQ(oneJson["ids"], cases[1]["ids"]);
    EXPECT_EQ(oneJson["spans"], cases[1]["spans"]);
    EXPECT_EQ(oneJson["tokens"].size(), oneJson["ids"].size());

    std::string lines;
    for (const auto& c : cases)
        lines += nlohmann::json(c["text"]).dump() + "\n";
    attn::test::writeBytes(dir.file("in.jsonl"), lines);
    CliRun many = cli("tokenize " + fixture + " --jsonl " + dir.file("in.jsonl"), dir);
    ASSERT_EQ(many.code, 0) << many.output;
    std::istringstream out(many.output);
    std::string line;
    size_t i = 0;
    for (; std::getline(out, line); ++i) {
        ASSERT_LT(i, cases.size());
        const auto got = nlohmann::json::parse(line);
        EXPECT_EQ(got["ids"], cases[i]["ids"]) << "line " << i;
        EXPECT_EQ(got["spans"], cases[i]["spans"]) << "line " << i;
    }
    EXPECT_EQ(i, cases.size());

    CliRun noSpecial = cli("tokenize " + fixture + " --text 'Hello world' --no-special --json", dir);
    ASSERT_EQ(noSpecial.code, 0) << noSpecial.output;
    EXPECT_EQ(nlohmann::json::parse(noSpecial.output)["ids"].size() + 1,
        nlohmann::json::parse(cli("tokenize " + fixture + " --text 'Hello world' --json", dir).output)["ids"].size());
}
