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
    for (const auto& [id, info] : m_models)
        s.models << info.path;
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
    for (const QString& model : state.models)
        m_pendingLoads.insert(openModel(model));
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
            if (it != m_models.end() && QFileInfo(it->second.path) == QFileInfo(state.models.front()))
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
    Q_EMIT sessionRestored();
}

} // namespace attn::app
