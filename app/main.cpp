// SPDX-License-Identifier: GPL-3.0-or-later
// attnscope: the desktop front end. `attnscope [MODEL_DIR] [--prompt TEXT]`
#include "attnscope/model.h"
#include "bundledmodels.h"
#include "mainwindow.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QScreen>
#include <QSettings>

#include <QTimer>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv)
{
    QApplication app(argc, argv);
    // One core stays with this (the UI) thread: the engine's pool on every core starved the paint of the maps it had
    // just made (UI stalls of 54 ms instead of 26-33 on 2 cores). OpenBLAS's matmuls still use every core.
    attn::configureCpuThreads(/*coresKeptFree=*/1);
    QApplication::setOrganizationName(QStringLiteral("attnscope"));
    QApplication::setApplicationName(QStringLiteral("attnscope"));
    QApplication::setApplicationVersion(QStringLiteral(ATTNSCOPE_VERSION));

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Look inside differential and CoPE attention"));
    parser.addHelpOption();
    parser.addVersionOption();
    parser.addPositionalArgument(QStringLiteral("model"), QStringLiteral("model directories to open"));
    QCommandLineOption prompt(QStringLiteral("prompt"), QStringLiteral("prompt to run"), QStringLiteral("text"));
    parser.addOption(prompt);
    QCommandLineOption screenshot(QStringLiteral("screenshot"),
        QStringLiteral("save the window as PNG once the maps are shown, then exit (docs, checks)"),
        QStringLiteral("file"));
    parser.addOption(screenshot);
    QCommandLineOption compare(QStringLiteral("compare"), QStringLiteral("open on the Compare models tab"));
    parser.addOption(compare);
    QCommandLineOption exactWindow(QStringLiteral("window"),
        QStringLiteral("for long prompts: show exact values of queries q0:q1 x keys k0:k1 instead of the overview"),
        QStringLiteral("q0:q1,k0:k1"));
    parser.addOption(exactWindow);
    parser.process(app);
    long long q0 = 0, q1 = 0, k0 = 0, k1 = 0;
    if (parser.isSet(exactWindow)
        && std::sscanf(parser.value(exactWindow).toLatin1().constData(), "%lld:%lld,%lld:%lld", &q0, &q1, &k0, &k1)
            != 4) {
        std::fprintf(stderr, "attnscope: --window expects q0:q1,k0:k1 (token ranges, end exclusive)\n");
        return 2;
    }

    attn::app::MainWindow window;
    // 90 % of the screen, at least 1500 x 950 where the screen has room, never more than 95 % of it (1280 x 800
    // laptops included): on a 1920 x 1080 desktop the eleven maps of a DIFF+CoPE head get the extra room.
    if (const QScreen* screen = QGuiApplication::primaryScreen()) {
        const QSize available = screen->availableGeometry().size();
        const QSize room = available * 0.95;
        const QSize wanted = (available * 0.9).expandedTo(QSize(1500, 950));
        window.resize(std::min(wanted.width(), room.width()), std::min(wanted.height(), room.height()));
    } else {
        window.resize(1500, 950);
    }
    window.setPrompt(parser.isSet(prompt) ? parser.value(prompt)
                                          : QStringLiteral("Alice was tired. She tried reading. A rabbit came."));
    const QStringList models = parser.positionalArguments();
    if (!models.isEmpty()) {
        for (const QString& model : models)
            window.openModel(model);
    } else if (const QStringList bundled = attn::app::bundledModels(); !bundled.isEmpty()) {
        // First launch: every bundled model, the first one shown with its sample prompt already run.
        attn::app::SessionState state;
        state.models = bundled;
        QFile sample(QDir(bundled.front()).filePath(QStringLiteral("sample_prompt.txt")));
        state.prompt = parser.isSet(prompt)    ? parser.value(prompt)
            : sample.open(QIODevice::ReadOnly) ? QString::fromUtf8(sample.readAll()).trimmed()
                                               : window.currentSession().prompt;
        state.colors = window.currentSession().colors;
        window.restoreSession(state);
    }
    window.show();
    if (parser.isSet(compare))
        window.showCompare();
    if (parser.isSet(exactWindow)) // once the first maps are in, ask for the window (the screenshot waits for it)
        QObject::connect(
            &window, &attn::app::MainWindow::mapsShown, &window,
            [&window, q0, q1, k0, k1] { window.showExactWindow(q0, q1, k0, k1); }, Qt::SingleShotConnection);
    if (parser.isSet(screenshot)) {
        const QString path = parser.value(screenshot);
        auto shown = parser.isSet(compare) ? &attn::app::MainWindow::compareShown : &attn::app::MainWindow::mapsShown;
        const int skip = parser.isSet(exactWindow) ? 1 : 0; // the overview comes first, then the window
        QObject::connect(&window, shown, &app, [&window, path, skip, seen = 0]() mutable {
            if (seen++ < skip)
                return;
            // One event-loop turn later, so the queued replots have painted.
            QTimer::singleShot(500, &window, [&window, path] {
                const bool saved = window.grab().save(path);
                QCoreApplication::exit(saved ? 0 : 2);
            });
        });
        QObject::connect(&window, &attn::app::MainWindow::errorShown, &app, [](const QString& message) {
            qCritical("attnscope: %s", qPrintable(message));
            QCoreApplication::exit(1);
        });
    }
    const int code = app.exec();
    // Quitting took 2.4 s, none of it ours: the event loop ends in ~40 ms and the engine thread joins in 1 ms, then
    // the process spends seconds in library teardown at exit (LibTorch's and its dependencies' static destructors).
    // Everything the app keeps is written by now (closeEvent saved geometry, state and the prompt; QSettings is
    // synced below; exports and sessions are written atomically when made), so skip that teardown.
    QSettings().sync();
    std::fflush(nullptr);
    std::_Exit(code);
}
