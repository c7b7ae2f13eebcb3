// SPDX-License-Identifier: GPL-3.0-or-later
#include "remote_test_support.h"

#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

namespace attn::test {

namespace {

const std::string kSource = ATTNSCOPE_SOURCE_DIR;

std::string canonicalPath(const std::string& path)
{
    return fs::canonical(path).string();
}

} // namespace

std::string bundledModels()
{
    return canonicalPath(kSource + "/resources/models");
}
std::string countingModel()
{
    return bundledModels() + "/counting-softmax-rope";
}
std::string hfModels()
{
    return canonicalPath(kSource + "/tests/data/hf");
}

std::string readText(const fs::path& path)
{
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

std::unique_ptr<RemoteClient> connectTo(
    const std::string& target, const std::string& token, const std::string& ca, double seconds)
{
    remote::ConnectOptions options;
    options.target = target;
    options.token = token;
    options.tlsCaFile = ca;
    options.connectSeconds = seconds;
    auto client = RemoteClient::connect(options);
    EXPECT_TRUE(client) << client.message();
    return client ? std::move(*client) : nullptr;
}

double secondsSince(std::chrono::steady_clock::time_point start)
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

bool sameBits(const std::vector<float>& a, const std::vector<float>& b)
{
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

Collected analyzeAll(RemoteClient& client, const AnalysisRequest& request, bool float16)
{
    Collected out;
    AnalysisSink sink;
    sink.started = [&](AnalysisStart start) {
        out.requestId = start.requestId;
        out.layersTotal = start.layersTotal;
        out.startTokens = start.tokens;
        out.startDisplay = start.tokenDisplay;
    };
    sink.layer = [&](LayerResult layer) { out.layers.push_back(std::move(layer)); };
    sink.finished = [&](AnalysisSummary summary) { out.summary = std::move(summary); };
    out.status = client.analyze(request, float16, sink);
    return out;
}

std::string makeSlowModel(const fs::path& dir)
{
    const std::string path = (dir / "slow").string();
    const int rc = test::runCommand({ATTNSCOPE_CLI_PATH, "init", path, "--layers", "32", "--d-model", "128", "--heads",
                                        "8", "--max-seq-len", "2048", "--seed", "3"},
        (dir / "init.out").string());
    EXPECT_EQ(rc, 0);
    return path;
}

AnalysisRequest slowRequest(int modelId)
{
    AnalysisRequest request;
    request.modelId = modelId;
    std::mt19937 rng(7);
    for (int i = 0; i < 1200; ++i)
        request.tokens.push_back(static_cast<int64_t>(rng() % 200));
    request.kinds = {MapKind::A};
    request.region = MapRegion::overview(32);
    for (int64_t layer = 0; layer < 32; ++layer)
        request.heads.push_back({layer, 0});
    return request;
}

} // namespace attn::test
