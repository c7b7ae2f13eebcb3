// SPDX-License-Identifier: GPL-3.0-or-later
// Issue #12, the behaviours of a run over time that had no headless test: Esc-cancelling a head switch puts the spin
// box back to the head the maps show; one progress bar that never goes back; nothing of the previous long prompt
// (maps, exact-window button, metrics line, thumbnails) passes for the new one while it runs; the token
// count says what the limit is and where it comes from; the long-context demo's prompt fits and runs; and file
// dialogs add the chosen filter's extension and remember the folder.
#include "attnscope/init.h"
#include "attnscope/model.h"
#include "busyoverlay.h"
#include "heatmappanel.h"
#include "longprompt.h"
#include "mainwindow.h"
#include "metricspanel.h"
#include "testmodels.h"

#include <QAction>
#include <QApplication>
#include <QComboBox>
#include <QDir>
#include <QFile>
#include <QFileDialog>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QMenuBar>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>

#include "apptest.h"

#include <functional>

using namespace attn;
using namespace attn::app;

namespace {

QString bundled(const QString& name)
{
    return QStringLiteral(ATTNSCOPE_SOURCE_DIR "/resources/models/") + name;
}

int64_t jsonInt(const QString& path, const QStringList& keys)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return -1;
    QJsonObject object = QJsonDocument::fromJson(file.readAll()).object();
    for (int i = 0; i + 1 < keys.size(); ++i)
        object = object.value(keys[i]).toObject();
    return static_cast<int64_t>(object.value(keys.back()).toDouble(-1));
}

QAction* menuAction(const MainWindow& window, const QString& text)
{
    for (QAction* action : window.menuBar()->findChildren<QAction*>())
        if (action->text() == text)
            return action;
    return nullptr;
}

/// Runs `act` on the file dialog `trigger` opens (the dialog's own event loop is running then).
void onNextFileDialog(const std::function<void(QFileDialog*)>& act)
{
    QTimer::singleShot(0, [act] {
        QFileDialog* dialog = nullptr;
        QTRY_VERIFY((dialog = qobject_cast<QFileDialog*>(QApplication::activeModalWidget())) != nullptr);
        act(dialog);
    });
}

} // namespace

