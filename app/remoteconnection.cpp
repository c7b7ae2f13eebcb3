// SPDX-License-Identifier: GPL-3.0-or-later
#include "remoteconnection.h"

#include <utility>

namespace attn::app {

namespace {

/// Every token fits in at least one byte, plus a few special tokens (BOS, EOS, CLS/SEP): a prompt of fewer bytes
/// than the limit minus this cannot have more tokens than the limit, and needs no count.
constexpr int64_t kSpecialTokenMargin = 16;

} // namespace

Result<RemoteHandshake> connectToServer(const RemoteEndpoint& endpoint)
{
    remote::ConnectOptions options;
    options.target = endpoint.target;
    options.tlsCaFile = endpoint.caFile;
    options.connectSeconds = endpoint.connectSeconds;
    options.callSeconds = endpoint.callSeconds;
    if (!endpoint.token.empty()) {
        options.token = endpoint.token;
    } else {
        auto token = remote::readClientToken(endpoint.tokenFile); // the file, else $ATTNSCOPE_TOKEN
        if (!token)
            return token.status();
        options.token = *token;
    }
    auto client = remote::RemoteClient::connect(options);
    if (!client)
        return client.status();
    // The first call checks the token: a refusal is reported now, not at the first run.
    auto models = (*client)->listModels();
    if (!models)
        return models.status();
    RemoteHandshake handshake;
    handshake.client = std::move(*client);
    handshake.models = std::move(*models);
    return handshake;
}

RemoteConnection::RemoteConnection(std::unique_ptr<remote::RemoteClient> client, bool float16, LostCallback onLost)
    : m_client(std::move(client))
    , m_target(m_client->target())
    , m_float16(float16)
    , m_onLost(std::move(onLost))
{
}

RemoteConnection::~RemoteConnection()
{
    std::lock_guard<std::mutex> lock(m_mutex);
    for (auto& [stream, token] : m_streams)
        token.cancel(); // the running analyze() ends within its watcher's tick; the queues then join
}

Status RemoteConnection::lostStatus() const
{
    std::lock_guard<std::mutex> lock(m_mutex);
    return Status::error(StatusCode::Io, m_target + " is disconnected (" + m_lostMessage + ")");
}

Status RemoteConnection::check(const Status& status)
{
    if (status.code() != StatusCode::Io || m_lost.load())
        return status;
    // The server reports its own file errors as Io too: a second, trivial call tells them from a server that is gone.
    auto probe = m_client->modelInfo(-1, false);
    if (probe || probe.status().code() != StatusCode::Io)
        return status;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        if (m_lost.exchange(true))
            return status;
        m_lostMessage = status.message();
        for (auto& [stream, token] : m_streams)
            token.cancel();
    }
    if (m_onLost)
        m_onLost(status.message());
    return status;
}

Status RemoteConnection::checkModel(int appId, int remote, const Status& status)
{
    if (status.isOk() || remote < 0 || !m_client->serverDropped(remote))
        return status;
    std::function<void(int, std::string)> onDropped;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        const auto it = m_remoteIds.find(appId);
        if (it == m_remoteIds.end() || it->second != remote)
            return status; // reported already, or closed or reopened meanwhile
        m_remoteIds.erase(it);
        m_hashed.erase(appId);
        onDropped = m_onDropped;
    }
    if (onDropped)
        onDropped(appId, status.message());
    return status;
}

int RemoteConnection::remoteId(int appId) const
{
    std::lock_guard<std::mutex> lock(m_mutex);
    const auto it = m_remoteIds.find(appId);
    return it == m_remoteIds.end() ? -1 : it->second;
}

void RemoteConnection::load(int appId, const std::string& path, const std::string& device, const std::string& dtype,
    std::function<void(Result<remote::RemoteModel>)> done)
{
    m_analysis.post([this, appId, path, device, dtype, done = std::move(done)] {
        if (m_lost.load()) {
            done(lostStatus());
            return;
        }
        auto model = m_client->load(path, device, dtype);
        if (!model) {
            done(check(model.status()));
            return;
        }
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            m_remoteIds[appId] = model->model.id;
            m_hashed[appId] = !model->sha256.empty();
        }
        done(std::move(model));
    });
}

void RemoteConnection::unload(int appId)
{
    // In order with the requests queued before it, as the in-process engine does.
    m_analysis.post([this, appId] {
        const int id = remoteId(appId);
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            m_remoteIds.erase(appId);
            m_hashed.erase(appId);
        }
        if (id >= 0 && !m_lost.load())
            check(m_client->unload(id));
    });
}

void RemoteConnection::unloadAll()
{
    std::map<int, int> ids;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        ids = m_remoteIds;
    }
    for (const auto& [appId, remote] : ids)
        unload(appId);
}

void RemoteConnection::submit(
    uint64_t appRequestId, AnalysisRequest request, AnalysisSink sink, int64_t overviewAbove, MapRegion overview)
{
    CancelToken token;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        // Latest wins within the stream: the older request stops (queued: never runs; running: its call ends).
        if (auto it = m_streams.find(request.stream); it != m_streams.end())
            it->second.cancel();
        m_streams[request.stream] = token;
    }
    m_analysis.post([this, appRequestId, request = std::move(request), sink = std::move(sink), token, overviewAbove,
                        overview] { runAnalysis(appRequestId, request, sink, token, overviewAbove, overview); });
}

