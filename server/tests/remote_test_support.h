// SPDX-License-Identifier: GPL-3.0-or-later
// What the real-process tests of attnscope-server share (test_remote*.cpp): where the models are, a connected client,
// a temporary folder, a whole Analyze call collected, bit-for-bit comparison, the fixture that runs a server beside
// a client, and a model slow enough to cancel.
#pragma once

#include "server_process.h"

#include "attnscope/analysis.h"
#include "attnscope/remote/remote_client.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <unistd.h>
#include <vector>

namespace attn::test {

namespace fs = std::filesystem;
using remote::RemoteClient;

std::string bundledModels(); ///< resources/models, canonical
std::string countingModel(); ///< the bundled counting-softmax-rope
std::string hfModels(); ///< tests/data/hf, canonical
std::string readText(const fs::path& path);
/// A client connected to target (with a token, a CA file for TLS); null, and a test failure, when it cannot connect.
std::unique_ptr<RemoteClient> connectTo(
    const std::string& target, const std::string& token = {}, const std::string& ca = {}, double seconds = 5.0);
double secondsSince(std::chrono::steady_clock::time_point start);
bool sameBits(const std::vector<float>& a, const std::vector<float>& b);

/// A per-test temporary folder.
class TempDir {
public:
    TempDir()
    {
        static int counter = 0;
        m_path = fs::temp_directory_path()
            / ("attnscope-remote-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
        fs::remove_all(m_path);
        fs::create_directories(m_path);
        m_path = fs::canonical(m_path);
    }
    ~TempDir() { fs::remove_all(m_path); }
    const fs::path& path() const { return m_path; }

private:
    fs::path m_path;
};

/// Runs a request on the server and collects every layer's results.
struct Collected {
    Status status = Status::ok();
    std::vector<LayerResult> layers;
    AnalysisSummary summary;
    int64_t layersTotal = 0;
    uint64_t requestId = 0;
    std::vector<int64_t> startTokens;
    std::vector<std::string> startDisplay;
};
Collected analyzeAll(RemoteClient& client, const AnalysisRequest& request, bool float16 = false);

/// A random attnscope model deep enough that a run takes seconds on a CPU, made by attnscope-cli init in dir.
std::string makeSlowModel(const fs::path& dir);
/// Every layer's head 0 of the slow model over 1200 random tokens, as 32² overviews.
AnalysisRequest slowRequest(int modelId);

/// A server allowing the bundled models, the Hugging Face fixtures and a temporary folder, and a client connected to it.
class RemoteModelTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        server = std::make_unique<ServerProcess>(std::vector<std::string> {
            "--allow", bundledModels(), "--allow", hfModels(), "--allow", work.path().string()});
        ASSERT_TRUE(server->started()) << server->errorLog();
        client = connectTo(server->target());
        ASSERT_TRUE(client);
    }
    TempDir work;
    std::unique_ptr<ServerProcess> server;
    std::unique_ptr<RemoteClient> client;
};

} // namespace attn::test