class TestRunFlow : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase()
    {
        QCoreApplication::setOrganizationName(QStringLiteral("attnscope-tests"));
        QCoreApplication::setApplicationName(QStringLiteral("tst_runflow"));
        QSettings().clear();
        QVERIFY(m_dir.isValid());
        // Deep and long enough that a run takes a while on any machine, so a cancel lands mid-run and the cover
        // has time to appear.
        ModelConfig deep = test::diffCopeConfig(128);
        deep.nLayers = 24;
        deep.maxSeqLen = 1100;
        deep.cope.npos = 1101;
        m_deep = m_dir.filePath(QStringLiteral("deep"));
        QVERIFY(initRandomModel(m_deep.toStdString(), deep, 5, false).isOk());
        ModelConfig longConfig = test::diffCopeConfig(128);
        longConfig.position = PositionKind::Rope;
        longConfig.maxSeqLen = 4096;
        m_long = m_dir.filePath(QStringLiteral("long"));
        QVERIFY(initRandomModel(m_long.toStdString(), longConfig, 8, false).isOk());
    }

    void cancellingAHeadSwitchPutsTheSpinBoxBackToTheShownHead()
    {
        MainWindow window;
        QSignalSpy shown(&window, &MainWindow::mapsShown);
        QSignalSpy cancelled(&window, &MainWindow::runCancelled);
        window.setPrompt(QString(1000, QLatin1Char('x')));
        window.openModel(m_deep);
        QVERIFY(shown.wait(120000));
        auto* head = window.findChild<QSpinBox*>(QStringLiteral("headSpin"));
        auto* layer = window.findChild<QSpinBox*>(QStringLiteral("layerSpin"));
        QCOMPARE(head->value(), 0);
        layer->setValue(3);
        head->setValue(1); // the user asks for layer 3, head 1; the run is posted…
        // …and Esc cancels it at once. Not after waiting for runStarted: a switch on a kept layer takes milliseconds,
        // so by the time "started" reaches the UI thread the run can be finished already, and nothing is cancelled.
        window.engine().cancel();
        QVERIFY(cancelled.wait(60000));
        QCOMPARE(shown.count(), 1);
        // The spin boxes name what the maps show, not what was asked for.
        QCOMPARE(head->value(), 0);
        QCOMPARE(layer->value(), 0);
        QVERIFY2(window.panels().front()->map().details.contains(QStringLiteral("layer 0, head 0")),
            qPrintable(window.panels().front()->map().details));
        auto* banner = window.findChild<QLabel*>(QStringLiteral("staleBanner"));
        QVERIFY(banner->isHidden());
    }

    void theProgressBarNeverGoesBack()
    {
        MainWindow window;
        QSignalSpy shown(&window, &MainWindow::mapsShown);
        window.setPrompt(QStringLiteral("ab"));
        window.openModel(m_deep);
        QVERIFY(shown.wait(60000));
        auto* bar = window.findChild<QProgressBar*>();
        QVERIFY(bar);
        // A new prompt: the maps and every head's metrics and thumbnails, in one pass over the 24 layers.
        QList<double> fractions;
        QList<int> maxima;
        bool running = false;
        connect(&window.engine(), &Engine::runStarted, this, [&] { running = true; });
        connect(bar, &QProgressBar::valueChanged, this, [&](int value) {
            if (running && bar->maximum() > 0) {
                fractions << static_cast<double>(value) / bar->maximum();
                maxima << bar->maximum();
            }
        });
        window.setPrompt(QString(600, QLatin1Char('x')));
        window.runNow();
        QVERIFY(shown.wait(120000));
        QVERIFY(fractions.size() >= 24);
        for (int i = 1; i < fractions.size(); ++i)
            QVERIFY2(fractions[i] >= fractions[i - 1],
                qPrintable(QStringLiteral("step %1: %2 after %3").arg(i).arg(fractions[i]).arg(fractions[i - 1])));
        QCOMPARE(maxima.back(), 24); // one bar, one pass
        QVERIFY2(fractions.back() > 0.99, qPrintable(QString::number(fractions.back())));
    }

    void nothingOfThePreviousLongPromptStaysWhileTheNextRuns()
    {
        MainWindow window;
        QSignalSpy shown(&window, &MainWindow::mapsShown);
        window.resize(1280, 770);
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        window.setPrompt(QString(2999, QLatin1Char('y'))); // + <bos> = 3000 tokens: an overview
        window.openModel(m_long);
        QVERIFY(shown.wait(120000));
        QTRY_VERIFY_WITH_TIMEOUT(window.metricsPanel()->summary().contains(QStringLiteral("3000 tokens")), 30000);
        auto* exact = window.findChild<QPushButton*>(QStringLiteral("exactButton"));
        QVERIFY(exact->isVisible() && exact->isEnabled());
        auto* cover = window.findChild<BusyOverlay*>(QStringLiteral("busyOverlay"));
        QVERIFY(cover && !cover->isVisible());

        QSignalSpy started(&window.engine(), &Engine::runStarted);
        window.setPrompt(QString(2599, QLatin1Char('z')));
        window.runNow();
        QVERIFY(started.wait(60000));
        // In flight: the previous prompt's metrics line and thumbnails are gone, the button is off, and the maps
        // are covered (after the short delay that spares quick runs a flash).
        const QString summary = window.metricsPanel()->summary();
        QVERIFY2(!summary.contains(QStringLiteral("3000")) && summary.contains(QStringLiteral("computing")),
            qPrintable(summary));
        QVERIFY(!exact->isEnabled());
        QVERIFY(cover->isPending());
        QTRY_VERIFY_WITH_TIMEOUT(cover->isVisible() || shown.count() == 2, 10000);
        if (shown.count() == 1) // the run is still going: the cover says what it is waiting for
            QVERIFY2(
                cover->message().contains(QStringLiteral("Computing layer 0, head 0")), qPrintable(cover->message()));
        QVERIFY(shown.count() == 2 || shown.wait(120000));
        QVERIFY(!cover->isVisible());
        QVERIFY(exact->isEnabled());
        QTRY_VERIFY_WITH_TIMEOUT(window.metricsPanel()->summary().contains(QStringLiteral("2600 tokens")), 30000);
    }

    void theTokenCountSaysTheLimitAndWhereItComesFrom()
    {
        // The bundled needles RoPE model: trained with max_seq_len 160 (train.json), accepts 16,384 (config.json).
        const QString model = bundled(QStringLiteral("needles-diff-rope"));
        const int64_t trained
            = jsonInt(model + QStringLiteral("/train.json"), {QStringLiteral("config"), QStringLiteral("max_seq_len")});
        const int64_t allowed = jsonInt(model + QStringLiteral("/config.json"), {QStringLiteral("max_seq_len")});
        QVERIFY(trained > 0 && allowed >= 16384 && trained < allowed);
        MainWindow window;
        QSignalSpy shown(&window, &MainWindow::mapsShown);
        window.setPrompt(QStringLiteral("the sky is blue ."));
        window.openModel(model);
        QVERIFY(shown.wait(60000));
        auto* count = window.findChild<QLabel*>(QStringLiteral("tokenCount"));
        const QString text = count->text();
        QVERIFY2(text.contains(QLocale().toString(static_cast<qlonglong>(trained)))
                && text.contains(QLocale().toString(static_cast<qlonglong>(allowed)))
                && text.contains(QStringLiteral("trained")),
            qPrintable(text));
        QVERIFY2(count->toolTip().contains(QStringLiteral("train.json"))
                && count->toolTip().contains(QStringLiteral("config.json")),
            qPrintable(count->toolTip()));
        // A Hugging Face RoPE model: its max_position_embeddings is the trained context, the cap is attnscope's own.
        const QString hf = QStringLiteral(ATTNSCOPE_SOURCE_DIR "/tests/data/hf/diffllama_gqa");
        const int64_t positions
            = jsonInt(hf + QStringLiteral("/config.json"), {QStringLiteral("max_position_embeddings")});
        QVERIFY(positions > 0);
        window.openModel(hf);
        QVERIFY(shown.wait(60000));
        QVERIFY2(count->text().contains(
                     QStringLiteral("trained ≤ %1").arg(QLocale().toString(static_cast<qlonglong>(positions)))),
            qPrintable(count->text()));
        QVERIFY2(count->toolTip().contains(QStringLiteral("max_position_embeddings"))
                && count->toolTip().contains(QStringLiteral("attnscope's cap")),
            qPrintable(count->toolTip()));
        // A model whose folder says nothing of its training: one limit, as before.
        window.openModel(m_deep);
        QVERIFY(shown.wait(60000));
        QVERIFY2(
            count->text().contains(QStringLiteral("max %1").arg(QLocale().toString(1100))), qPrintable(count->text()));
    }

    void theLongContextDemoRunsSixteenKTokens()
    {
        const QString prompt = longNeedlesPrompt(kLongContextDemoTokens - 1, 7);
        const auto words = prompt.split(QLatin1Char(' '), Qt::SkipEmptyParts).size();
        QVERIFY2(words <= kLongContextDemoTokens - 1 && words >= 16000, qPrintable(QString::number(words)));
        MainWindow window;
        QSignalSpy errors(&window, &MainWindow::errorShown);
        window.setPrompt(QStringLiteral("the sky is blue ."));
        QSignalSpy started(&window.engine(), &Engine::runStarted);
        window.openLongContextDemo();
        // The model's own tokenizer: every word is in its vocabulary and, with <bos>, the prompt fits its config.
        auto model = Model::load(bundled(QStringLiteral("needles-diff-rope")).toStdString());
        QVERIFY(model.isOk());
        const std::vector<int64_t> ids = (*model)->tokenizer().encode(prompt.toStdString());
        QVERIFY2(
            static_cast<int64_t>(ids.size()) <= (*model)->config().maxSeqLen, qPrintable(QString::number(ids.size())));
        QVERIFY(ids.size() >= 16000);
        auto* count = window.findChild<QLabel*>(QStringLiteral("tokenCount"));
        QTRY_VERIFY_WITH_TIMEOUT(
            count->text().startsWith(QLocale().toString(static_cast<qlonglong>(ids.size()))), 60000);
        // The engine takes it: the demo's run starts, and a prompt over max_seq_len would fail at once (the whole
        // run takes minutes on a CPU, as the README says, so it is cancelled here).
        auto demoStarted = [&] {
            for (const QList<QVariant>& args : started)
                if (args.front().toULongLong() == window.engine().latestRunId())
                    return true;
            return false;
        };
        QTRY_VERIFY_WITH_TIMEOUT(demoStarted(), 60000);
        QTest::qWait(3000);
        QVERIFY2(errors.isEmpty(), qPrintable(errors.isEmpty() ? QString() : errors.front().front().toString()));
        QSignalSpy cancelled(&window, &MainWindow::runCancelled);
        window.engine().cancel(); // lands at the end of the layer in progress
        QVERIFY(cancelled.wait(180000));
    }

    void exportDialogsAddTheFiltersExtensionAndRememberTheFolder()
    {
        MainWindow window;
        QSignalSpy shown(&window, &MainWindow::mapsShown);
        window.setPrompt(QStringLiteral("abc"));
        window.openModel(m_long);
        QVERIFY(shown.wait(60000));
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        QAction* exportView = menuAction(window, QStringLiteral("&Export View…"));
        QVERIFY(exportView);
        const QString folder = m_dir.filePath(QStringLiteral("exports"));
        QVERIFY(QDir().mkpath(folder));
        // "PDF document" and a bare name: the file gets ".pdf" (it failed as "Unsupported image type").
        onNextFileDialog([folder](QFileDialog* dialog) {
            dialog->selectNameFilter(QStringLiteral("PDF document (*.pdf)"));
            dialog->setDirectory(folder);
            dialog->selectFile(QDir(folder).filePath(QStringLiteral("view")));
            static_cast<QDialog*>(dialog)->accept(); // QFileDialog::accept, as the Save button does
        });
        exportView->trigger();
        QVERIFY(QFileInfo::exists(QDir(folder).filePath(QStringLiteral("view.pdf"))));
        QVERIFY(!QFileInfo::exists(QDir(folder).filePath(QStringLiteral("view"))));
        // The next dialog opens in that folder.
        QString opened;
        onNextFileDialog([&opened](QFileDialog* dialog) {
            opened = dialog->directory().absolutePath();
            dialog->reject();
        });
        exportView->trigger();
        QCOMPARE(QFileInfo(opened).canonicalFilePath(), QFileInfo(folder).canonicalFilePath());
    }

private:
    QTemporaryDir m_dir;
    QString m_deep;
    QString m_long;
};

ATTNSCOPE_APP_TEST_MAIN(TestRunFlow)
#include "tst_runflow.moc"
