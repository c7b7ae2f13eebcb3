// SPDX-License-Identifier: GPL-3.0-or-later
// attnscope-server's start-up rules: loopback by default; any other address needs TLS and a token.
#include "server_options.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace fs = std::filesystem;
using attn::server::prepareServer;
using attn::server::ServerOptions;

namespace {

class ServerOptionsTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        ::unsetenv("ATTNSCOPE_TOKEN");
        dir = fs::temp_directory_path() / ("attnscope-options-" + std::to_string(::getpid()));
        fs::create_directories(dir);
        std::ofstream(dir / "token") << "tok\n";
        std::ofstream(dir / "cert.pem") << "-----BEGIN CERTIFICATE-----\n";
        std::ofstream(dir / "key.pem") << "-----BEGIN PRIVATE KEY-----\n";
        options.allow = {dir.string()};
    }
    void TearDown() override { fs::remove_all(dir); }
    fs::path dir;
    ServerOptions options;
};

TEST_F(ServerOptionsTest, LoopbackNeedsNeitherTlsNorToken)
{
    for (const std::string listen : {"127.0.0.1:0", "localhost:50051", "[::1]:50051"}) {
        options.listen = listen;
        auto setup = prepareServer(options);
        ASSERT_TRUE(setup) << listen << ": " << setup.message();
        EXPECT_TRUE(setup->token.empty());
        EXPECT_EQ(setup->allowedRoots, std::vector<std::string> {fs::canonical(dir).string()});
    }
}

TEST_F(ServerOptionsTest, OtherAddressesNeedTlsAndToken)
{
    options.listen = "0.0.0.0:50051";
    auto bare = prepareServer(options);
    ASSERT_FALSE(bare);
    EXPECT_EQ(bare.status().code(), attn::StatusCode::Refused);
    EXPECT_NE(bare.message().find("needs TLS"), std::string::npos) << bare.message();
    options.tokenFile = (dir / "token").string();
    EXPECT_FALSE(prepareServer(options)) << "a token without TLS";
    options.tokenFile.clear();
    options.tlsCert = (dir / "cert.pem").string();
    options.tlsKey = (dir / "key.pem").string();
    EXPECT_FALSE(prepareServer(options)) << "TLS without a token";
    options.tokenFile = (dir / "token").string();
    auto setup = prepareServer(options);
    ASSERT_TRUE(setup) << setup.message();
    EXPECT_EQ(setup->token, "tok");
    ::setenv("ATTNSCOPE_TOKEN", "from-env", 1);
    options.tokenFile.clear();
    auto fromEnv = prepareServer(options);
    ::unsetenv("ATTNSCOPE_TOKEN");
    ASSERT_TRUE(fromEnv) << fromEnv.message();
    EXPECT_EQ(fromEnv->token, "from-env");
}

TEST_F(ServerOptionsTest, RefusesMissingFoldersAndHalfTls)
{
    options.allow = {(dir / "missing").string()};
    EXPECT_FALSE(prepareServer(options));
    options.allow = {dir.string()};
    options.tlsCert = (dir / "cert.pem").string();
    auto half = prepareServer(options);
    ASSERT_FALSE(half);
    EXPECT_NE(half.message().find("go together"), std::string::npos);
    EXPECT_FALSE(attn::server::listenHost("50051"));
    EXPECT_EQ(*attn::server::listenHost("[::1]:1"), "::1");
    EXPECT_TRUE(attn::server::isLoopbackHost("127.0.0.2"));
    EXPECT_FALSE(attn::server::isLoopbackHost("10.0.0.1"));
}

TEST_F(ServerOptionsTest, DevicesAndDeviceMapsAreCheckedAtStart)
{
    options.devices = "cuda:0,cuda:1";
    options.deviceMap = "sequential";
    auto setup = prepareServer(options);
    ASSERT_TRUE(setup) << setup.message();
    ASSERT_EQ(setup->devices.size(), 2u);
    EXPECT_EQ(setup->devices[1].toString(), "cuda:1");
    EXPECT_EQ(setup->strategy, attn::DeviceMapStrategy::Sequential);
    EXPECT_TRUE(setup->deviceMapText.empty());

    options.devices = "cuda:0,gpu1";
    auto bad = prepareServer(options);
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.message().find("--devices: the device list 'cuda:0,gpu1': unknown device 'gpu1'"), std::string::npos)
        << bad.message();

    options.devices.clear();
    options.deviceMap = "0-15:cuda:0,16-31:cuda:1";
    auto ranges = prepareServer(options);
    ASSERT_TRUE(ranges) << ranges.message();
    EXPECT_EQ(ranges->deviceMapText, options.deviceMap);

    std::ofstream(dir / "map.json") << R"({"": 0})";
    options.deviceMap = (dir / "map.json").string();
    auto file = prepareServer(options);
    ASSERT_TRUE(file) << file.message();
    EXPECT_EQ(file->deviceMapText, R"({"": 0})");
    options.deviceMap = (dir / "missing.json").string();
    auto missing = prepareServer(options);
    ASSERT_FALSE(missing);
    EXPECT_NE(missing.message().find("--device-map " + options.deviceMap), std::string::npos) << missing.message();
}

TEST_F(ServerOptionsTest, IdleUnloadIsCheckedAtStart)
{
    auto byDefault = prepareServer(options);
    ASSERT_TRUE(byDefault) << byDefault.message();
    EXPECT_EQ(byDefault->idleUnloadSeconds, 300);
    options.idleUnloadSeconds = 0; // never
    auto never = prepareServer(options);
    ASSERT_TRUE(never) << never.message();
    EXPECT_EQ(never->idleUnloadSeconds, 0);
    for (const int64_t bad : {int64_t(-1), int64_t(7 * 24 * 3600 + 1)}) {
        options.idleUnloadSeconds = bad;
        auto refused = prepareServer(options);
        ASSERT_FALSE(refused) << bad;
        EXPECT_NE(refused.message().find("--idle-unload"), std::string::npos) << refused.message();
    }
}

} // namespace
