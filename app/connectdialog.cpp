// SPDX-License-Identifier: GPL-3.0-or-later
#include "connectdialog.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPushButton>
#include <QStackedWidget>
#include <QVBoxLayout>

namespace attn::app {

namespace {

/// A line edit with a "…" button that picks a file into it.
QWidget* fileRow(QLineEdit* edit, const QString& title, const QString& filter, QWidget* parent)
{
    auto* row = new QWidget(parent);
    auto* layout = new QHBoxLayout(row);
    layout->setContentsMargins(0, 0, 0, 0);
    auto* browse = new QPushButton(QObject::tr("Choose…"), row);
    layout->addWidget(edit, 1);
    layout->addWidget(browse);
    QObject::connect(browse, &QPushButton::clicked, row, [edit, title, filter, row] {
        const QString path = QFileDialog::getOpenFileName(row, title, edit->text(), filter);
        if (!path.isEmpty())
            edit->setText(path);
    });
    return row;
}

} // namespace

ConnectDialog::ConnectDialog(
    Engine* engine, Settings* settings, QWidget* parent, const QString& server, const QString& note)
    : QDialog(parent)
    , m_engine(engine)
    , m_settings(settings)
{
    setWindowTitle(tr("Connect to an attnscope-server"));
    setObjectName(QStringLiteral("connectDialog"));
    auto* layout = new QVBoxLayout(this);
    if (!note.isEmpty()) {
        auto* why = new QLabel(note, this);
        why->setWordWrap(true);
        why->setStyleSheet(QStringLiteral("background: #fff3cd; color: #664d03; padding: 4px"));
        layout->addWidget(why);
    }
    m_pages = new QStackedWidget(this);
    layout->addWidget(m_pages);

    // Page 1: where and how.
    auto* form = new QWidget(m_pages);
    auto* formLayout = new QVBoxLayout(form);
    auto* fields = new QFormLayout;
    m_serverEdit = new QComboBox(form);
    m_serverEdit->setEditable(true);
    m_serverEdit->setObjectName(QStringLiteral("serverEdit"));
    m_serverEdit->lineEdit()->setPlaceholderText(QStringLiteral("127.0.0.1:50051"));
    for (const Settings::SavedConnection& saved : m_settings->savedConnections())
        m_serverEdit->addItem(saved.server);
    m_serverEdit->setMinimumWidth(280);
    m_tokenFile = new QLineEdit(form);
    m_tokenFile->setObjectName(QStringLiteral("tokenFileEdit"));
    m_tokenFile->setPlaceholderText(tr("empty: $ATTNSCOPE_TOKEN"));
    m_token = new QLineEdit(form);
    m_token->setObjectName(QStringLiteral("tokenEdit"));
    m_token->setEchoMode(QLineEdit::Password);
    m_token->setPlaceholderText(tr("or type it here (not saved)"));
    m_caFile = new QLineEdit(form);
    m_caFile->setObjectName(QStringLiteral("caFileEdit"));
    m_caFile->setPlaceholderText(tr("empty: no TLS (loopback or an SSH tunnel)"));
    m_float16 = new QCheckBox(tr("Send maps as float16 (half the bytes; float32 is exact)"), form);
    fields->addRow(tr("Server (HOST:PORT)"), m_serverEdit);
    fields->addRow(tr("Token file"), fileRow(m_tokenFile, tr("The server's token file"), tr("All files (*)"), form));
    fields->addRow(tr("Token"), m_token);
    fields->addRow(tr("TLS certificate (CA)"),
        fileRow(
            m_caFile, tr("The server's CA or self-signed certificate"), tr("PEM (*.pem *.crt);;All files (*)"), form));
    fields->addRow(QString(), m_float16);
    formLayout->addLayout(fields);
    auto* hint = new QLabel(tr("A server on another machine: keep an SSH tunnel open, then connect to "
                               "127.0.0.1:50051:<br><tt>ssh -N -L 50051:127.0.0.1:50051 gpu-host</tt>"),
        form);
    hint->setWordWrap(true);
    hint->setTextFormat(Qt::RichText);
    formLayout->addWidget(hint);
    m_status = new QLabel(form);
    m_status->setObjectName(QStringLiteral("connectStatus"));
    m_status->setWordWrap(true);
    m_status->setTextInteractionFlags(Qt::TextSelectableByMouse);
    formLayout->addWidget(m_status);
    formLayout->addStretch();
    auto* formButtons = new QDialogButtonBox(QDialogButtonBox::Cancel, form);
    m_connect = formButtons->addButton(tr("Connect"), QDialogButtonBox::AcceptRole);
    m_connect->setObjectName(QStringLiteral("connectButton"));
    m_connect->setDefault(true);
    connect(formButtons, &QDialogButtonBox::accepted, this, &ConnectDialog::connectNow);
    connect(formButtons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    formLayout->addWidget(formButtons);
    m_pages->addWidget(form);

    // Page 2: the server's models.
    auto* list = new QWidget(m_pages);
    auto* listLayout = new QVBoxLayout(list);
    m_listTitle = new QLabel(list);
    m_listTitle->setWordWrap(true);
    m_models = new QListWidget(list);
    m_models->setObjectName(QStringLiteral("serverModels"));
    m_models->setSelectionMode(QAbstractItemView::ExtendedSelection);
    auto* options = new QFormLayout;
    m_device = new QComboBox(list);
    m_device->setEditable(true); // the server's GPUs are not known here: cuda:N as its --devices names them
    m_device->addItems({QStringLiteral("auto"), QStringLiteral("cpu"), QStringLiteral("cuda"), QStringLiteral("cuda:0"),
        QStringLiteral("cuda:1")});
    m_device->setToolTip(tr("Where the server runs the model: auto picks its first GPU, else its CPU"));
    m_dtype = new QComboBox(list);
    m_dtype->addItems({QStringLiteral("fp32"), QStringLiteral("bf16")});
    m_device->setCurrentIndex(std::max(0, m_device->findText(m_settings->device())));
    m_dtype->setCurrentIndex(std::max(0, m_dtype->findText(m_settings->dtype())));
    options->addRow(tr("Device (on the server)"), m_device);
    options->addRow(tr("Dtype"), m_dtype);
    listLayout->addWidget(m_listTitle);
    listLayout->addWidget(m_models, 1);
    listLayout->addLayout(options);
    auto* listButtons = new QDialogButtonBox(QDialogButtonBox::Close, list);
    m_open = listButtons->addButton(tr("Open"), QDialogButtonBox::AcceptRole);
    m_open->setObjectName(QStringLiteral("openButton"));
    m_open->setEnabled(false);
    auto* back = listButtons->addButton(tr("Other Server…"), QDialogButtonBox::ResetRole);
    connect(back, &QPushButton::clicked, this, [this] { m_pages->setCurrentIndex(0); });
    connect(listButtons, &QDialogButtonBox::accepted, this, &ConnectDialog::openChosen);
    connect(listButtons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    connect(m_models, &QListWidget::itemSelectionChanged, this,
        [this] { m_open->setEnabled(!m_models->selectedItems().isEmpty()); });
    connect(m_models, &QListWidget::itemDoubleClicked, this, &ConnectDialog::openChosen);
    listLayout->addWidget(listButtons);
    m_pages->addWidget(list);

    connect(m_engine, &Engine::serverConnected, this, &ConnectDialog::onConnected);
    connect(m_engine, &Engine::serverConnectFailed, this, &ConnectDialog::onConnectFailed);
    connect(m_serverEdit, &QComboBox::currentTextChanged, this, &ConnectDialog::fillFromSaved);
    if (!server.isEmpty())
        m_serverEdit->setCurrentText(server);
    else if (m_serverEdit->count() == 0)
        m_serverEdit->setCurrentText(QStringLiteral("127.0.0.1:50051")); // where attnscope-server listens by default
    fillFromSaved(m_serverEdit->currentText());
    resize(560, 380);
}

QString ConnectDialog::statusText() const
{
    return m_status->text();
}

void ConnectDialog::fillFromSaved(const QString& server)
{
    if (const auto saved = m_settings->savedConnection(server.trimmed())) {
        m_tokenFile->setText(saved->tokenFile);
        m_caFile->setText(saved->caFile);
        m_float16->setChecked(saved->float16);
    }
}

void ConnectDialog::setBusy(bool busy)
{
    m_connect->setEnabled(!busy);
    m_serverEdit->setEnabled(!busy);
}

void ConnectDialog::connectNow()
{
    RemoteEndpoint endpoint;
    endpoint.target = m_serverEdit->currentText().trimmed().toStdString();
    endpoint.tokenFile = m_tokenFile->text().trimmed().toStdString();
    endpoint.token = m_token->text().trimmed().toStdString();
    endpoint.caFile = m_caFile->text().trimmed().toStdString();
    endpoint.float16 = m_float16->isChecked();
    if (endpoint.target.empty() || endpoint.target.find(':') == std::string::npos) {
        m_status->setText(tr("Enter the server as HOST:PORT, e.g. 127.0.0.1:50051."));
        return;
    }
    m_status->setStyleSheet(QString());
    m_status->setText(tr("Connecting to %1… (gives up after %2 s)")
                          .arg(QString::fromStdString(endpoint.target))
                          .arg(static_cast<int>(endpoint.connectSeconds)));
    setBusy(true);
    m_request = m_engine->connectServer(endpoint);
}

void ConnectDialog::onConnected(quint64 requestId, const ServerListing& listing)
{
    if (requestId != m_request)
        return;
    setBusy(false);
    m_server = listing.server;
    m_settings->addSavedConnection(
        {listing.server, m_tokenFile->text().trimmed(), m_caFile->text().trimmed(), m_float16->isChecked()});
    m_models->clear();
    for (qsizetype i = 0; i < listing.paths.size(); ++i) {
        QString shown = listing.paths[i];
        for (const QString& root : listing.roots)
            if (shown.startsWith(root + QLatin1Char('/'))) // the folder is named once, in the title, when there is one
                shown = listing.roots.size() == 1 ? shown.mid(root.size() + 1)
                                                  : QStringLiteral("%1 — %2").arg(shown.mid(root.size() + 1), root);
        if (listing.kinds.value(i) == QLatin1String("checkpoint"))
            shown += tr(" (checkpoint file)");
        auto* item = new QListWidgetItem(shown, m_models);
        item->setData(Qt::UserRole, listing.paths[i]);
        item->setToolTip(listing.paths[i]);
    }
    m_listTitle->setText(listing.paths.isEmpty()
            ? tr("Connected to %1, but its allowed folders (%2) hold no model it can open.")
                  .arg(listing.server, listing.roots.join(QStringLiteral(", ")))
            : (listing.roots.size() == 1 ? tr("Models on %1 (its allowed folder: %2). Choose one or more:")
                                         : tr("Models on %1 (its allowed folders: %2). Choose one or more:"))
                  .arg(listing.server, listing.roots.join(QStringLiteral(", "))));
    m_pages->setCurrentIndex(1);
    Q_EMIT connected(listing.server);
}

void ConnectDialog::onConnectFailed(quint64 requestId, const QString& server, const QString& message, bool refused)
{
    if (requestId != m_request)
        return;
    setBusy(false);
    m_status->setStyleSheet(QStringLiteral("color: #c0392b"));
    // The client's messages name the server and say what to check (the token, the tunnel, the certificate).
    m_status->setText(refused
            ? tr("Refused: %1\nHere: choose the server's token file, or type the token above.").arg(message)
            : tr("Cannot connect to %1: %2").arg(server, message));
    Q_EMIT connectFailed(server, message, refused);
}

void ConnectDialog::openChosen()
{
    QStringList paths;
    for (QListWidgetItem* item : m_models->selectedItems())
        paths << item->data(Qt::UserRole).toString();
    if (paths.isEmpty())
        return;
    Q_EMIT openRequested(m_server, paths, m_device->currentText().trimmed(), m_dtype->currentText());
    accept();
}

} // namespace attn::app
