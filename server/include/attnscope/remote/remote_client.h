// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "attnscope/analysis.h"
#include "attnscope/analysis_engine.h"
#include "attnscope/safetensors.h"
#include "attnscope/status.h"
#include "attnscope/tokenizer.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace attn::remote {

/// How to reach an attnscope-server.
struct ConnectOptions {
    std::string target; ///< HOST:PORT
    std::string token; ///< sent as "authorization: Bearer TOKEN" on every call; empty = none
    std::string tlsCaFile; ///< PEM file of the CA (or self-signed certificate) to trust; empty = plain TCP
    double connectSeconds = 5.0; ///< how long connect() waits for the server
    int64_t maxMessageBytes = 512ll << 20; ///< the largest message accepted (a layer's maps)
    /// > 0: how long a short call (listModels, unload, modelInfo without waiting for the hash, tokenize, cancel) may
    /// take before it fails with StatusCode::Io, so a server that accepts connections but no longer answers is
    /// noticed (the app); 0: no limit. load() and analyze() are never limited (analyze ends through its CancelToken).
    double callSeconds = 0.0;
    /// Who this client is to the server across reconnects (sent as attnscope-client-id on every call): the server
    /// keeps the models it opens and the requests it starts under it, and unloads its models after the server's
    /// --idle-unload seconds without a call. Empty: connect() makes a random one. 8-64 of [A-Za-z0-9_-]. Not a
    /// secret and not a credential (the token is).
    std::string clientId;
};

/**
 * @brief The token for a client: the file's first line when tokenFile is given, else $ATTNSCOPE_TOKEN, else
 * empty. An unreadable or empty file is an error naming it.
 */
Result<std::string> readClientToken(const std::string& tokenFile);

/// One model the server can open.
struct ServerModelEntry {
    std::string root; ///< the allowed folder, as the server resolved it
    std::string relativePath;
    std::string kind; ///< "folder" or "checkpoint"
};

struct ServerModelList {
    std::vector<std::string> roots;
    std::vector<ServerModelEntry> models;
};

/// A model loaded on the server, as a client sees it (LoadedModel's tokenizer stays null: use tokenize()).
struct RemoteModel {
    LoadedModel model;
    std::string sha256; ///< empty until the server has hashed the weights
    std::string configJson; ///< the config as the server wrote it (configToJson), byte for byte
    std::vector<TensorInfo> tensors; ///< as stored in the files (name, dtype, shape)
};

/// A tokenized text with each token's display string.
struct RemoteTokens {
    Encoding encoding;
    std::vector<std::string> display;
};

/// What one analyze() call cost on the wire, for the measurements in docs/performance.md.
struct AnalyzeStats {
    int64_t bytesReceived = 0; ///< serialized bytes of every message received
    int64_t messages = 0;
    double secondsToFirstLayer = -1.0; ///< from the call's start to the first LayerResult; -1 if none came
    double seconds = 0.0;
};

/**
 * @brief The client of attnscope-server: each call is one gRPC call on one channel (thread-safe; calls may run
 * concurrently). Failures come back as a Status whose code says what happened (StatusCode::Io: the server is
 * unreachable or went away; Refused: bad token or a path outside the allowed folders; Cancelled).
 */
class RemoteClient {
public:
    /// Opens a channel and waits up to options.connectSeconds for the server; an error says why it is unreachable.
    static Result<std::unique_ptr<RemoteClient>> connect(const ConnectOptions& options);
    ~RemoteClient();
    RemoteClient(const RemoteClient&) = delete;
    RemoteClient& operator=(const RemoteClient&) = delete;

    const std::string& target() const;
    /// ConnectOptions::clientId, or the one connect() made.
    const std::string& clientId() const;
    /// True once the server answered a call about `modelId` with "no such model" (NOT_FOUND): it unloaded the model
    /// (after --idle-unload seconds without a call from this client) or never had it. The call's Status says which.
    bool serverDropped(int modelId) const;

    Result<ServerModelList> listModels();
    /// path: absolute on the server, or relative to one of its allowed folders. device "auto" (the server's own
    /// placement: its --devices), "cpu", "cuda:N", or a list "cuda:0,cuda:1" that spreads the layers over them.
    Result<RemoteModel> load(
        const std::string& path, const std::string& device = "auto", const std::string& dtype = "fp32");
    Status unload(int modelId);
    Result<RemoteModel> modelInfo(int modelId, bool waitForHash);
    Result<RemoteTokens> tokenize(int modelId, const std::string& text, bool addSpecialTokens = true);

    /**
     * @brief Runs a request on the server and calls the sink on this thread as results arrive (the same order and
     * contract as AnalysisSink on the engine). Returns when the request has ended: ok after `finished`, else the
     * error that `failed` was given (the server's, or the transport's: StatusCode::Io when the server went away).
     * Cancelling `cancel` ends the call, which cancels the request on the server.
     */
    Status analyze(const AnalysisRequest& request, bool float16, const AnalysisSink& sink,
        const CancelToken& cancel = CancelToken(), AnalyzeStats* stats = nullptr);
    /// Cancels one request (id from `started`), or with requestId 0 every request of `stream` on this connection.
    Status cancel(uint64_t requestId, const std::string& stream = {});

private:
    RemoteClient();
    struct Impl;
    std::unique_ptr<Impl> m;
};

} // namespace attn::remote
