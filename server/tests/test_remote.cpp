// SPDX-License-Identifier: GPL-3.0-or-later
// attnscope-server as a real process on loopback, driven by the real client code: starting, listing, access (token,
// allowed folders, TLS with a certificate made here by the openssl command), client ids, a killed or absent server.
#include "attnscope.grpc.pb.h"
#include "client_id.h"
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

TEST(RemoteServer, RefusesToStartOnAnotherAddressWithoutTlsAndToken)
{
    TempDir dir;
    ServerProcess server({"--listen", "0.0.0.0:0", "--allow", dir.path().string()});
    EXPECT_FALSE(server.started());
    EXPECT_EQ(server.waitExit(10), 2);
    EXPECT_NE(server.errorLog().find("needs TLS (--tls-cert and --tls-key) and a token"), std::string::npos)
        << server.errorLog();
}

TEST(RemoteServer, ListsWhatTheAllowedFoldersHold)
{
    ServerProcess server({"--allow", bundledModels(), "--allow", hfModels()});
    ASSERT_TRUE(server.started()) << server.errorLog();
    auto client = connectTo(server.target());
    ASSERT_TRUE(client);
    auto list = client->listModels();
    ASSERT_TRUE(list) << list.message();
    EXPECT_EQ(list->roots, (std::vector<std::string> {bundledModels(), hfModels()}));
    // Expected: every folder directly inside the two roots that holds a config.json.
    std::vector<std::tuple<std::string, std::string, std::string>> expected, listed;
    for (const std::string& root : {bundledModels(), hfModels()})
        for (const auto& entry : fs::directory_iterator(root))
            if (fs::exists(entry.path() / "config.json"))
                expected.emplace_back(root, entry.path().filename().string(), "folder");
    std::sort(expected.begin(), expected.end());
    for (const auto& m : list->models)
        listed.emplace_back(m.root, m.relativePath, m.kind);
    EXPECT_EQ(listed, expected);
    EXPECT_GE(listed.size(), 20u);
}

TEST(RemoteServer, RefusesAWrongOrMissingToken)
{
    TempDir dir;
    ServerProcess server({"--allow", dir.path().string()}, {"ATTNSCOPE_TOKEN=correct horse battery"});
    ASSERT_TRUE(server.started()) << server.errorLog();
    for (const std::string& token : {std::string(), std::string("correct horse battery!"), std::string("x")}) {
        auto client = connectTo(server.target(), token);
        ASSERT_TRUE(client);
        auto list = client->listModels();
        ASSERT_FALSE(list) << "token '" << token << "'";
        EXPECT_EQ(list.status().code(), StatusCode::Refused);
        EXPECT_NE(list.message().find("refused the token"), std::string::npos) << list.message();
    }
    auto client = connectTo(server.target(), "correct horse battery");
    ASSERT_TRUE(client);
    auto list = client->listModels();
    EXPECT_TRUE(list) << list.message();
    const std::string log = server.errorLog();
    EXPECT_NE(log.find("ListModels refused: wrong token"), std::string::npos) << log;
    EXPECT_NE(log.find("ListModels refused: this server needs a token"), std::string::npos) << log;
    EXPECT_NE(log.find("127.0.0.1"), std::string::npos) << log; // the peer address
}

TEST(RemoteServer, RefusesPathsOutsideTheAllowedFolders)
{
    TempDir dir;
    fs::create_directories(dir.path() / "allowed" / "sub");
    fs::create_directory_symlink(countingModel(), dir.path() / "allowed" / "escape");
    ServerProcess server({"--allow", (dir.path() / "allowed").string()});
    ASSERT_TRUE(server.started()) << server.errorLog();
    auto client = connectTo(server.target());
    ASSERT_TRUE(client);
    struct Case {
        std::string path;
        StatusCode code;
        std::string message;
    };
    for (const Case& c : std::vector<Case> {
             {countingModel(), StatusCode::Refused, "outside the server's allowed folders"},
             {"escape", StatusCode::Refused, "a symlink leads out of them"},
             {"sub/../escape", StatusCode::Invalid, "'..' is not allowed"},
             {"../allowed/sub", StatusCode::Invalid, "'..' is not allowed"},
             {(dir.path() / "allowed" / ".." / "x").string(), StatusCode::Invalid, "'..' is not allowed"},
             {"missing", StatusCode::Invalid, "no such file or folder"},
         }) {
        auto loaded = client->load(c.path, "cpu");
        ASSERT_FALSE(loaded) << c.path;
        EXPECT_EQ(loaded.status().code(), c.code) << c.path << ": " << loaded.message();
        EXPECT_NE(loaded.message().find(c.message), std::string::npos) << c.path << ": " << loaded.message();
    }
    auto list = client->listModels();
    ASSERT_TRUE(list) << list.message();
    EXPECT_TRUE(list->models.empty()) << "the symlink out is not listed";
    const std::string log = server.errorLog();
    EXPECT_NE(log.find("Load refused: '" + countingModel() + "' is outside"), std::string::npos) << log;
    EXPECT_NE(log.find("Load refused: 'sub/../escape'"), std::string::npos) << log;
}

