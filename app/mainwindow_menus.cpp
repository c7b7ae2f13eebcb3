// SPDX-License-Identifier: GPL-3.0-or-later
// The main window's menus and their shortcuts (File, Run, View, Help).
#include "mainwindow.h"

#include "attnscope/model.h"

#include <QAction>
#include <QActionGroup>
#include <QApplication>
#include <QDockWidget>
#include <QFileDialog>
#include <QFileInfo>
#include <QLineEdit>
#include <QMenuBar>
#include <QMessageBox>
#include <QSpinBox>

namespace attn::app {

namespace {

/// A step from a shortcut: QAbstractSpinBox selects its text on every step, which left the layer and head numbers
/// highlighted while the focus is elsewhere (in the prompt, on a map).
void stepSpin(QSpinBox* spin, int steps)
{
    spin->stepBy(steps);
    if (!spin->hasFocus())
        if (auto* edit = spin->findChild<QLineEdit*>())
            edit->deselect();
}

} // namespace

QAction* MainWindow::buildMenus()
{
    QMenu* file = menuBar()->addMenu(tr("&File"));
    QAction* open = file->addAction(tr("&Open Model…"), this, [this] {
        const QString dir = QFileDialog::getExistingDirectory(
            this, tr("Open a model folder (attnscope or Hugging Face)"), m_settings.lastFolder());
        if (dir.isEmpty())
            return;
        m_settings.setLastFolder(QFileInfo(dir).absolutePath());
        openModel(dir);
    });
    open->setShortcut(QKeySequence::Open);
    file->addAction(tr("Open &Checkpoint File (.pt)…"), this, [this] {
        const QString path = QFileDialog::getOpenFileName(this, tr("Open a PyTorch checkpoint"),
            m_settings.lastFolder(), tr("PyTorch checkpoint (*.pt *.pth *.ckpt);;All files (*)"));
        if (path.isEmpty())
            return;
        m_settings.setLastFolder(QFileInfo(path).absolutePath());
        openModel(path);
    });
    file->addAction(tr("Open Model &Config (config.json)…"), this, [this] {
        const QString config = QFileDialog::getOpenFileName(this, tr("Open a model's config.json"),
            m_settings.lastFolder(), tr("Model config (config.json);;JSON (*.json)"));
        if (!config.isEmpty())
            openModel(config); // the engine opens the directory that holds it
    });
    m_recentMenu = file->addMenu(tr("Open &Recent"));
    rebuildRecentMenu();
    file->addSeparator();
    file->addAction(tr("Co&nnect to Server…"), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_O), this,
            [this] { showConnectDialog(); })
        ->setToolTip(tr("Open models on an attnscope-server (a GPU machine), e.g. through an SSH tunnel"));
    m_reconnectMenu = file->addMenu(tr("Reconnect to Server"));
    rebuildReconnectMenu();
    file->addSeparator();
    file->addAction(tr("Open &Session…"), this, [this] {
        const QString path = QFileDialog::getOpenFileName(
            this, tr("Open a session"), m_settings.lastFolder(), tr("attnscope session (*.attnscope)"));
        if (!path.isEmpty())
            openSession(path);
    });
    // Explicit: QKeySequence::SaveAs is empty on plain X11 (it exists only under GNOME/KDE).
    file->addAction(
        tr("Save Session &As…"), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_S), this, &MainWindow::saveSessionAs);
    file->addSeparator();
    file->addAction(tr("&Export View…"), QKeySequence(Qt::CTRL | Qt::Key_E), this, &MainWindow::exportView);
    file->addAction(
        tr("Export &Panel…"), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_E), this, &MainWindow::exportPanel);
    file->addAction(tr("Export Panel &Numbers (.npy, .csv)…"), this, &MainWindow::exportPanelData);
    file->addAction(tr("Export &Metrics (.csv, .json)…"), this, &MainWindow::exportMetrics);
    file->addAction(tr("&Batch Export Every Head…"), this, &MainWindow::batchExport);
    file->addSeparator();
    file->addAction(tr("&Quit"), QKeySequence::Quit, qApp, &QApplication::quit);
    QMenu* runMenu = menuBar()->addMenu(tr("&Run"));
    runMenu->addAction(tr("&Run Prompt"), QKeySequence(Qt::CTRL | Qt::Key_Return), this, &MainWindow::runNow);
    runMenu->addAction(tr("&Cancel"), QKeySequence(Qt::Key_Escape), m_engine, &Engine::cancel);
    runMenu->addSeparator();
    // Alt+ versions work wherever the focus is (the editor keeps [, ], PgUp and PgDn as text keys); the plain keys
    // work everywhere else.
    auto navigation = [&](const QString& name, Qt::Key key, auto step) {
        QAction* action = runMenu->addAction(name, this, step);
        action->setShortcuts({QKeySequence(Qt::ALT | key), QKeySequence(key)});
    };
    navigation(tr("Next Layer"), Qt::Key_PageDown, [this] { stepSpin(m_layerSpin, 1); });
    navigation(tr("Previous Layer"), Qt::Key_PageUp, [this] { stepSpin(m_layerSpin, -1); });
    navigation(tr("Next Head"), Qt::Key_BracketRight, [this] { stepSpin(m_headSpin, 1); });
    navigation(tr("Previous Head"), Qt::Key_BracketLeft, [this] { stepSpin(m_headSpin, -1); });
    QMenu* view = menuBar()->addMenu(tr("&View"));
    QAction* reset = view->addAction(tr("&Reset Zoom"), this, &MainWindow::resetZoom);
    reset->setShortcuts({QKeySequence(Qt::CTRL | Qt::Key_0), QKeySequence(Qt::Key_Home)});
    reset->setToolTip(tr("Show the whole map in every panel (double-click a panel does the same)"));
    view->addSeparator();
    m_layoutGroup = new QActionGroup(this);
    for (auto [name, mode] : {std::pair {tr("&Fit All Panels in the Window"), Settings::PanelLayout::Fit},
             std::pair {tr("&Large Panels (Scroll)"), Settings::PanelLayout::Large}}) {
        QAction* action = view->addAction(name, this, [this, mode = mode] { setPanelLayout(mode); });
        action->setCheckable(true);
        action->setChecked(m_settings.panelLayout() == mode);
        action->setData(static_cast<int>(mode));
        m_layoutGroup->addAction(action);
    }
    view->addSeparator();
    for (QDockWidget* dock : {m_modelDockPtr, m_plotDock, m_metricsDockPtr, m_overviewDockPtr})
        view->addAction(dock->toggleViewAction()); // brings a closed dock back
    QMenu* help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("Try a &16K-Token Prompt (needles-diff-rope)"), this, &MainWindow::openLongContextDemo)
        ->setToolTip(tr("Long-context mode: pooled overviews and exact windows of a 16,384-token prompt"));
    help->addAction(tr("&About attnscope"), this, [this] {
        QMessageBox::about(this, tr("About attnscope"),
            tr("<b>attnscope %1</b><br>Differential attention and CoPE, layer by layer.<br><br>Qt %2<br>LibTorch %3<br>"
               "CUDA devices: %4<br><br>GPL-3.0-or-later")
                .arg(QApplication::applicationVersion(), QString::fromLatin1(qVersion()),
                    QString::fromStdString(torchVersion()))
                .arg(cudaDeviceCount()));
    });

    return open;
}

} // namespace attn::app
