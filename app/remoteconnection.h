// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "attnscope/analysis.h"
#include "attnscope/remote/remote_client.h"
#include "serialqueue.h"

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace attn::app {

/// How to reach a server, as the connect dialog or a saved connection gives it.
struct RemoteEndpoint {
    std::string target; ///< HOST:PORT
    std::string tokenFile; ///< empty: `token`, else $ATTNSCOPE_TOKEN
    std::string token; ///< typed by the user for this connection only (never saved)
    std::string caFile; ///< PEM CA or self-signed certificate: TLS; empty: plain TCP (loopback, SSH tunnel)
    bool float16 = false; ///< maps cross the wire as float16 (half the bytes) instead of float32 (exact)
    double connectSeconds = 5.0;
    /// The longest a short call (tokenize, the heartbeat, list, unload) may take: a server that accepts connections
    /// but no longer answers is reported as gone instead of holding the connection's threads forever.
    double callSeconds = 8.0;
};

/// A connected client and what the server offers; the listing doubles as the check that the token is accepted.
struct RemoteHandshake {
    std::unique_ptr<remote::RemoteClient> client;
    remote::ServerModelList models;
};

/// Connects and lists the server's models (blocks up to endpoint.connectSeconds plus one call: run it off the UI).
Result<RemoteHandshake> connectToServer(const RemoteEndpoint& endpoint);

/**
 * @brief One connection to an attnscope-server, as the app uses it (plain C++, no Qt): the app's model ids map to
 * the server's here, and every network call runs on this connection's own threads, never the caller's. Analysis
 * requests, loads and unloads run in order on one worker; a newer request of a stream cancels the older ones
 * through their CancelTokens (latest wins, as in-process). Tokenization and heartbeats have their own thread, so the
 * live token strip never waits for a run. A transport failure (the server went away) marks the connection
 * lost, reports it once through onLost, and every later call fails at once saying so.
 */
class RemoteConnection {
public:
    using LostCallback = std::function<void(const std::string& message)>;
    RemoteConnection(std::unique_ptr<remote::RemoteClient> client, bool float16, LostCallback onLost);
    /// Cancels every request and joins the threads (callbacks never outlive the connection).
    ~RemoteConnection();
    RemoteConnection(const RemoteConnection&) = delete;
    RemoteConnection& operator=(const RemoteConnection&) = delete;

    const std::string& target() const { return m_target; }
    bool lost() const { return m_lost.load(); }
    bool float16() const { return m_float16; }

    /// Opens `path` on the server as the app's model `appId`; done runs on the worker thread.
    void load(int appId, const std::string& path, const std::string& device, const std::string& dtype,
        std::function<void(Result<remote::RemoteModel>)> done);
    void unload(int appId);
    /// Queues request (its modelId is the app's id, every id in the sink's calls is appRequestId). When
    /// overviewAbove > 0 and the request asks for no window, a prompt of more tokens than that gets `overview`
    /// instead of full maps (the server's tokenizer counts; only prompts long enough to need it are counted).
    void submit(uint64_t appRequestId, AnalysisRequest request, AnalysisSink sink, int64_t overviewAbove = 0,
        MapRegion overview = {});
    void cancelStream(const std::string& stream);
    /// Tokenizes text with the server's tokenizer of `appId`; a newer call makes an older one that has not started
    /// skip its network call (done then gets a cancelled status).
    void tokenize(int appId, const std::string& text, std::function<void(Result<remote::RemoteTokens>)> done);
    /// One cheap call per open model to see whether the server is still there (marks the connection lost if not);
    /// it also picks up each model's weights hash once the server has it (onHashed, once per model).
    void heartbeat();
    void setHashedCallback(std::function<void(int appId, std::string sha256)> onHashed);
    /// The server no longer has one of this connection's models (it unloads a model whose client it has not heard from
    /// for its --idle-unload): the model is forgotten here and onDropped runs once for it, on a connection thread,
    /// with the server's reason.
    void setDroppedCallback(std::function<void(int appId, std::string message)> onDropped);
    /// Unloads every model this connection opened (a reconnect that replaces the connection reopens them).
    void unloadAll();

private:
    Status check(const Status& status); ///< marks the connection lost on a transport failure; returns status
    /// After a failed call about the app's model appId (the server's remoteId): if the server said it does not have
    /// that model, forgets it and reports it through onDropped. Returns status.
    Status checkModel(int appId, int remoteId, const Status& status);
    Status lostStatus() const;
    int remoteId(int appId) const; ///< -1 when the app's model is not (or no longer) open on the server
    void runAnalysis(uint64_t appRequestId, AnalysisRequest request, const AnalysisSink& sink, const CancelToken& token,
        int64_t overviewAbove, const MapRegion& overview);

    std::unique_ptr<remote::RemoteClient> m_client;
    std::string m_target;
    bool m_float16 = false;
    LostCallback m_onLost;
    std::atomic<bool> m_lost {false};
    mutable std::mutex m_mutex; ///< guards what follows
    std::string m_lostMessage;
    std::map<int, int> m_remoteIds; ///< app model id -> the server's
    std::map<std::string, CancelToken> m_streams; ///< the latest request's token of each stream
    std::map<int, bool> m_hashed; ///< app model id -> its hash was reported
    std::function<void(int, std::string)> m_onHashed;
    std::function<void(int, std::string)> m_onDropped;
    std::atomic<uint64_t> m_tokenizeSerial {0};
    std::atomic<bool> m_heartbeatQueued {false};
    // Last members: destroyed (joined) first, while everything their tasks touch still exists.
    SerialQueue m_analysis;
    SerialQueue m_tokens;
};

} // namespace attn::app
