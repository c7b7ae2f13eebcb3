// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "attnscope.grpc.pb.h"
#include "lease_table.h"
#include "path_guard.h"
#include "server_options.h"
#include "token_check.h"
#include "wire_convert.h"

#include "attnscope/analysis_engine.h"
#include "attnscope/safetensors.h"

#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace attn::server {

/**
 * @brief attnscope.v1.Attnscope on one AnalysisEngine. gRPC runs each call on its own thread; the engine runs
 * requests one at a time on its thread, and results come back through an EventQueue to the call's thread, which
 * writes them to the client. Every call first checks the token; every refusal is logged to stderr with the peer.
 *
 * Each call's owner is its client's id (attnscope-client-id, the same across reconnects) or, for a client that sends
 * none, its peer address. Only the owner may cancel its requests or unload its models; a model whose owner has made
 * no call for --idle-unload seconds is unloaded by a reaper thread (LeaseTable).
 */
class Service final : public v1::Attnscope::Service {
public:
    explicit Service(const ServerSetup& setup);
    ~Service() override;

    /// The server is stopping: calls that wait (a Load, an Analyze, GetModelInfo waiting for the hash) stop waiting
    /// and return now instead of when the engine has finished, so grpc::Server::Shutdown does not wait for them.
    void beginShutdown();
    /// "Analyze x1, Load x1": the calls in progress (any Service of this process), or "none". Safe from any thread
    /// at any time, also while the process exits.
    static std::string describeRunningCalls();

    grpc::Status ListModels(
        grpc::ServerContext* context, const v1::ListModelsRequest* request, v1::ListModelsReply* reply) override;
    grpc::Status Load(grpc::ServerContext* context, const v1::LoadRequest* request, v1::ModelInfo* reply) override;
    grpc::Status Unload(
        grpc::ServerContext* context, const v1::UnloadRequest* request, v1::UnloadReply* reply) override;
    grpc::Status GetModelInfo(
        grpc::ServerContext* context, const v1::ModelInfoRequest* request, v1::ModelInfo* reply) override;
    grpc::Status Tokenize(
        grpc::ServerContext* context, const v1::TokenizeRequest* request, v1::TokenizeReply* reply) override;
    grpc::Status Analyze(grpc::ServerContext* context, const v1::AnalyzeRequest* request,
        grpc::ServerWriter<v1::AnalyzeEvent>* writer) override;
    grpc::Status Cancel(
        grpc::ServerContext* context, const v1::CancelRequest* request, v1::CancelReply* reply) override;

private:
    struct ModelState {
        LoadedModel model;
        std::vector<TensorInfo> tensors;
        std::string owner; ///< the client that loaded it: only it may unload it
    };

    /// OK, or UNAUTHENTICATED (logged) when the token is required and the call's does not match, or INVALID_ARGUMENT
    /// for a malformed client id. On OK, `owner` is the caller's owner key and its lease is renewed.
    grpc::Status admit(grpc::ServerContext* context, const char* method, std::string& owner);
    /// NOT_FOUND for a model this server does not have, saying so when the reaper unloaded it.
    grpc::Status modelNotFound(int modelId) const;
    /// Unloads the models of owners idle for --idle-unload seconds (the reaper thread's work).
    void unloadIdleModels();
    bool stopping() const;
    /// Logs "attnscope-server: PEER METHOD refused: MESSAGE" and returns the status.
    grpc::Status refuse(grpc::ServerContext* context, const char* method, const grpc::Status& status) const;
    bool findModel(int modelId, ModelState& out) const;
    void fillInfo(const ModelState& state, v1::ModelInfo* reply) const;
    /// Writes one layer as one message, or in parts under the message limit. False when the client is gone.
    bool writeLayer(const LayerResult& layer, v1::ValueType type, grpc::ServerWriter<v1::AnalyzeEvent>* writer) const;

    PathGuard m_guard;
    TokenCheck m_token;
    int64_t m_maxMessageBytes;
    std::vector<DeviceSpec> m_devices; ///< --devices: where a Load that names no device goes
    DeviceMapStrategy m_strategy;
    std::string m_deviceMapText;
    mutable std::mutex m_mutex;
    std::condition_variable m_hashed;
    std::map<int, ModelState> m_models;
    std::map<int, std::string> m_hashes; ///< by model id, once the engine reports them
    /// The peer that asked for each running request: only it may cancel the request by id.
    std::map<uint64_t, std::string> m_requestOwners;
    bool m_stopping = false; ///< beginShutdown() was called
    std::condition_variable m_stopped; ///< wakes the reaper for the stop
    LeaseTable m_leases;
    std::thread m_reaper; ///< joined in the destructor, before the engine goes
    /// Last member: destroyed first, so no engine callback runs into the members above once they are gone.
    AnalysisEngine m_engine;
};

} // namespace attn::server