TEST(RemoteServer, KilledServerGivesTheClientAClearError)
{
    TempDir dir;
    auto server = std::make_unique<ServerProcess>(std::vector<std::string> {"--allow", dir.path().string()});
    ASSERT_TRUE(server->started()) << server->errorLog();
    const std::string target = server->target();
    auto client = connectTo(target);
    ASSERT_TRUE(client);
    ASSERT_TRUE(client->listModels());
    server->kill();
    auto list = client->listModels();
    ASSERT_FALSE(list);
    EXPECT_EQ(list.status().code(), StatusCode::Io);
    EXPECT_NE(list.message().find("attnscope-server at " + target + " is not reachable"), std::string::npos)
        << list.message();
    // A new connection says the same, within the time asked.
    remote::ConnectOptions options;
    options.target = target;
    options.connectSeconds = 0.5;
    auto again = RemoteClient::connect(options);
    ASSERT_FALSE(again);
    EXPECT_EQ(again.status().code(), StatusCode::Io);
    EXPECT_NE(again.message().find("is not reachable"), std::string::npos) << again.message();
}

TEST(RemoteServer, TlsWithASelfMadeCertificate)
{
    TempDir dir;
    const std::string cert = (dir.path() / "cert.pem").string();
    const std::string key = (dir.path() / "key.pem").string();
    ASSERT_EQ(test::runCommand({"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                                   "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert, "-days", "1",
                                   "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"},
                  (dir.path() / "openssl.out").string()),
        0);
    std::ofstream(dir.path() / "token") << "tls-token\n";
    // With TLS and a token, any address may be bound.
    ServerProcess server({"--listen", "0.0.0.0:0", "--allow", dir.path().string(), "--tls-cert", cert, "--tls-key", key,
        "--token-file", (dir.path() / "token").string()});
    ASSERT_TRUE(server.started()) << server.errorLog();
    EXPECT_NE(server.output().find("(TLS) (token required)"), std::string::npos) << server.output();

    auto client = connectTo(server.target("localhost"), "tls-token", cert);
    ASSERT_TRUE(client);
    auto list = client->listModels();
    EXPECT_TRUE(list) << list.message();
    // Plain TCP to a TLS server never connects.
    remote::ConnectOptions plain;
    plain.target = server.target("localhost");
    plain.token = "tls-token";
    plain.connectSeconds = 1.0;
    auto refused = RemoteClient::connect(plain);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.status().code(), StatusCode::Io);
}

/// Clients tell the server who they are (attnscope-client-id); the server checks what it is told.
TEST(RemoteServer, RefusesAMalformedClientIdAndServesClientsWithoutOne)
{
    ServerProcess server({"--allow", bundledModels()});
    ASSERT_TRUE(server.started()) << server.errorLog();
    auto stub
        = attnscope::v1::Attnscope::NewStub(grpc::CreateChannel(server.target(), grpc::InsecureChannelCredentials()));
    auto listWith = [&](const std::string* id) {
        grpc::ClientContext context;
        if (id)
            context.AddMetadata(remote::kClientIdMetadata, *id);
        attnscope::v1::ListModelsReply reply;
        return stub->ListModels(&context, attnscope::v1::ListModelsRequest(), &reply);
    };
    for (const std::string& bad : {std::string("short"), std::string(65, 'a'), std::string("has a space-0001"),
             std::string("semi;colon-0001"), std::string()}) {
        const grpc::Status status = listWith(&bad);
        EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << "'" << bad << "'";
        EXPECT_NE(status.error_message().find("attnscope-client-id: expected 8 to 64 letters"), std::string::npos)
            << status.error_message();
    }
    EXPECT_NE(server.errorLog().find("ListModels refused: attnscope-client-id"), std::string::npos)
        << server.errorLog();
    const std::string good = remote::makeClientId();
    EXPECT_TRUE(remote::isValidClientId(good)) << good;
    EXPECT_TRUE(listWith(&good).ok());
    EXPECT_TRUE(listWith(nullptr).ok()) << "an older client, without an id, is told apart by its connection";
    // The client refuses to send a malformed id of its own.
    remote::ConnectOptions options;
    options.target = server.target();
    options.clientId = "not valid!";
    auto refused = RemoteClient::connect(options);
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.message().find("client id 'not valid!'"), std::string::npos) << refused.message();
}

TEST(RemoteCli, ServerDownIsAClearError)
{
    TempDir dir;
    int port = 0;
    {
        ServerProcess server({"--allow", dir.path().string()});
        ASSERT_TRUE(server.started());
        port = server.port();
    }
    const fs::path err = dir.path() / "err.txt";
    const int rc = test::runCommand({"/bin/sh", "-c",
        std::string(ATTNSCOPE_CLI_PATH) + " info " + countingModel() + " --server 127.0.0.1:" + std::to_string(port)
            + " 2> " + err.string()});
    EXPECT_EQ(rc, 1);
    EXPECT_NE(readText(err).find("is not reachable"), std::string::npos) << readText(err);
}

} // namespace
