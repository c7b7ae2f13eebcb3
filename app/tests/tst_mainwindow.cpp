// SPDX-License-Identifier: GPL-3.0-or-later
// The main window end to end, headless: open a model, run a prompt (waiting on signals), check every panel
// against the core's own capture, hover read-out, layer navigation, and a malformed model.
#include "attnscope/fileio.h"
#include "attnscope/init.h"
#include "attnscope/model.h"
#include "attnscope/npy.h"
#include "compareview.h"
#include "heatmappanel.h"
#include "headmetricsmodel.h"
#include "mainwindow.h"
#include "metricspanel.h"
#include "testmodels.h"

#include <QApplication>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QStandardItemModel>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>

#include "apptest.h"
#include "attnscope/pooling.h"

#include <cmath>

using namespace attn;
using namespace attn::app;

namespace {

const QString kPrompt = QStringLiteral("Alice was tired. She tried reading.");

} // namespace

class TestMainWindow : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        m_model = m_dir.filePath(QStringLiteral("model"));
        const Status s = initRandomModel(m_model.toStdString(), test::diffCopeConfig(128), 21, false);
        QVERIFY2(s.isOk(), s.message().c_str());
        const ModelConfig softmax = test::softmaxRopeConfig(128);
        m_softmax = m_dir.filePath(QStringLiteral("softmax"));
        const Status s2 = initRandomModel(m_softmax.toStdString(), softmax, 22, false);
        QVERIFY2(s2.isOk(), s2.message().c_str());
    }

    void opensAModelAndShowsEveryMapOfTheHead()
    {
        MainWindow window;
        QSignalSpy shown(&window, &MainWindow::mapsShown);
        window.setPrompt(kPrompt);
        window.openModel(m_model);
        QVERIFY(shown.wait(30000));

        auto model = Model::load(m_model.toStdString());
        QVERIFY(model.isOk());
        const std::vector<int64_t> tokens = (*model)->tokenizer().encode(kPrompt.toStdString());
        const std::vector<MapKind> kinds = availableMapKinds((*model)->config(), false);
        QCOMPARE(window.panels().size(), kinds.size());
        QCOMPARE(window.panels().front()->map().kind, QStringLiteral("A1")); // attention maps first

        CaptureRequest request {tokens, {{0, 0}}, kinds};
        auto reference = (*model)->capture(request);
        QVERIFY(reference.isOk());
        for (HeatmapPanel* panel : window.panels()) {
            const PanelMap& shownMap = panel->map();
            QCOMPARE(shownMap.rows, static_cast<int>(tokens.size()));
            QCOMPARE(shownMap.cols, static_cast<int>(tokens.size()));
            QCOMPARE(shownMap.tokens.front(), QStringLiteral("<bos>"));
            auto kind = parseMapKind(shownMap.kind.toStdString());
            QVERIFY(kind.isOk());
            const AttentionMap* expected = reference->find(0, 0, *kind);
            QVERIFY(expected);
            for (size_t i = 0; i < expected->values.size(); ++i) {
                const float a = expected->values[i], b = shownMap.values[i];
                QVERIFY2(std::isnan(a) == std::isnan(b) && (std::isnan(a) || a == b),
                    qPrintable(shownMap.kind + QStringLiteral(" differs at ") + QString::number(i)));
            }
        }
    }

    void hoverReadOutShowsEveryTermAtTheCell()
    {
        MainWindow window;
        QSignalSpy shown(&window, &MainWindow::mapsShown);
        window.setPrompt(kPrompt);
        window.openModel(m_model);
        QVERIFY(shown.wait(30000));
        HeatmapPanel* d = nullptr;
        for (HeatmapPanel* panel : window.panels())
            if (panel->map().kind == QStringLiteral("D"))
                d = panel;
        QVERIFY(d);
        const int row = 5, col = 2;
        Q_EMIT d->cellHovered(row, col);
        const QString text = window.findChild<QLabel*>(QStringLiteral("readout"))->text();
        const float value = d->map().values[static_cast<size_t>(row * d->map().cols + col)];
        QVERIFY2(text.contains(QStringLiteral("D = ") + QString::number(value, 'g', 5)), qPrintable(text));
        QVERIFY2(text.contains(QStringLiteral("A1 = ")) && text.contains(QStringLiteral("G2 = ")), qPrintable(text));
        QVERIFY2(text.contains(QStringLiteral("λ = ")), qPrintable(text));
        Q_EMIT d->cellHovered(1, 4); // future cell
        QVERIFY(window.findChild<QLabel*>(QStringLiteral("readout"))->text().contains(QStringLiteral("masked")));
    }

    void changingTheLayerRerunsAndUpdatesLambda()
    {
        MainWindow window;
        QSignalSpy shown(&window, &MainWindow::mapsShown);
        window.setPrompt(kPrompt);
        window.openModel(m_model);
        QVERIFY(shown.wait(30000));
        const QString lambda0 = window.findChild<QLabel*>(QStringLiteral("lambdaLabel"))->text();
        window.findChild<QSpinBox*>(QStringLiteral("layerSpin"))->setValue(1);
        QVERIFY(shown.wait(30000));
        const QString lambda1 = window.findChild<QLabel*>(QStringLiteral("lambdaLabel"))->text();
        QVERIFY(lambda0.startsWith(QStringLiteral("λ = ")));
        QVERIFY2(
            lambda0 != lambda1, qPrintable(lambda0 + QStringLiteral(" vs ") + lambda1)); // λ_init differs per layer
    }

    void markedSpanGivesTable3NumbersPerHead()
    {
        MainWindow window;
        QSignalSpy shown(&window, &MainWindow::mapsShown);
        window.setPrompt(kPrompt);
        window.openModel(m_model);
        QVERIFY(shown.wait(30000));
        window.setRelevantSpan(3, 7);
        QVERIFY(shown.wait(30000));

        // Hand computation from the core's D map: last row, keys 3..6, divided by 1 - lambda.
        auto model = Model::load(m_model.toStdString());
        QVERIFY(model.isOk());
        const std::vector<int64_t> tokens = (*model)->tokenizer().encode(kPrompt.toStdString());
        auto capture = (*model)->capture({tokens, {{1, 1}}, {MapKind::D}});
        QVERIFY(capture.isOk());
        const AttentionMap& d = *capture->find(1, 1, MapKind::D);
        const double lambda = capture->lambda[1];
        double toSpan = 0.0;
        for (int64_t j = 3; j < 7; ++j)
            toSpan += d.at(d.rows - 1, j) / (1.0 - lambda);

        const HeadMetricsModel* table = window.metricsPanel()->model();
        QCOMPARE(table->rowCount(), 4); // 2 layers x 2 heads
        bool found = false;
        for (int r = 0; r < table->rowCount(); ++r)
            if (table->index(r, HeadMetricsModel::Layer).data(HeadMetricsModel::ValueRole).toInt() == 1
                && table->index(r, HeadMetricsModel::Head).data(HeadMetricsModel::ValueRole).toInt() == 1) {
                const double shownSpan = table->index(r, HeadMetricsModel::ToSpan).data(HeadMetricsModel::ValueRole).toDouble();
                QVERIFY2(std::fabs(shownSpan - toSpan) < 1e-6,
                    qPrintable(QString::number(shownSpan) + " vs " + QString::number(toSpan)));
                found = true;
            }
        QVERIFY(found);
        QVERIFY2(window.metricsPanel()->summary().contains(QStringLiteral("to span")),
            qPrintable(window.metricsPanel()->summary()));
    }

    void compareShowsBothModelsAndTheirDifference()
    {
        MainWindow window;
        QSignalSpy shown(&window, &MainWindow::mapsShown);
        QSignalSpy compared(&window, &MainWindow::compareShown);
        window.setPrompt(kPrompt);
        window.openModel(m_model);
        QVERIFY(shown.wait(30000));
        window.openModel(m_softmax);
        QVERIFY(shown.wait(30000));
        window.showCompare();
        QVERIFY(compared.wait(30000));
        const auto& panels = window.compareView()->panels();
        QCOMPARE(panels.size(), size_t(3)); // diff model, softmax model, softmax - diff
        QCOMPARE(panels[0]->map().kind, QStringLiteral("DN"));
        QCOMPARE(panels[1]->map().kind, QStringLiteral("A"));
        QVERIFY(panels[2]->map().isSigned);
        const size_t cell = 5 * static_cast<size_t>(panels[0]->map().cols) + 2;
        QCOMPARE(panels[2]->map().values[cell], panels[1]->map().values[cell] - panels[0]->map().values[cell]);
        QVERIFY(std::isnan(panels[2]->map().values[1])); // row 0, key 1: masked in both
        QCOMPARE(window.compareView()->metricsTable()->columnCount(), 3); // two models and one delta
    }

    void aSavedSessionRestoresModelsSelectionAndSpan()
    {
        const QString path = m_dir.filePath(QStringLiteral("s.attnscope"));
        {
            MainWindow window;
            QSignalSpy shown(&window, &MainWindow::mapsShown);
            window.setPrompt(kPrompt);
            window.openModel(m_model);
            QVERIFY(shown.wait(30000));
            window.findChild<QSpinBox*>(QStringLiteral("layerSpin"))->setValue(1);
            window.findChild<QSpinBox*>(QStringLiteral("headSpin"))->setValue(1);
            window.setRelevantSpan(2, 5);
            QVERIFY(shown.wait(30000));
            QVERIFY(window.saveSession(path));
        }
        MainWindow restored;
        QSignalSpy done(&restored, &MainWindow::sessionRestored);
        QSignalSpy shown(&restored, &MainWindow::mapsShown);
        restored.openSession(path);
        QVERIFY(done.wait(30000));
        const SessionState state = restored.currentSession();
        QCOMPARE(state.models.size(), 1);
        QCOMPARE(state.prompt, kPrompt);
        QCOMPARE(state.layer, 1);
        QCOMPARE(state.head, 1);
        QCOMPARE(state.spanBegin, qint64(2));
        QCOMPARE(state.spanEnd, qint64(5));
        QTRY_VERIFY_WITH_TIMEOUT(restored.metricsPanel()->summary().contains(QStringLiteral("to span")), 30000);
    }

    void aSessionWithAModelThatFailsRestoresWithTheOthersAndOnlyOnce()
    {
        MainWindow window;
        QSignalSpy done(&window, &MainWindow::sessionRestored);
        QSignalSpy errors(&window, &MainWindow::errorShown);
        SessionState state;
        state.models = {m_model, m_dir.filePath(QStringLiteral("gone-since"))};
        state.prompt = kPrompt;
        state.layer = 1;
        state.head = 1;
        window.restoreSession(state);
        QVERIFY(done.wait(30000)); // the failed load settles the session too (it once waited forever)
        QCOMPARE(done.count(), 1);
        QVERIFY(errors.count() >= 1);
        QCOMPARE(window.currentSession().models.size(), 1);
        QCOMPARE(window.currentSession().layer, 1);
        // A model opened later is not taken for one of the session's: nothing is restored again.
        window.findChild<QSpinBox*>(QStringLiteral("layerSpin"))->setValue(0);
        QSignalSpy shown(&window, &MainWindow::mapsShown);
        window.openModel(m_model);
        QVERIFY(shown.wait(30000));
        QCOMPARE(done.count(), 1);
    }

    void batchExportWritesEveryHeadAndKindWithSidecars()
    {
        MainWindow window;
        QSignalSpy shown(&window, &MainWindow::mapsShown);
        QSignalSpy done(&window, &MainWindow::batchExportFinished);
        window.setPrompt(QStringLiteral("a = 0 ;"));
        window.openModel(m_model);
        QVERIFY(shown.wait(30000));
        QTest::qWait(700); // the weights' SHA-256 is computed beside the load and reported within 200 ms of finishing
        const QString folder = window.startBatchExport(m_dir.path(), /*images=*/true, /*numbers=*/true);
        QVERIFY(done.wait(60000));
        QVERIFY2(done.front().front().toBool(), qPrintable(done.front().at(1).toString()));
        // 2 layers x 2 heads x 11 kinds: each as .png with a .json sidecar, and the numbers as one maps bundle
        // (.npy per map + maps.json, the CLI's format) in maps/.
        const QStringList files = QDir(folder).entryList(QDir::Files);
        QCOMPARE(files.size(), 2 * 2 * 11 * 2);
        QVERIFY(files.contains(QStringLiteral("model_L1_H0_D.png.json")));
        const QDir numbers(QDir(folder).filePath(QStringLiteral("maps")));
        const QStringList arrays = numbers.entryList(QDir::Files);
        QCOMPARE(arrays.size(), 2 * 2 * 11 + 1);
        QVERIFY(arrays.contains(QStringLiteral("L1_H0_D.npy")));
        auto d = readNpyFloat32(numbers.filePath(QStringLiteral("L1_H0_D.npy")).toStdString());
        QVERIFY(d.isOk());
        QCOMPARE(d->shape, (std::vector<int64_t> {8, 8})); // <bos> + 7 bytes
        // Provenance names the weights by their SHA-256, delivered after the load without delaying it.
        const auto digest = sha256File((m_model + QStringLiteral("/model.safetensors")).toStdString());
        QVERIFY(digest.isOk());
        for (const QString& provenance : {numbers.filePath(QStringLiteral("maps.json")),
                 QDir(folder).filePath(QStringLiteral("model_L1_H0_D.png.json"))}) {
            QFile sidecar(provenance);
            QVERIFY(sidecar.open(QIODevice::ReadOnly));
            const QJsonObject json = QJsonDocument::fromJson(sidecar.readAll()).object();
            QCOMPARE(json.value(QStringLiteral("model")).toObject().value(QStringLiteral("sha256")).toString(),
                QString::fromStdString(*digest));
            QCOMPARE(json.value(QStringLiteral("prompt")).toString(), QStringLiteral("a = 0 ;"));
            QCOMPARE(json.value(QStringLiteral("tokens")).toArray().size(), 8);
        }
        QCOMPARE(QDir(m_dir.path()).entryList(QStringList {QStringLiteral(".*tmp-*")}, QDir::AllEntries | QDir::Hidden),
            QStringList());
    }

    void anExportAfterSwitchingTheHeadNamesTheHeadAndPromptItsDataCameFrom()
    {
        MainWindow window;
        QSignalSpy shown(&window, &MainWindow::mapsShown);
        window.setPrompt(kPrompt);
        window.openModel(m_model);
        QVERIFY(shown.wait(30000));
        auto* head = window.findChild<QSpinBox*>(QStringLiteral("headSpin"));
        QCOMPARE(head->value(), 0);
        // Another head and another prompt are asked for. The run for them cannot reach the window before the event
        // loop turns, so the panels still show head 0 of kPrompt: the exports must say so.
        head->setValue(1);
        window.setPrompt(QStringLiteral("typed after the run"));
        const auto sidecar = [](const QString& path) {
            QFile file(path + QStringLiteral(".json"));
            return file.open(QIODevice::ReadOnly) ? QJsonDocument::fromJson(file.readAll()).object() : QJsonObject();
        };
        const QString numbers = m_dir.filePath(QStringLiteral("switched.npy"));
        const QString view = m_dir.filePath(QStringLiteral("switched.png"));
        QVERIFY(window.exportMapDataTo(MapKind::D, numbers));
        QVERIFY(window.exportViewTo(view));
        for (const QString& path : {numbers, view}) {
            const QJsonObject json = sidecar(path);
            QCOMPARE(json.value(QStringLiteral("head")).toInt(-1), 0);
            QCOMPARE(json.value(QStringLiteral("layer")).toInt(-1), 0);
            QCOMPARE(json.value(QStringLiteral("prompt")).toString(), kPrompt);
            QVERIFY(json.value(QStringLiteral("request_id")).toInt() > 0);
        }
        QCOMPARE(sidecar(numbers).value(QStringLiteral("kind")).toString(), QStringLiteral("D"));
        const auto before = readNpyFloat32(numbers.toStdString());
        QVERIFY(before.isOk());

        // Once head 1 arrives, the same export names it (the run's prompt is still kPrompt: it was posted before
        // the edit) and holds other numbers.
        QVERIFY(shown.wait(30000));
        QVERIFY(window.exportMapDataTo(MapKind::D, numbers));
        const QJsonObject after = sidecar(numbers);
        QCOMPARE(after.value(QStringLiteral("head")).toInt(-1), 1);
        QCOMPARE(after.value(QStringLiteral("prompt")).toString(), kPrompt);
        const auto data = readNpyFloat32(numbers.toStdString());
        QVERIFY(data.isOk());
        QVERIFY(data->values != before->values);
    }

    void cancellingARunKeepsTheWindowUsable()
    {
        // Deep enough and long enough that a run takes a while on any machine, so Cancel lands mid-run.
        ModelConfig deep = test::diffCopeConfig(128);
        deep.nLayers = 24;
        deep.maxSeqLen = 1100;
        deep.cope.npos = 1101;
        const QString path = m_dir.filePath(QStringLiteral("deep"));
        if (!QFileInfo::exists(path))
            QVERIFY(initRandomModel(path.toStdString(), deep, 5, false).isOk());
        MainWindow window;
        QSignalSpy shown(&window, &MainWindow::mapsShown);
        QSignalSpy cancelled(&window, &MainWindow::runCancelled);
        window.setPrompt(QStringLiteral("ab"));
        window.openModel(path);
        QVERIFY(shown.wait(60000));
        window.setPrompt(QString(1000, QLatin1Char('x')));
        window.runNow();
        window.engine().cancel(); // may land before the engine thread starts the run: it must still count
        QVERIFY(cancelled.wait(60000));
        window.runNow();
        QSignalSpy started(&window.engine(), &Engine::runStarted);
        QVERIFY(started.wait(60000));
        window.engine().cancel(); // and mid-run: the run stops at its next layer
        QVERIFY(cancelled.count() == 2 || cancelled.wait(60000));
        QCOMPARE(shown.count(), 1); // the cancelled runs' maps never arrived
        window.setPrompt(QStringLiteral("abc"));
        window.runNow();
        QVERIFY(shown.wait(60000)); // and the window runs again afterwards
    }

    void aMalformedModelShowsAnErrorAndTheWindowStaysUsable()
    {
        const QString bad = m_dir.filePath(QStringLiteral("bad"));
        QVERIFY(QDir().mkpath(bad));
        QVERIFY(writeFileAtomic((bad + QStringLiteral("/config.json")).toStdString(), "{\"format\": \"nope\"}").isOk());
        MainWindow window;
        QSignalSpy errors(&window, &MainWindow::errorShown);
        QSignalSpy shown(&window, &MainWindow::mapsShown);
        window.openModel(bad);
        QVERIFY(errors.wait(30000));
        QVERIFY2(errors.front().front().toString().contains(QStringLiteral("config.json")),
            qPrintable(errors.front().front().toString()));
        window.setPrompt(kPrompt);
        window.openModel(m_model);
        QVERIFY(shown.wait(30000));
    }

    void aPromptLongerThanMaxSeqLenIsRefusedWithAMessage()
    {
        MainWindow window;
        QSignalSpy shown(&window, &MainWindow::mapsShown);
        QSignalSpy errors(&window, &MainWindow::errorShown);
        window.setPrompt(QString(200, QLatin1Char('x')));
        window.openModel(m_model);
        QVERIFY(errors.wait(30000));
        QVERIFY2(errors.front().front().toString().contains(QStringLiteral("max_seq_len")),
            qPrintable(errors.front().front().toString()));
        QCOMPARE(shown.count(), 0);
    }

    void aLongPromptShowsDevicePooledOverviewsEqualToPoolingTheFullMap()
    {
        ModelConfig longConfig = test::diffCopeConfig(128);
        longConfig.position = PositionKind::Rope;
        longConfig.maxSeqLen = 4096;
        const QString path = m_dir.filePath(QStringLiteral("long"));
        QVERIFY(initRandomModel(path.toStdString(), longConfig, 8, false).isOk());
        const QString prompt = QString(2999, QLatin1Char('y')); // + <bos> = 3000 tokens: blocks of 3
        MainWindow window;
        QSignalSpy shown(&window, &MainWindow::mapsShown);
        window.setPrompt(prompt);
        window.openModel(path);
        QVERIFY(shown.wait(60000));

        auto model = Model::load(path.toStdString());
        QVERIFY(model.isOk());
        CaptureRequest full {(*model)->tokenizer().encode(prompt.toStdString()), {{0, 0}}, {MapKind::D}};
        auto reference = (*model)->capture(full);
        QVERIFY(reference.isOk());
        const AttentionMap overview = poolMap(reference->maps.front(), kLongPromptOverview, PoolMode::Max, true);
        QCOMPARE(overview.rows, 1000);
        const HeatmapPanel* panel = nullptr;
        for (HeatmapPanel* p : window.panels())
            if (p->map().kind == QStringLiteral("D"))
                panel = p;
        QVERIFY(panel);
        // No more cells than the panel has pixels: the device overview is reduced again with the same signed max.
        const int overviewRows = panel->map().rows;
        QVERIFY2(overviewRows <= panel->height() && overviewRows < 1000, qPrintable(QString::number(overviewRows)));
        const AttentionMap expected = poolMap(overview, overviewRows, PoolMode::Max, true);
        QCOMPARE(expected.rows, overviewRows);
        QCOMPARE(panel->map().tokens.at(1), // cells are labelled by their first token
            QStringLiteral("%1 y").arg(expected.firstQuery(1)));
        QVERIFY(panel->map().rangeExcludesFirstKey);
        double worst = 0.0;
        for (size_t i = 0; i < expected.values.size(); ++i) {
            const float a = expected.values[i], b = panel->map().values[i];
            QVERIFY2(std::isnan(a) == std::isnan(b), qPrintable(QStringLiteral("masked cell differs at %1").arg(i)));
            if (!std::isnan(a))
                worst = std::max(worst, static_cast<double>(std::fabs(a - b)));
        }
        QVERIFY2(worst < 1e-5, qPrintable(QString::number(worst)));
        // Metrics come at any length now (reduced on the device from the run's own tiles): one row per layer x head.
        QTRY_COMPARE_WITH_TIMEOUT(window.metricsPanel()->model()->rowCount(), 2 * 2, 30000);

        // Exact values of a window: queries 2500..2600 x keys 1000..1300, equal to slicing the full map.
        window.showExactWindow(2500, 2600, 1000, 1300);
        QVERIFY(shown.wait(60000));
        QCOMPARE(panel->map().rows, 100);
        QCOMPARE(panel->map().cols, 300);
        QCOMPARE(panel->map().tokens.front(), QStringLiteral("2500 y"));
        QCOMPARE(panel->map().keyTokens.front(), QStringLiteral("1000 y"));
        const AttentionMap& fullD = reference->maps.front();
        for (int r = 0; r < 100; ++r)
            for (int c = 0; c < 300; ++c)
                QVERIFY2(std::fabs(panel->map().values[static_cast<size_t>(r * 300 + c)] - fullD.at(2500 + r, 1000 + c))
                        < 1e-6,
                    qPrintable(QStringLiteral("window cell %1,%2").arg(r).arg(c)));
        auto* exact = window.findChild<QPushButton*>(QStringLiteral("exactButton"));
        QVERIFY(exact && !exact->isHidden()); // the window itself is never shown in this test
        QCOMPARE(exact->text(), QStringLiteral("Back to overview"));
        exact->click();
        QVERIFY(shown.wait(60000));
        QCOMPARE(panel->map().rows, overviewRows);
    }

private:
    QTemporaryDir m_dir;
    QString m_model;
    QString m_softmax;
};

ATTNSCOPE_APP_TEST_MAIN(TestMainWindow)

#include "tst_mainwindow.moc"
