// SPDX-License-Identifier: GPL-3.0-or-later
// attnscope: the desktop front end. `attnscope [MODEL_DIR] [--prompt TEXT]`
#include "mainwindow.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QTimer>

int main(int argc, char** argv)
{
    QApplication app(argc, argv);
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
    parser.process(app);

    attn::app::MainWindow window;
    window.resize(1500, 950);
    window.setPrompt(parser.isSet(prompt) ? parser.value(prompt)
                                          : QStringLiteral("Alice was tired. She tried reading. A rabbit came."));
    for (const QString& model : parser.positionalArguments())
        window.openModel(model);
    window.show();
    if (parser.isSet(compare))
        window.showCompare();
    if (parser.isSet(screenshot)) {
        const QString path = parser.value(screenshot);
        auto shown = parser.isSet(compare) ? &attn::app::MainWindow::compareShown : &attn::app::MainWindow::mapsShown;
        QObject::connect(&window, shown, &app, [&window, path] {
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
    return app.exec();
}
