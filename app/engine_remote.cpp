// SPDX-License-Identifier: GPL-3.0-or-later
// Engine, remote models: requests for a model that lives on an attnscope-server go to that server's
// RemoteConnection (its own threads); results come back as the same queued signals as in-process ones.
#include "engine.h"

#include "engine_p.h"

#include <QTimer>

namespace attn::app {

using detail::qstr;

namespace {
/// How often an idle connection is checked, so a server that went away is reported without waiting for a run.
constexpr int kHeartbeatMs = 3000;
} // namespace

void Engine::startRemote()
{
    m_connector = std::make_unique<SerialQueue>();
    auto* heartbeat = new QTimer(this);
    heartbeat->setObjectName(QStringLiteral("remoteHeartbeat"));
    heartbeat->setInterval(kHeartbeatMs);
    connect(heartbeat, &QTimer::timeout, this, [this] {
        for (auto& [server, connection] : m_servers)
            connection->heartbeat();
    });
    heartbeat->start();
}

void Engine::setHeartbeatInterval(int milliseconds)
{
    auto* heartbeat = findChild<QTimer*>(QStringLiteral("remoteHeartbeat"), Qt::FindDirectChildrenOnly);
    if (!heartbeat)
        return;
    if (milliseconds <= 0) {
        heartbeat->stop();
        return;
    }
    heartbeat->start(milliseconds);
}

void Engine::stopRemote()
{
    m_connector.reset(); // a connect in progress ends within its timeout
    m_servers.clear(); // cancels their requests, joins their threads
    m_retired.clear();
}

uint64_t Engine::submit(AnalysisRequest request, AnalysisSink sink, bool overviewIfLong)
{
    const auto remote = m_remoteModels.find(request.modelId);
    // Latest wins within a stream wherever its older request runs: switching from a local model to a remote one
    // stops the local run, and the other way round.
    for (auto& [server, connection] : m_servers)
        if (remote == m_remoteModels.end() || server != remote->second.server)
            connection->cancelStream(request.stream);
    if (remote == m_remoteModels.end())
        return m_core->submit(std::move(request), std::move(sink));
    m_core->cancelStream(request.stream);
    const uint64_t id = nextRemoteRequest();
    auto connection = m_servers.find(remote->second.server);
    if (connection == m_servers.end()) { // not reached: a remote model's connection stays until the engine ends
        if (sink.failed)
            sink.failed(id, Status::error(StatusCode::Io, "not connected to " + remote->second.server));
        return id;
    }
    connection->second->submit(id, std::move(request), std::move(sink), overviewIfLong ? kLongPromptTokens : 0,
        MapRegion::overview(kLongPromptOverview, PoolMode::Max));
    return id;
}

void Engine::cancelStream(const std::string& stream)
{
    m_core->cancelStream(stream);
    for (auto& [server, connection] : m_servers)
        connection->cancelStream(stream);
}

quint64 Engine::connectServer(const RemoteEndpoint& endpoint)
{
    const quint64 id = nextRemoteRequest();
    m_connector->post([this, id, endpoint] {
        auto result = std::make_shared<Result<RemoteHandshake>>(connectToServer(endpoint));
        QMetaObject::invokeMethod(
            this,
            [this, id, endpoint, result] {
                if (*result) {
                    onServerConnected(id, endpoint, std::move(**result));
                    return;
                }
                const Status& status = result->status();
                Q_EMIT serverConnectFailed(
                    id, qstr(endpoint.target), qstr(status.message()), status.code() == StatusCode::Refused);
            },
            Qt::QueuedConnection);
    });
    return id;
}

void Engine::onServerConnected(quint64 requestId, const RemoteEndpoint& endpoint, RemoteHandshake handshake)
{
    const std::string server = endpoint.target;
    const QString serverName = qstr(server);
    auto connection = std::make_unique<RemoteConnection>(
        std::move(handshake.client), endpoint.float16, [this, serverName](const std::string& message) {
            QMetaObject::invokeMethod(
                this, [this, serverName, m = qstr(message)] { onServerLost(serverName, m); }, Qt::QueuedConnection);
        });
    connection->setHashedCallback([this](int modelId, std::string sha256) {
        QMetaObject::invokeMethod(
            this, [this, modelId, sha = qstr(sha256)] { Q_EMIT modelHashed(modelId, sha); }, Qt::QueuedConnection);
    });
    RemoteConnection* live = connection.get();
    connection->setDroppedCallback([this, live](int modelId, std::string message) {
        QMetaObject::invokeMethod(
            this,
            [this, modelId, live, m = qstr(message)] {
                const auto it = m_remoteModels.find(modelId);
                const auto connection
                    = it == m_remoteModels.end() ? m_servers.end() : m_servers.find(it->second.server);
                if (connection == m_servers.end() || connection->second.get() != live)
                    return; // closed meanwhile, or a reconnect replaced this connection
                Q_EMIT remoteModelDropped(modelId, m);
            },
            Qt::QueuedConnection);
    });
    if (auto old = m_servers.find(server); old != m_servers.end()) {
        // A reconnect: the old connection may still be in a call; it is joined when the engine ends, never here. The
        // models it still holds there (a reconnect after the server dropped one of them) are opened again below, on
        // the new connection: close the old copies rather than leave them to the server's --idle-unload.
        if (!old->second->lost())
            old->second->unloadAll();
        m_retired.push_back(std::move(old->second));
        m_servers.erase(old);
    }
    m_servers[server] = std::move(connection);
    m_endpoints[server] = endpoint;
    // The models this app had open there are opened again under the same ids, so every view keeps its model.
    for (const auto& [modelId, slot] : m_remoteModels) {
        if (slot.server != server)
            continue;
        live->load(modelId, slot.path, slot.device, slot.dtype, [this, modelId, live](Result<remote::RemoteModel> m) {
            QMetaObject::invokeMethod(
                this,
                [this, modelId, live, ok = m.isOk(), message = m ? QString() : qstr(m.status().message())] {
                    const auto it = m_remoteModels.find(modelId);
                    const auto connection
                        = it == m_remoteModels.end() ? m_servers.end() : m_servers.find(it->second.server);
                    if (connection == m_servers.end() || connection->second.get() != live)
                        return; // closed meanwhile, or another reconnect replaced this connection
                    Q_EMIT modelReconnected(modelId, ok, message);
                },
                Qt::QueuedConnection);
        });
    }
    ServerListing listing;
    listing.server = serverName;
    for (const std::string& root : handshake.models.roots)
        listing.roots << qstr(root);
    for (const remote::ServerModelEntry& entry : handshake.models.models) {
        listing.paths << qstr(entry.root + "/" + entry.relativePath);
        listing.kinds << qstr(entry.kind);
    }
    Q_EMIT serverConnected(requestId, listing);
}

void Engine::onServerLost(const QString& server, const QString& message)
{
    const auto it = m_servers.find(server.toStdString());
    if (it == m_servers.end() || !it->second->lost())
        return; // a connection a reconnect has replaced meanwhile
    Q_EMIT serverLost(server, message);
}

quint64 Engine::loadRemoteModel(const QString& server, const QString& path, const QString& device, const QString& dtype)
{
    const quint64 id = nextRemoteRequest();
    const std::string target = server.toStdString();
    const auto connection = m_servers.find(target);
    const QString where = QStringLiteral("%1 on %2").arg(path, server);
    if (connection == m_servers.end() || connection->second->lost()) {
        QMetaObject::invokeMethod(
            this,
            [this, id, where, server] {
                Q_EMIT loadFailed(id, where, tr("not connected to %1 (File → Connect to Server…)").arg(server));
            },
            Qt::QueuedConnection);
        return id;
    }
    const int modelId = m_nextRemoteModel++;
    RemoteSlot slot {target, path.toStdString(), device.toStdString(), dtype.toStdString()};
    RemoteConnection* live = connection->second.get();
    live->load(modelId, slot.path, slot.device, slot.dtype, [this, id, modelId, slot, where](auto loaded) {
        std::shared_ptr<ModelInfo> info;
        QString message;
        if (loaded) {
            info = std::make_shared<ModelInfo>(detail::toModelInfo(loaded->model));
            info->id = modelId;
            info->server = qstr(slot.server);
            info->name = QStringLiteral("%1 @ %2").arg(info->name, info->server); // where it lives, everywhere
            info->sha256 = qstr(loaded->sha256);
        } else {
            message = qstr(loaded.status().message());
        }
        QMetaObject::invokeMethod(
            this,
            [this, id, slot, where, info, message] {
                if (!info) {
                    Q_EMIT loadFailed(id, where, message);
                    return;
                }
                m_remoteModels[info->id] = slot;
                m_configs[info->id] = info->config;
                Q_EMIT modelLoaded(id, *info);
            },
            Qt::QueuedConnection);
    });
    return id;
}

bool Engine::unloadRemote(int modelId)
{
    const auto it = m_remoteModels.find(modelId);
    if (it == m_remoteModels.end())
        return false;
    if (auto connection = m_servers.find(it->second.server); connection != m_servers.end())
        connection->second->unload(modelId);
    m_remoteModels.erase(it);
    return true;
}

void Engine::requestTokens(int modelId, const QString& text)
{
    const auto it = m_remoteModels.find(modelId);
    const auto connection = it == m_remoteModels.end() ? m_servers.end() : m_servers.find(it->second.server);
    if (connection == m_servers.end()) {
        QMetaObject::invokeMethod(
            this, [this, modelId, text] { Q_EMIT tokensFailed(modelId, text, tr("not a remote model")); },
            Qt::QueuedConnection);
        return;
    }
    connection->second->tokenize(modelId, text.toStdString(), [this, modelId, text](auto tokens) {
        if (!tokens && tokens.status().isCancelled())
            return; // a newer text is on its way
        if (!tokens) {
            QMetaObject::invokeMethod(
                this,
                [this, modelId, text, message = qstr(tokens.status().message())] {
                    Q_EMIT tokensFailed(modelId, text, message);
                },
                Qt::QueuedConnection);
            return;
        }
        QList<qint64> ids;
        for (int64_t id : tokens->encoding.ids)
            ids << id;
        QMetaObject::invokeMethod(
            this,
            [this, modelId, text, ids, display = detail::displayList(tokens->display)] {
                Q_EMIT tokensReady(modelId, text, ids, display);
            },
            Qt::QueuedConnection);
    });
}

bool Engine::isConnected(const QString& server) const
{
    const auto it = m_servers.find(server.toStdString());
    return it != m_servers.end() && !it->second->lost();
}

std::optional<RemoteEndpoint> Engine::endpoint(const QString& server) const
{
    const auto it = m_endpoints.find(server.toStdString());
    if (it == m_endpoints.end())
        return std::nullopt;
    return it->second;
}

} // namespace attn::app
