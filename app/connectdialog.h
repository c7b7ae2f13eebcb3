// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "engine.h"
#include "settings.h"

#include <QDialog>

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QListWidget;
class QPushButton;
class QStackedWidget;

namespace attn::app {

/**
 * @brief File → Connect to Server: where the server is (HOST:PORT, a saved connection), its token (a file, typed for
 * this time only, or $ATTNSCOPE_TOKEN) and TLS certificate; then the server's models to open, with the device and
 * dtype to open them with. Connecting runs on the engine's connector thread: the dialog says what it waits for and
 * what went wrong, and never blocks the UI.
 */
class ConnectDialog : public QDialog {
    Q_OBJECT
public:
    /// server: pre-filled (a session that needs it, a reconnect); note: why the dialog is asking, shown on top.
    ConnectDialog(
        Engine* engine, Settings* settings, QWidget* parent, const QString& server = {}, const QString& note = {});

    /// Connects with what the form holds (the Connect button).
    void connectNow();
    QListWidget* modelList() const { return m_models; }
    QString statusText() const;

Q_SIGNALS:
    void connected(const QString& server);
    /// Connecting failed (shown in the dialog too); refused: the server turned the token down.
    void connectFailed(const QString& server, const QString& message, bool refused);
    void openRequested(const QString& server, const QStringList& paths, const QString& device, const QString& dtype);

private:
    void onConnected(quint64 requestId, const ServerListing& listing);
    void onConnectFailed(quint64 requestId, const QString& server, const QString& message, bool refused);
    void fillFromSaved(const QString& server);
    void openChosen();
    void setBusy(bool busy);

    Engine* m_engine;
    Settings* m_settings;
    quint64 m_request = 0;
    QString m_server; ///< of the listing shown
    QStackedWidget* m_pages = nullptr;
    QComboBox* m_serverEdit = nullptr;
    QLineEdit* m_tokenFile = nullptr;
    QLineEdit* m_token = nullptr;
    QLineEdit* m_caFile = nullptr;
    QCheckBox* m_float16 = nullptr;
    QLabel* m_status = nullptr;
    QPushButton* m_connect = nullptr;
    QLabel* m_listTitle = nullptr;
    QListWidget* m_models = nullptr;
    QComboBox* m_device = nullptr;
    QComboBox* m_dtype = nullptr;
    QPushButton* m_open = nullptr;
};

} // namespace attn::app
