// SPDX-License-Identifier: GPL-3.0-or-later
// MainWindow, remote models: File → Connect to Server, the live token strip of a model whose tokenizer is on its
// server, a server that went away (said once, its models marked, every view kept), reconnecting, and the remote part
// of restoring a session.
#include "mainwindow.h"

#include "compareview.h"
#include "connectdialog.h"

#include <QComboBox>
#include <QLabel>
#include <QMenu>
#include <QMessageBox>
#include <QPlainTextEdit>

namespace attn::app {

void MainWindow::wireRemote()
{
    connect(m_engine, &Engine::serverLost, this, &MainWindow::onServerLost);
    connect(m_engine, &Engine::modelReconnected, this, &MainWindow::onModelReconnected);
    connect(m_engine, &Engine::remoteModelDropped, this, &MainWindow::onRemoteModelDropped);
    connect(m_engine, &Engine::serverConnected, this, [this](quint64 requestId, const ServerListing& listing) {
        onSessionServerConnected(requestId, listing.server);
        if (auto it = m_reconnects.find(requestId); it != m_reconnects.end()) {
            m_status->setText(tr("reconnected to %1; opening its models again…").arg(it->second));
            m_reconnects.erase(it);
        }
        rebuildReconnectMenu();
    });
    connect(m_engine, &Engine::serverConnectFailed, this,
        [this](quint64 requestId, const QString& server, const QString& message, bool refused) {
            onSessionServerFailed(requestId, server, message, refused);
            if (m_reconnects.erase(requestId))
                showConnectDialog(server, tr("Reconnecting to %1 failed: %2").arg(server, message));
        });
    connect(m_engine, &Engine::tokensReady, this,
        [this](int modelId, const QString& text, const QList<qint64>& ids, const QStringList& display) {
            m_remoteTokens = RemoteTokens {modelId, text, std::vector<int64_t>(ids.begin(), ids.end()), display, {}};
            if (modelId == m_currentModel && text == m_prompt->toPlainText()) {
                updateTokenStrip();
                Q_EMIT remoteTokensShown();
            }
        });
    connect(m_engine, &Engine::tokensFailed, this, [this](int modelId, const QString& text, const QString& message) {
        m_remoteTokens = RemoteTokens {modelId, text, {}, {}, message};
        if (modelId == m_currentModel && text == m_prompt->toPlainText())
            updateTokenStrip();
    });
}

ConnectDialog* MainWindow::showConnectDialog(const QString& server, const QString& note)
{
    auto* dialog = new ConnectDialog(m_engine, &m_settings, this, server, note);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    connect(dialog, &ConnectDialog::openRequested, this,
        [this](const QString& host, const QStringList& paths, const QString& device, const QString& dtype) {
            for (const QString& path : paths)
                openRemoteModel(host, path, device, dtype);
        });
    dialog->open(); // window-modal, not exec(): nothing here waits for it
    return dialog;
}

quint64 MainWindow::openRemoteModel(
    const QString& server, const QString& path, const QString& device, const QString& dtype)
{
    m_status->setText(tr("loading %1 on %2…").arg(path, server));
    return m_engine->loadRemoteModel(server, path, device, dtype);
}

bool MainWindow::promptTokens(const ModelInfo& info, std::vector<int64_t>* ids, QStringList* display) const
{
    const QString text = m_prompt->toPlainText();
    if (info.tokenizer) {
        *ids = info.tokenizer->encode(text.toStdString());
        display->clear();
        for (int64_t id : *ids)
            *display << QString::fromStdString(info.tokenizer->display(id));
        return true;
    }
    if (m_remoteTokens.modelId == info.id && m_remoteTokens.text == text && m_remoteTokens.error.isEmpty()) {
        *ids = m_remoteTokens.ids;
        *display = m_remoteTokens.display;
        return true;
    }
    // Each text is asked once; the newest question supersedes the older ones on the connection.
    const QString key = QStringLiteral("%1|%2").arg(info.id).arg(text);
    if (info.connected && key != m_remoteTokensAsked) {
        m_remoteTokensAsked = key;
        m_engine->requestTokens(info.id, text);
    }
    return false;
}

void MainWindow::updateModelItem(int modelId)
{
    const auto it = m_models.find(modelId);
    const int index = m_modelCombo->findData(modelId);
    if (it == m_models.end() || index < 0)
        return;
    m_modelCombo->setItemText(
        index, it->second.connected ? it->second.name : tr("%1 (disconnected)").arg(it->second.name));
}

void MainWindow::onServerLost(const QString& server, const QString& message)
{
    QStringList names;
    for (auto& [id, info] : m_models) {
        if (info.server != server || !info.connected)
            continue;
        info.connected = false;
        info.disconnectedWhy.clear(); // the server itself went away
        names << info.name;
        updateModelItem(id);
    }
    m_remoteTokensAsked.clear();
    rebuildReconnectMenu();
    updateModelSummary();
    updateWindowTitle();
    if (const ModelInfo* info = currentModel(); info && info->server == server) {
        requestRun(); // says on the panels that these maps are the last ones, and why
        updateTokenStrip();
    }
    // The client's message names the server and the cause (refused, no answer in time, ...).
    showError(tr("Lost the connection to %1").arg(server),
        tr("%2\n\n%3 %4 marked disconnected; the maps, metrics and settings on screen stay as they are. When the "
           "server runs again: File → Reconnect to Server → %1.")
            .arg(server, message, names.isEmpty() ? tr("No open model") : names.join(QStringLiteral(", ")),
                names.size() == 1 ? tr("is") : tr("are")));
    Q_EMIT serverDisconnected(server);
}

void MainWindow::onRemoteModelDropped(int modelId, const QString& message)
{
    const auto it = m_models.find(modelId);
    if (it == m_models.end() || !it->second.connected)
        return;
    ModelInfo& info = it->second;
    info.connected = false;
    info.disconnectedWhy = message;
    updateModelItem(modelId);
    rebuildReconnectMenu();
    updateModelSummary();
    updateWindowTitle();
    if (modelId == m_currentModel) {
        m_remoteTokensAsked.clear();
        requestRun(); // says on the panels that these maps are the last ones, and why
        updateTokenStrip();
    }
    // The server's message says which model and after how long (its --idle-unload).
    showError(tr("%1 was unloaded by its server").arg(info.name),
        tr("%1\n\nThe maps, metrics and settings on screen stay as they are. File → Reconnect to Server → %2 "
           "reopens it.")
            .arg(message, info.server));
}

void MainWindow::reconnectServer(const QString& server)
{
    RemoteEndpoint endpoint;
    if (const auto known = m_engine->endpoint(server)) {
        endpoint = *known;
    } else {
        showConnectDialog(server);
        return;
    }
    m_status->setText(tr("reconnecting to %1…").arg(server));
    m_reconnects[m_engine->connectServer(endpoint)] = server;
}

void MainWindow::onModelReconnected(int modelId, bool ok, const QString& message)
{
    const auto it = m_models.find(modelId);
    if (it == m_models.end())
        return;
    if (!ok) {
        showError(tr("Cannot reopen %1").arg(it->second.name), message);
        return;
    }
    it->second.connected = true;
    it->second.disconnectedWhy.clear();
    updateModelItem(modelId);
    rebuildReconnectMenu();
    updateModelSummary();
    updateWindowTitle();
    m_status->setText(tr("%1 is connected again").arg(it->second.name));
    if (modelId == m_currentModel) {
        m_metricsKey.clear(); // the server starts without the prompt's state: compute everything again
        updateTokenStrip();
        requestRun();
    }
    bool all = true;
    for (const auto& [id, info] : m_models)
        all = all && (info.server != it->second.server || info.connected);
    if (all) {
        // The "lost the connection" message no longer holds.
        if (m_errorBox && m_errorBox->windowTitle() == tr("Lost the connection to %1").arg(it->second.server))
            m_errorBox->close();
        Q_EMIT serverReconnected(it->second.server);
    }
}

void MainWindow::rebuildReconnectMenu()
{
    m_reconnectMenu->clear();
    QStringList servers;
    for (const auto& [id, info] : m_models)
        if (!info.connected && !servers.contains(info.server))
            servers << info.server;
    for (const QString& server : servers)
        m_reconnectMenu->addAction(server, this, [this, server] { reconnectServer(server); });
    m_reconnectMenu->setEnabled(!servers.isEmpty());
}

void MainWindow::onSessionServerConnected(quint64 requestId, const QString& server)
{
    const auto it = m_sessionConnects.find(requestId);
    if (it == m_sessionConnects.end())
        return;
    m_sessionConnects.erase(it);
    openSessionModelsOn(server);
    modelLoadSettled(requestId); // after the loads are pending, so the restore waits for them
}

void MainWindow::onSessionServerFailed(quint64 requestId, const QString& server, const QString& message, bool refused)
{
    const auto it = m_sessionConnects.find(requestId);
    if (it == m_sessionConnects.end())
        return;
    m_sessionConnects.erase(it);
    if (!refused) {
        dropSessionModelsOn(server, message);
        modelLoadSettled(requestId);
        return;
    }
    // The token was refused (or none was given): ask for it; the rest of the session waits for the answer.
    ConnectDialog* dialog = showConnectDialog(server,
        tr("The session has models on %1, which refused the connection: %2\nChoose its token file (or type the "
           "token) and Connect, or Cancel to restore the session without them.")
            .arg(server, message));
    auto settled = std::make_shared<bool>(false);
    connect(dialog, &ConnectDialog::connected, this, [this, dialog, requestId, settled](const QString& host) {
        if (*settled)
            return;
        *settled = true;
        openSessionModelsOn(host);
        modelLoadSettled(requestId);
        dialog->accept(); // the session's models are being opened: nothing to choose
    });
    connect(dialog, &QDialog::rejected, this, [this, requestId, server, message, settled] {
        if (*settled)
            return;
        *settled = true;
        dropSessionModelsOn(server, tr("not connected (%1)").arg(message));
        modelLoadSettled(requestId);
    });
}

void MainWindow::openSessionModelsOn(const QString& server)
{
    if (!m_pendingSession)
        return;
    const SessionState& state = *m_pendingSession;
    for (qsizetype i = 0; i < state.models.size(); ++i)
        if (state.servers.value(i) == server)
            m_pendingLoads.insert(openRemoteModel(server, state.models[i],
                state.serverDevices.value(i).isEmpty() ? state.device : state.serverDevices[i],
                state.serverDtypes.value(i).isEmpty() ? state.dtype : state.serverDtypes[i]));
}

void MainWindow::dropSessionModelsOn(const QString& server, const QString& why)
{
    if (!m_pendingSession)
        return;
    const SessionState& state = *m_pendingSession;
    for (qsizetype i = 0; i < state.models.size(); ++i)
        if (state.servers.value(i) == server)
            m_sessionProblems << tr("%1 on %2: %3").arg(state.models[i], server, why);
}

} // namespace attn::app
