// SPDX-License-Identifier: GPL-3.0-or-later
// MainWindow, sessions: save the models, prompt, selection, marked span and view options to a `.attnscope`
// file and restore them. Models load asynchronously, so the selection is applied once the last one arrives.
#include "mainwindow.h"

#include "colorcontrols.h"

#include <QComboBox>
#include <QDir>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QLabel>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QSaveFile>
#include <QSpinBox>
#include <QTabWidget>

namespace attn::app {

SessionState MainWindow::currentSession() const
{
    SessionState s;
    for (const auto& [id, info] : m_models) {
        s.models << info.path;
        s.servers << info.server;
        s.serverDevices << (info.server.isEmpty() ? QString() : info.device);
        s.serverDtypes << (info.server.isEmpty() ? QString() : info.dtype);
    }
    s.prompt = m_prompt->toPlainText();
    s.layer = m_layerSpin->value();
    s.head = m_headSpin->value();
    s.spanBegin = m_spanBegin;
    s.spanEnd = m_spanEnd;
    s.colors = m_colors->options();
    s.device = m_deviceCombo->currentText();
    s.dtype = m_dtypeCombo->currentText();
    s.compareTab = m_tabs->currentWidget() != m_tabs->widget(0);
    return s;
}

bool MainWindow::saveSession(const QString& path)
{
    QSaveFile file(path); // atomic: the old session stays intact if writing fails
    if (!file.open(QIODevice::WriteOnly) || file.write(sessionToJson(currentSession())) < 0 || !file.commit()) {
        showError(tr("Cannot save the session"), tr("%1: %2").arg(path, file.errorString()));
        return false;
    }
    m_status->setText(tr("session saved to %1").arg(path));
    return true;
}

void MainWindow::saveSessionAs()
{
    const QString folder = m_settings.lastFolder();
    QString path = QFileDialog::getSaveFileName(this, tr("Save the session"),
        QDir(folder.isEmpty() ? QDir::homePath() : folder).filePath(QStringLiteral("session.attnscope")),
        tr("attnscope session (*.attnscope)"), nullptr, QFileDialog::DontConfirmOverwrite);
    if (path.isEmpty())
        return;
    if (QFileInfo(path).suffix().isEmpty())
        path += QStringLiteral(".attnscope");
    m_settings.setLastFolder(QFileInfo(path).absolutePath());
    if (QFileInfo::exists(path)
        && QMessageBox::question(this, tr("Replace the session?"), tr("%1 exists. Replace it?").arg(path))
            != QMessageBox::Yes)
        return;
    saveSession(path);
}

void MainWindow::openSession(const QString& path)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) {
        showError(tr("Cannot open the session"), tr("%1: %2").arg(path, file.errorString()));
        return;
    }
    QString error;
    const auto state = sessionFromJson(file.readAll(), &error);
    if (!state) {
        showError(tr("Cannot open the session"), tr("%1: %2").arg(path, error));
        return;
    }
    restoreSession(*state);
}

void MainWindow::restoreSession(const SessionState& state)
{
    m_colors->setOptions(state.colors);
    m_deviceCombo->setCurrentIndex(std::max(0, m_deviceCombo->findText(state.device)));
    m_dtypeCombo->setCurrentIndex(std::max(0, m_dtypeCombo->findText(state.dtype)));
    m_prompt->setPlainText(state.prompt);
    m_pendingSession = state;
    m_pendingLoads.clear();
    m_sessionConnects.clear();
    m_sessionProblems.clear();
    QStringList toConnect; // servers this app is not connected to: connect first, then open their models
    for (qsizetype i = 0; i < state.models.size(); ++i) {
        const QString server = state.servers.value(i);
        if (server.isEmpty())
            m_pendingLoads.insert(openModel(state.models[i]));
        else if (m_engine->isConnected(server))
            m_pendingLoads.insert(openRemoteModel(server, state.models[i],
                state.serverDevices.value(i).isEmpty() ? state.device : state.serverDevices[i],
                state.serverDtypes.value(i).isEmpty() ? state.dtype : state.serverDtypes[i]));
        else if (!toConnect.contains(server))
            toConnect << server;
    }
    for (const QString& server : toConnect) {
        // The endpoint this app last used for it, else the saved connection (token file, certificate), else
        // $ATTNSCOPE_TOKEN; a refusal asks (onSessionServerFailed).
        RemoteEndpoint endpoint;
        if (const auto known = m_engine->endpoint(server)) {
            endpoint = *known;
        } else {
            endpoint.target = server.toStdString();
            if (const auto saved = m_settings.savedConnection(server)) {
                endpoint.tokenFile = saved->tokenFile.toStdString();
                endpoint.caFile = saved->caFile.toStdString();
                endpoint.float16 = saved->float16;
            }
        }
        m_status->setText(tr("connecting to %1 for the session's models…").arg(server));
        const quint64 request = m_engine->connectServer(endpoint);
        m_sessionConnects[request] = server;
        m_pendingLoads.insert(request);
    }
    if (m_pendingLoads.empty())
        finishSessionRestore();
}

void MainWindow::modelLoadSettled(quint64 loadRequest)
{
    // Only the session's own loads count: a model the user opens meanwhile neither finishes nor holds it up.
    if (m_pendingSession && m_pendingLoads.erase(loadRequest) && m_pendingLoads.empty())
        finishSessionRestore();
}

void MainWindow::finishSessionRestore()
{
    if (!m_pendingSession)
        return;
    const SessionState state = *m_pendingSession;
    m_pendingSession.reset();
    // Models arrive in any order; the session's first model is the one it was looking at.
    if (!state.models.isEmpty())
        for (int i = 0; i < m_modelCombo->count(); ++i) {
            const auto it = m_models.find(m_modelCombo->itemData(i).toInt());
            if (it == m_models.end() || it->second.server != state.servers.value(0))
                continue;
            const bool same = it->second.server.isEmpty()
                ? QFileInfo(it->second.path) == QFileInfo(state.models.front())
                : it->second.path == state.models.front(); // a path on the server: compared as written
            if (same)
                m_modelCombo->setCurrentIndex(i);
        }
    m_prompt->setPlainText(state.prompt);
    // Out-of-range values (a model changed since the session was saved) are clamped by the spin boxes.
    m_layerSpin->setValue(state.layer);
    m_headSpin->setValue(state.head);
    setRelevantSpan(state.spanBegin, state.spanEnd);
    if (state.compareTab)
        showCompare();
    requestRun();
    if (!m_sessionProblems.isEmpty()) {
        // One message for the whole restore: what came back, what did not and why.
        showError(tr("Some of the session's models were not reopened"),
            tr("Restored %1 of %2 models. Not reopened:\n\n%3")
                .arg(state.models.size() - m_sessionProblems.size())
                .arg(state.models.size())
                .arg(m_sessionProblems.join(QStringLiteral("\n"))));
        m_sessionProblems.clear();
    }
    Q_EMIT sessionRestored();
}

} // namespace attn::app
