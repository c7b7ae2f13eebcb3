// SPDX-License-Identifier: GPL-3.0-or-later
// attnscope-server's results equal a local run's: tokens, maps bit for bit (float32 and float16), several devices,
// message parts and size limits, and attnscope-cli --server writing the same files as a local run.
#include "remote_test_support.h"

#include "attnscope/dtype.h"
#include "attnscope/model.h"
#include "attnscope/model_source.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <random>
#include <sstream>
#include <thread>
#include <tuple>
#include <unistd.h>

using namespace attn;
using namespace attn::test;

namespace {

TEST_F(RemoteModelTest, TokenizeEqualsTheLocalTokenizer)
{
    for (const std::string& path : {countingModel(), hfModels() + "/llama_gqa", hfModels() + "/gpt2"}) {
        auto loaded = client->load(path, "cpu");
        ASSERT_TRUE(loaded) << path << ": " << loaded.message();
        auto local = openModelSource(path);
        ASSERT_TRUE(local) << local.message();
        const Tokenizer& tokenizer = *(*local)->tokenizer;
        for (const std::string& text :
            {std::string("b = 0 ; pass; b ++; print b"), std::string("Hello  wörld\n\tok"), std::string("")}) {
            auto expected = tokenizer.encodeChecked(text);
            auto remote = client->tokenize(loaded->model.id, text);
            ASSERT_EQ(expected.isOk(), remote.isOk()) << path << ": " << remote.message();
            if (!expected)
                continue;
            EXPECT_EQ(remote->encoding.ids, expected->ids) << path << " '" << text << "'";
            EXPECT_EQ(remote->encoding.spans, expected->spans) << path;
            std::vector<std::string> display;
            for (int64_t id : expected->ids)
                display.push_back(tokenizer.display(id));
            EXPECT_EQ(remote->display, display) << path;
        }
        EXPECT_TRUE(client->unload(loaded->model.id));
    }
}

TEST_F(RemoteModelTest, RemoteMapsEqualLocalMapsBitForBit)
{
    for (const std::string& path :
        {countingModel(), bundledModels() + "/counting-diff-ropecope", hfModels() + "/llama_gqa"}) {
        auto loaded = client->load(path, "cpu");
        ASSERT_TRUE(loaded) << loaded.message();
        auto local = Model::load(path, {DeviceSpec::parse("cpu").value(), ComputeDType::F32});
        ASSERT_TRUE(local) << local.message();
        Model& model = **local;
        const ModelConfig& config = model.config();
        auto encoded = model.tokenizer().encodeChecked("b = 0 ; pass; b ++; pass; print b");
        ASSERT_TRUE(encoded);
        for (MapRegion region : {MapRegion::full(), MapRegion::overview(4, PoolMode::Mean)}) {
            CaptureRequest capture {encoded->ids, {}, availableMapKinds(config, false), region, 0};
            for (int64_t layer = 0; layer < config.nLayers; ++layer)
                for (int64_t head = 0; head < config.nHeads; ++head)
                    capture.heads.push_back({layer, head});
            auto expected = model.capture(capture);
            ASSERT_TRUE(expected) << expected.message();

            AnalysisRequest request;
            request.modelId = loaded->model.id;
            request.tokens = capture.tokens;
            request.heads = capture.heads;
            request.kinds = capture.kinds;
            request.region = region;
            for (bool float16 : {false, true}) {
                Collected got = analyzeAll(*client, request, float16);
                ASSERT_TRUE(got.status) << path << ": " << got.status.message();
                EXPECT_EQ(got.summary.tokens, capture.tokens);
                EXPECT_EQ(got.startTokens, capture.tokens);
                ASSERT_EQ(got.startDisplay.size(), capture.tokens.size());
                for (size_t i = 0; i < capture.tokens.size(); ++i)
                    EXPECT_EQ(got.startDisplay[i], model.tokenizer().display(capture.tokens[i]));
                EXPECT_EQ(got.summary.lambda, expected->lambda);
                ASSERT_EQ(got.summary.lastLogits.size(), expected->lastLogits.size());
                EXPECT_TRUE(sameBits(got.summary.lastLogits, expected->lastLogits)) << path;
                size_t maps = 0;
                for (const LayerResult& layer : got.layers)
                    for (const AttentionMap& map : layer.maps) {
                        ++maps;
                        const AttentionMap* want = expected->find(map.layer, map.head, map.kind);
                        ASSERT_NE(want, nullptr);
                        EXPECT_EQ(map.rows, want->rows);
                        EXPECT_EQ(map.cols, want->cols);
                        EXPECT_EQ(map.rowBlock, want->rowBlock);
                        std::vector<float> wanted = want->values;
                        if (float16)
                            for (float& v : wanted)
                                v = halfToFloat(floatToHalf(v));
                        EXPECT_TRUE(sameBits(map.values, wanted))
                            << path << " L" << map.layer << " H" << map.head << " " << toString(map.kind)
                            << (float16 ? " float16" : " float32");
                    }
                EXPECT_EQ(maps, expected->maps.size());
            }
        }
        EXPECT_TRUE(client->unload(loaded->model.id));
    }
}

TEST(RemoteDevices, AServerWithDevicesSpreadsItsModelsAndItsMapsEqualOneDevice)
{
    // --devices cpu,cpu runs the multi-device path on the CPU (docs/gpu.md); a Load that names no device gets it, one
    // that names a list gets that list.
    ServerProcess server({"--allow", bundledModels(), "--allow", hfModels(), "--devices", "cpu,cpu"});
    ASSERT_TRUE(server.started()) << server.errorLog();
    auto client = connectTo(server.target());
    ASSERT_TRUE(client);
    // Models whose balanced plan over two slots splits them (a tiny model with a large vocabulary would fit slot 0).
    for (const std::string& path : {bundledModels() + "/needles-diff-rope", hfModels() + "/llama_gqa"}) {
        for (const std::string& device : {std::string(), std::string("cpu,cpu")}) {
            auto loaded = client->load(path, device);
            ASSERT_TRUE(loaded) << loaded.message();
            EXPECT_EQ(loaded->model.device, "cpu,cpu") << path;
            auto local = Model::load(path, {DeviceSpec::parse("cpu").value(), ComputeDType::F32});
            ASSERT_TRUE(local) << local.message();
            const ModelConfig& config = (*local)->config();
            auto encoded = (*local)->tokenizer().encodeChecked("b = 0 ; pass; b ++; pass; print b");
            ASSERT_TRUE(encoded);
            CaptureRequest capture {encoded->ids, {}, availableMapKinds(config, false), MapRegion::full(), 0};
            for (int64_t layer = 0; layer < config.nLayers; ++layer)
                for (int64_t head = 0; head < config.nHeads; ++head)
                    capture.heads.push_back({layer, head});
            auto expected = (*local)->capture(capture);
            ASSERT_TRUE(expected) << expected.message();
            AnalysisRequest request;
            request.modelId = loaded->model.id;
            request.tokens = capture.tokens;
            request.heads = capture.heads;
            request.kinds = capture.kinds;
            Collected got = analyzeAll(*client, request, /*float16=*/false);
            ASSERT_TRUE(got.status) << path << ": " << got.status.message();
            EXPECT_TRUE(sameBits(got.summary.lastLogits, expected->lastLogits)) << path;
            size_t maps = 0;
            for (const LayerResult& layer : got.layers)
                for (const AttentionMap& map : layer.maps) {
                    ++maps;
                    const AttentionMap* want = expected->find(map.layer, map.head, map.kind);
                    ASSERT_NE(want, nullptr);
                    EXPECT_TRUE(sameBits(map.values, want->values))
                        << path << " L" << map.layer << " H" << map.head << " " << toString(map.kind);
                }
            EXPECT_EQ(maps, expected->maps.size());
            EXPECT_TRUE(client->unload(loaded->model.id));
        }
    }
}

TEST_F(RemoteModelTest, RefusesFullMapsAboveTheLimit)
{
    auto loaded = client->load(countingModel(), "cpu");
    ASSERT_TRUE(loaded) << loaded.message();
    AnalysisRequest request;
    request.modelId = loaded->model.id;
    request.tokens.assign(kMaxFullMapTokens + 1, 1);
    request.heads = {{0, 0}};
    request.kinds = {MapKind::A};
    Collected full = analyzeAll(*client, request);
    EXPECT_EQ(full.status.code(), StatusCode::Invalid);
    EXPECT_NE(full.status.message().find("full maps stop at 8192 tokens"), std::string::npos) << full.status.message();
    EXPECT_NE(server->errorLog().find("Analyze refused"), std::string::npos);
}

TEST(RemoteMessages, ALayerAboveTheMessageLimitComesInPartsAndAnOversizedMapIsRefused)
{
    TempDir work;
    const std::string path = makeSlowModel(work.path());
    ServerProcess server({"--allow", work.path().string(), "--max-message-mib", "1"});
    ASSERT_TRUE(server.started()) << server.errorLog();
    auto client = connectTo(server.target());
    ASSERT_TRUE(client);
    auto loaded = client->load(path, "cpu");
    ASSERT_TRUE(loaded) << loaded.message();
    // 400 tokens: one full map is 625 KiB, a layer's 8 heads 5 MiB: five parts or more, joined by the client.
    AnalysisRequest request;
    request.modelId = loaded->model.id;
    request.tokens = slowRequest(0).tokens;
    request.tokens.resize(400);
    request.kinds = {MapKind::A};
    for (int64_t layer : {0, 1})
        for (int64_t head = 0; head < 8; ++head)
            request.heads.push_back({layer, head});
    remote::AnalyzeStats stats;
    std::vector<LayerResult> layers;
    AnalysisSink sink;
    sink.layer = [&](LayerResult layer) { layers.push_back(std::move(layer)); };
    Status status = client->analyze(request, false, sink, CancelToken(), &stats);
    ASSERT_TRUE(status) << status.message();
    EXPECT_GE(stats.messages, 2 + 2 * 5); // started, summary, and at least five parts per layer
    auto local = Model::load(path, {DeviceSpec::parse("cpu").value(), ComputeDType::F32});
    ASSERT_TRUE(local) << local.message();
    auto expected = (*local)->capture({request.tokens, request.heads, request.kinds, MapRegion::full(), 0});
    ASSERT_TRUE(expected) << expected.message();
    ASSERT_EQ(layers.size(), 2u);
    for (const LayerResult& layer : layers) {
        ASSERT_EQ(layer.maps.size(), 8u);
        for (const AttentionMap& map : layer.maps) {
            const AttentionMap* want = expected->find(map.layer, map.head, map.kind);
            ASSERT_NE(want, nullptr);
            EXPECT_TRUE(sameBits(map.values, want->values)) << "L" << map.layer << " H" << map.head;
        }
    }
    // 600 tokens: one map alone (1.4 MiB) is above the limit.
    request.tokens = slowRequest(0).tokens;
    request.tokens.resize(600);
    Collected big = analyzeAll(*client, request);
    EXPECT_EQ(big.status.code(), StatusCode::Refused);
    EXPECT_NE(big.status.message().find("above this server's message limit of 1 MiB"), std::string::npos)
        << big.status.message();
}

/// attnscope-cli's output files with and without --server.
TEST_F(RemoteModelTest, CliWritesTheSameFilesAsALocalRun)
{
    const std::string model = bundledModels() + "/counting-diff-ropecope";
    const fs::path localOut = work.path() / "local";
    const fs::path remoteOut = work.path() / "remote";
    const std::vector<std::string> maps {
        ATTNSCOPE_CLI_PATH, "maps", model, "--prompt", "b = 0 ; b ++; print b", "--device", "cpu"};
    auto withOut = [&](const fs::path& out, std::vector<std::string> extra) {
        std::vector<std::string> argv = maps;
        argv.push_back("--out");
        argv.push_back(out.string());
        argv.insert(argv.end(), extra.begin(), extra.end());
        return argv;
    };
    ASSERT_EQ(test::runCommand(withOut(localOut, {}), (work.path() / "l.txt").string()), 0);
    ASSERT_EQ(test::runCommand(withOut(remoteOut, {"--server", server->target()}), (work.path() / "r.txt").string()), 0)
        << readText(work.path() / "r.txt");
    size_t files = 0;
    for (const auto& entry : fs::directory_iterator(localOut)) {
        const std::string name = entry.path().filename().string();
        ASSERT_TRUE(fs::exists(remoteOut / name)) << name;
        if (name == "maps.json")
            continue;
        EXPECT_EQ(readText(entry.path()), readText(remoteOut / name)) << name;
        ++files;
    }
    EXPECT_GT(files, 10u);
    // maps.json: the same but for when it was made and how long it took.
    auto localJson = nlohmann::json::parse(readText(localOut / "maps.json"));
    auto remoteJson = nlohmann::json::parse(readText(remoteOut / "maps.json"));
    for (const char* key : {"seconds", "created"}) {
        EXPECT_TRUE(localJson.contains(key) && remoteJson.contains(key)) << key;
        localJson.erase(key);
        remoteJson.erase(key);
    }
    EXPECT_EQ(localJson.dump(2), remoteJson.dump(2));

    // info, text and JSON: byte for byte.
    for (const std::string& flag : {std::string("--text"), std::string("--json")}) {
        std::vector<std::string> info {ATTNSCOPE_CLI_PATH, "info", model};
        if (flag == "--json")
            info.push_back(flag);
        const fs::path a = work.path() / "info-local.txt", b = work.path() / "info-remote.txt";
        ASSERT_EQ(test::runCommand(info, a.string()), 0);
        info.push_back("--server");
        info.push_back(server->target());
        ASSERT_EQ(test::runCommand(info, b.string()), 0) << readText(b);
        EXPECT_EQ(readText(a), readText(b));
        EXPECT_GT(readText(a).size(), 200u);
    }
    // The CLI unloads what it loaded when it ends: its three models (maps, info, info --json) are gone.
    const std::string log = server->errorLog();
    for (int id = 1; id <= 3; ++id) {
        EXPECT_NE(log.find(" as model " + std::to_string(id) + " on cpu"), std::string::npos) << log;
        auto info = client->modelInfo(id, false);
        ASSERT_FALSE(info) << "model " << id << " is still loaded";
        EXPECT_NE(info.message().find("no model " + std::to_string(id)), std::string::npos) << info.message();
    }
}

} // namespace
