// SPDX-License-Identifier: GPL-3.0-or-later
// attnscope-cli --devices / --device-map (issue 13, several GPUs) on the CPU: `info` prints the device map, and `maps`
// and `generate` over {cpu, cpu} or an explicit map write what one device writes.
#include "attnscope/fileio.h"
#include "cli_runner.h"
#include "test_helpers.h"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sys/wait.h>

using namespace attn;
using attn::test::cli;
using attn::test::CliRun;
using attn::test::TempDir;

namespace {

/// Every .npy of folder a has a byte-identical twin in folder b, and both hold the same number of files.
void expectSameNpyFiles(const std::string& a, const std::string& b)
{
    namespace fs = std::filesystem;
    int count = 0;
    for (const auto& entry : fs::directory_iterator(a)) {
        if (entry.path().extension() != ".npy")
            continue;
        ++count;
        const std::string twin = b + "/" + entry.path().filename().string();
        ASSERT_TRUE(fs::exists(twin)) << twin;
        EXPECT_EQ(readFile(entry.path().string()).value(), readFile(twin).value()) << entry.path().filename();
    }
    int countB = 0;
    for (const auto& entry : fs::directory_iterator(b))
        countB += entry.path().extension() == ".npy";
    EXPECT_EQ(count, countB);
    EXPECT_GT(count, 0);
}

class CliDevices : public ::testing::Test {
protected:
    void SetUp() override
    {
        model = dir.file("model");
        CliRun init = cli(
            "init " + model + " --attention diff --position rope+cope --layers 4 --d-model 32 --heads 2 --seed 3", dir);
        ASSERT_EQ(init.code, 0) << init.output;
    }
    TempDir dir;
    std::string model;
};

TEST_F(CliDevices, InfoPrintsTheDeviceMap)
{
    CliRun text = cli("info " + model + " --devices cpu,cpu", dir);
    ASSERT_EQ(text.code, 0) << text.output;
    const size_t devices = text.output.find("\ndevices\n  cpu  embeddings, layer");
    ASSERT_NE(devices, std::string::npos) << text.output;
    EXPECT_NE(text.output.find("3, final norm, head (", devices), std::string::npos) << text.output;

    CliRun json = cli("info " + model + " --device-map 0-0:cpu,1-3:cpu --json", dir);
    ASSERT_EQ(json.code, 0) << json.output;
    const auto map = nlohmann::json::parse(json.output).at("device_map");
    EXPECT_EQ(map.size(), 7u) << map.dump(); // embeddings, 4 layers, norm, head
    EXPECT_EQ(map.at("layers.3"), "cpu");

    CliRun plain = cli("info " + model, dir);
    ASSERT_EQ(plain.code, 0) << plain.output;
    EXPECT_EQ(plain.output.find("\ndevices\n"), std::string::npos) << "only when a placement is asked for";
}

TEST_F(CliDevices, MapsAndGenerateOverTwoDevicesWriteWhatOneDeviceWrites)
{
    const std::string args = " --prompt 'a = 0 ; a ++; print a' --layers all --heads all --maps all --out ";
    const std::string one = dir.file("one");
    ASSERT_EQ(cli("maps " + model + args + one + " --device cpu", dir).code, 0);

    const std::string two = dir.file("two");
    CliRun split = cli("maps " + model + args + two + " --devices cpu,cpu", dir);
    ASSERT_EQ(split.code, 0) << split.output;
    expectSameNpyFiles(two, one);
    const auto manifest = nlohmann::json::parse(readFile(two + "/maps.json").value());
    EXPECT_EQ(manifest.at("device"), "cpu,cpu");

    const std::string hfMap = dir.file("device_map.json");
    std::ofstream(hfMap) << R"({"model.embed_tokens": "cpu", "model.layers.0": "cpu", "model.layers.1": "cpu",
        "model.layers.2": "cpu", "model.layers.3": "cpu", "model.norm": "cpu", "lm_head": "cpu"})";
    for (const std::string& map : {std::string("0-2:cpu,3-3:cpu"), hfMap}) {
        const std::string out = dir.file("explicit" + std::to_string(map.size()));
        CliRun run = cli("maps " + model + args + out + " --device-map " + map, dir);
        ASSERT_EQ(run.code, 0) << run.output;
        expectSameNpyFiles(out, one);
    }

    CliRun genOne = cli("generate " + model + " --prompt abc --tokens 5 --device cpu", dir);
    CliRun genTwo
        = cli("generate " + model + " --prompt abc --tokens 5 --devices cpu,cpu --device-map sequential", dir);
    ASSERT_EQ(genOne.code, 0) << genOne.output;
    ASSERT_EQ(genTwo.code, 0) << genTwo.output;
    EXPECT_EQ(genTwo.output, genOne.output);
}

TEST_F(CliDevices, BadDevicesAndMapsAreNamed)
{
    CliRun bad = cli("info " + model + " --devices cpu,tpu", dir);
    EXPECT_NE(bad.code, 0);
    EXPECT_NE(bad.output.find("--devices: the device list 'cpu,tpu': unknown device 'tpu'"), std::string::npos)
        << bad.output;
    CliRun noList = cli("generate " + model + " --prompt abc --tokens 1 --device-map sequential", dir);
    EXPECT_NE(noList.code, 0);
    EXPECT_NE(noList.output.find("give the list"), std::string::npos) << noList.output;
    CliRun gap = cli("maps " + model + " --prompt abc --out " + dir.file("gap") + " --device-map 0-1:cpu,3-3:cpu", dir);
    EXPECT_NE(gap.code, 0);
    EXPECT_NE(gap.output.find("does not place layer 2"), std::string::npos) << gap.output;
    CliRun missingFile = cli("info " + model + " --device-map " + dir.file("nope.json"), dir);
    EXPECT_NE(missingFile.code, 0);
    EXPECT_NE(missingFile.output.find("nope.json"), std::string::npos) << missingFile.output;
}

} // namespace