void RemoteConnection::runAnalysis(uint64_t appRequestId, AnalysisRequest request, const AnalysisSink& sink,
    const CancelToken& token, int64_t overviewAbove, const MapRegion& overview)
{
    auto fail = [&](const Status& status) {
        if (sink.failed)
            sink.failed(appRequestId, status);
    };
    if (token.cancelled()) {
        fail(Status::cancelled("superseded by a newer request of stream '" + request.stream + "'"));
        return;
    }
    if (m_lost.load()) {
        fail(lostStatus());
        return;
    }
    const int appModelId = request.modelId;
    request.modelId = remoteId(appModelId);
    if (request.modelId < 0) {
        fail(Status::error("the model is not open on " + m_target + " (closed, or the server restarted)"));
        return;
    }
    if (overviewAbove > 0 && request.tokens.empty() && request.region.mode != MapRegion::Mode::Window
        && static_cast<int64_t>(request.prompt.size()) > overviewAbove - kSpecialTokenMargin) {
        auto tokens = m_client->tokenize(request.modelId, request.prompt);
        if (!tokens) {
            fail(checkModel(appModelId, request.modelId, check(tokens.status())));
            return;
        }
        if (static_cast<int64_t>(tokens->encoding.ids.size()) > overviewAbove)
            request.region = overview;
    }
    // The server's ids are its own: every result carries the app's request and model ids instead.
    AnalysisSink relay;
    relay.started = [&](AnalysisStart start) {
        start.requestId = appRequestId;
        if (sink.started)
            sink.started(std::move(start));
    };
    relay.progress = [&](uint64_t, int64_t done, int64_t total) {
        if (sink.progress)
            sink.progress(appRequestId, done, total);
    };
    relay.layer = [&](LayerResult layer) {
        layer.requestId = appRequestId;
        if (sink.layer)
            sink.layer(std::move(layer));
    };
    relay.finished = [&](AnalysisSummary summary) {
        summary.requestId = appRequestId;
        summary.modelId = appModelId;
        if (sink.finished)
            sink.finished(std::move(summary));
    };
    relay.failed = [&](uint64_t, Status status) { fail(status); };
    const Status outcome = m_client->analyze(request, m_float16, relay, token);
    // After `failed` has reported the run: then the connection or the model, if that is what broke.
    checkModel(appModelId, request.modelId, check(outcome));
}

void RemoteConnection::cancelStream(const std::string& stream)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    if (auto it = m_streams.find(stream); it != m_streams.end())
        it->second.cancel();
}

void RemoteConnection::tokenize(
    int appId, const std::string& text, std::function<void(Result<remote::RemoteTokens>)> done)
{
    const uint64_t serial = ++m_tokenizeSerial;
    m_tokens.post([this, appId, text, serial, done = std::move(done)] {
        if (serial != m_tokenizeSerial.load()) {
            done(Status::cancelled("a newer text was sent"));
            return;
        }
        if (m_lost.load()) {
            done(lostStatus());
            return;
        }
        const int id = remoteId(appId);
        if (id < 0) {
            done(Status::error("the model is not open on " + m_target));
            return;
        }
        auto tokens = m_client->tokenize(id, text);
        if (!tokens)
            done(checkModel(appId, id, check(tokens.status())));
        else
            done(std::move(tokens));
    });
}

void RemoteConnection::setHashedCallback(std::function<void(int appId, std::string sha256)> onHashed)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    m_onHashed = std::move(onHashed);
}

void RemoteConnection::setDroppedCallback(std::function<void(int appId, std::string message)> onDropped)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    m_onDropped = std::move(onDropped);
}

void RemoteConnection::heartbeat()
{
    if (m_lost.load() || m_heartbeatQueued.exchange(true))
        return; // one at a time: a slow server must not pile them up
    m_tokens.post([this] {
        m_heartbeatQueued = false;
        std::map<int, int> ids;
        std::map<int, bool> hashed;
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            ids = m_remoteIds;
            hashed = m_hashed;
        }
        if (ids.empty()) {
            // No model to ask about: a call that only an absent server fails with a transport error.
            check(m_client->modelInfo(-1, false).status());
            return;
        }
        for (const auto& [appId, remote] : ids) {
            // Each call also renews this client's lease on its models (the server's --idle-unload).
            auto info = m_client->modelInfo(remote, false);
            if (!info) {
                if (check(info.status()).code() == StatusCode::Io)
                    return;
                checkModel(appId, remote, info.status());
                continue;
            }
            if (!hashed[appId] && !info->sha256.empty()) {
                std::function<void(int, std::string)> onHashed;
                {
                    std::lock_guard<std::mutex> lock(m_mutex);
                    m_hashed[appId] = true;
                    onHashed = m_onHashed;
                }
                if (onHashed)
                    onHashed(appId, info->sha256);
            }
        }
    });
}

} // namespace attn::app
