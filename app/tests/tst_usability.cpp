// SPDX-License-Identifier: GPL-3.0-or-later
// Issue #12: what a new user hit in the desktop app, headless. The window fits a 1280-px screen whatever the
// read-out or span says, keys work with the focus in the prompt editor, Ctrl+E on the Compare tab exports the
// comparison, nothing of a previous model or layer stays in the read-out, the zoom survives a head switch, a
// prompt a tokenizer cannot read is not run, and pasting an empty clipboard does not crash.
#include "attnscope/init.h"
#include "attnscope/model.h"
#include "compareview.h"
#include "heatmappanel.h"
#include "mainwindow.h"
#include "metricspanel.h"
#include "testmodels.h"

#include <QAbstractItemModel>
#include <QAction>
#include <QClipboard>
#include <QComboBox>
#include <QDir>
#include <QFile>
#include <QHeaderView>
#include <QImage>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QMimeData>
#include <QPlainTextEdit>
#include <QScrollArea>
#include <QScrollBar>
#include <QSettings>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTabWidget>
#include <QTableView>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>
#include <QTextDocument>
#include <QToolButton>
#include <QWindow>

#include <qcustomplot.h>

#include "apptest.h"

#include <cmath>

using namespace attn;
using namespace attn::app;

namespace {

const QString kPrompt = QStringLiteral("Alice was tired. She tried reading.");

QString bundled(const QString& name)
{
    return QStringLiteral(ATTNSCOPE_SOURCE_DIR "/resources/models/") + name;
}

HeatmapPanel* panelOf(const MainWindow& window, const QString& kind)
{
    for (HeatmapPanel* panel : window.panels())
        if (panel->map().kind == kind)
            return panel;
    return nullptr;
}

QString readout(const MainWindow& window)
{
    return window.findChild<QLabel*>(QStringLiteral("readout"))->text();
}

} // namespace

class TestUsability : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase()
    {
        // A settings file of its own: layout choices and window state of a real user must not leak in (or out).
        QCoreApplication::setOrganizationName(QStringLiteral("attnscope-tests"));
        QCoreApplication::setApplicationName(QStringLiteral("tst_usability"));
        QSettings().clear();
        QVERIFY(m_dir.isValid());
        m_model = m_dir.filePath(QStringLiteral("diffcope"));
        const Status s = initRandomModel(m_model.toStdString(), test::diffCopeConfig(512), 31, false);
        QVERIFY2(s.isOk(), s.message().c_str());
        const ModelConfig softmax = test::softmaxRopeConfig(512);
        m_softmax = m_dir.filePath(QStringLiteral("softmax"));
        const Status s2 = initRandomModel(m_softmax.toStdString(), softmax, 32, false);
        QVERIFY2(s2.isOk(), s2.message().c_str());
    }

    void theWindowFitsALaptopScreenWhateverTheReadOutSays()
    {
        MainWindow window;
        QSignalSpy shown(&window, &MainWindow::mapsShown);
        window.setPrompt(kPrompt.repeated(8)); // long prompt: long span, many labels
        window.openModel(m_model);
        QVERIFY(shown.wait(30000));
        window.resize(1280, 770);
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        QCOMPARE(window.panels().size(), size_t(11)); // DIFF + RoPE/CoPE: every map of the head
        window.setRelevantSpan(3, 250); // a long span: its description is hundreds of characters
        QVERIFY(shown.wait(30000));
        HeatmapPanel* d = panelOf(window, QStringLiteral("D"));
        QVERIFY(d);
        Q_EMIT d->cellHovered(200, 150); // a read-out of 11 terms and λ
        QVERIFY2(readout(window).size() > 250, qPrintable(readout(window)));
        QCoreApplication::processEvents();
        QVERIFY2(
            window.minimumSizeHint().width() <= 1280, qPrintable(QString::number(window.minimumSizeHint().width())));
        QVERIFY2(window.minimumWidth() <= 1280, qPrintable(QString::number(window.minimumWidth())));
        QVERIFY2(window.width() <= 1280, qPrintable(QString::number(window.width())));
        // Every panel is in view without scrolling (the default "fit" layout).
        auto* scroll = window.findChild<QScrollArea*>(QStringLiteral("panelScroll"));
        QVERIFY(scroll);
        QTRY_COMPARE_WITH_TIMEOUT(scroll->verticalScrollBar()->maximum(), 0, 5000);
        QCOMPARE(scroll->horizontalScrollBar()->maximum(), 0);
        for (HeatmapPanel* panel : window.panels())
            QVERIFY(panel->width() >= 120 && panel->height() >= 110);
    }

    void everyMapIsReadableAt1280x800AndTheKindPickerPersists()
    {
        // Issue #12: eleven DIFF+CoPE maps at 1280x800 each get a map area a reader can use, and a user who wants
        // fewer (larger) maps picks them; the choice is remembered for this attention/position type.
        const QString model = bundled(QStringLiteral("counting-diff-ropecope"));
        auto mapWidths = [](const MainWindow& window) {
            // Panels pad themselves to keep maps square-ish after a layout: let that settle (as the event loop does).
            for (int pass = 0; pass < 3; ++pass) {
                QCoreApplication::processEvents();
                for (HeatmapPanel* panel : window.panels())
                    if (!panel->isHidden())
                        panel->plot()->replot();
            }
            QList<int> widths;
            for (HeatmapPanel* panel : window.panels())
                if (!panel->isHidden())
                    widths << panel->plot()->axisRect()->width();
            return widths;
        };
        QList<int> before;
        {
            MainWindow window;
            QSignalSpy shown(&window, &MainWindow::mapsShown);
            window.openModel(model);
            QVERIFY(shown.wait(30000));
            window.resize(1280, 800);
            window.show();
            QVERIFY(QTest::qWaitForWindowExposed(&window));
            QCoreApplication::processEvents();
            QCOMPARE(window.panels().size(), size_t(11));
            QCOMPARE(window.panels().front()->map().cols, 22); // the sample prompt of the bundled model
            before = mapWidths(window);
            QCOMPARE(before.size(), 11);
            qInfo() << "map widths at 1280x800:" << before;
            for (int width : before)
                QVERIFY2(width >= 110, qPrintable(QStringLiteral("map widths at 1280x800: %1").arg([&] {
                    QStringList s;
                    for (int w : before)
                        s << QString::number(w);
                    return s.join(QLatin1Char(' '));
                }())));
            // "layer 0, head 0" is said once above the grid, not in each panel's title.
            QCOMPARE(
                window.findChild<QLabel*>(QStringLiteral("gridCaption"))->text(), QStringLiteral("layer 0, head 0"));
            for (HeatmapPanel* panel : window.panels())
                QVERIFY2(!panel->map().title.contains(QStringLiteral("layer")), qPrintable(panel->map().title));

            // Show only A1, A2 and D.
            const QStringList keep {QStringLiteral("A1"), QStringLiteral("A2"), QStringLiteral("D")};
            for (HeatmapPanel* panel : window.panels()) {
                auto* button = window.findChild<QToolButton*>(QStringLiteral("kind-") + panel->map().kind);
                QVERIFY2(button, qPrintable(panel->map().kind));
                QVERIFY(button->isChecked());
                if (!keep.contains(panel->map().kind))
                    button->click();
            }
            QCoreApplication::processEvents();
            for (HeatmapPanel* panel : window.panels())
                QCOMPARE(panel->isVisible(), keep.contains(panel->map().kind));
            const QList<int> three = mapWidths(window);
            QCOMPARE(three.size(), 3);
            qInfo() << "map widths with three kinds shown:" << three;
            for (HeatmapPanel* panel : window.panels()) {
                if (panel->isHidden())
                    continue;
                const QRect map = panel->plot()->axisRect()->rect();
                QVERIFY2(map.width() > before.front() * 5 / 4, qPrintable(QString::number(map.width())));
                // Larger, not stretched: three panels in a wide grid stay roughly square.
                QVERIFY2(map.height() <= 1.2 * map.width() && map.width() <= 1.7 * map.height(),
                    qPrintable(QStringLiteral("%1 x %2").arg(map.width()).arg(map.height())));
            }
        }
        {
            // A new window with the same kind of model shows the same three.
            MainWindow window;
            QSignalSpy shown(&window, &MainWindow::mapsShown);
            window.openModel(model);
            QVERIFY(shown.wait(30000));
            window.resize(1280, 800);
            window.show();
            QVERIFY(QTest::qWaitForWindowExposed(&window));
            int visible = 0;
            for (HeatmapPanel* panel : window.panels())
                visible += panel->isVisible() ? 1 : 0;
            QCOMPARE(visible, 3);
            QVERIFY(!window.findChild<QToolButton*>(QStringLiteral("kind-B1"))->isChecked());
            window.findChild<QToolButton*>(QStringLiteral("kind-B1"))->click();
            QVERIFY(panelOf(window, QStringLiteral("B1"))->isVisible());
            QCOMPARE(mapWidths(window).size(), 4);
        }
        QSettings().remove(QStringLiteral("View/hiddenMapKinds"));
    }

    void headAndLayerKeysWorkWithTheFocusInTheEditor()
    {
        MainWindow window;
        QSignalSpy shown(&window, &MainWindow::mapsShown);
        window.setPrompt(kPrompt);
        window.openModel(m_model);
        QVERIFY(shown.wait(30000));
        window.show();
        window.activateWindow();
        QVERIFY(QTest::qWaitForWindowActive(&window));
        auto* editor = window.findChild<QPlainTextEdit*>();
        editor->setFocus();
        QTRY_VERIFY(editor->hasFocus());
        auto* head = window.findChild<QSpinBox*>(QStringLiteral("headSpin"));
        auto* layer = window.findChild<QSpinBox*>(QStringLiteral("layerSpin"));
        QTest::keyClick(editor, Qt::Key_BracketRight, Qt::AltModifier);
        QCOMPARE(head->value(), 1);
        QTest::keyClick(editor, Qt::Key_PageDown, Qt::AltModifier);
        QCOMPARE(layer->value(), 1);
        QTest::keyClick(editor, Qt::Key_BracketLeft, Qt::AltModifier);
        QCOMPARE(head->value(), 0);
        QCOMPARE(editor->toPlainText(), kPrompt); // nothing typed into the prompt
        // The plain keys still type text there, and step heads everywhere else.
        window.findChild<QScrollArea*>(QStringLiteral("panelScroll"))->setFocus();
        QTest::keyClick(window.findChild<QScrollArea*>(QStringLiteral("panelScroll")), Qt::Key_BracketRight);
        QCOMPARE(head->value(), 1);
        // Save Session As has its shortcut on every platform, shown in the menu.
        bool saveAs = false;
        for (QAction* action : window.findChildren<QAction*>())
            saveAs = saveAs || action->shortcut() == QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_S);
        QVERIFY(saveAs);
    }

    void exportOnTheCompareTabWritesTheComparison()
    {
        MainWindow window;
        QSignalSpy shown(&window, &MainWindow::mapsShown);
        QSignalSpy compared(&window, &MainWindow::compareShown);
        window.setPrompt(kPrompt);
        window.openModel(m_model);
        QVERIFY(shown.wait(30000));
        window.openModel(m_softmax);
        QVERIFY(shown.wait(30000));
        window.resize(1280, 770);
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        window.showCompare();
        QVERIFY(compared.wait(30000));
        CompareView* compare = window.compareView();
        QCOMPARE(compare->selectedModels().size(), size_t(2));
        QCOMPARE(compare->panels().size(), size_t(3)); // A, B, B − A
        QVERIFY(compare->findChild<QLabel*>(QStringLiteral("compareHeading"))
                    ->text()
                    .contains(QStringLiteral("Layer 0, head 0")));
        // Any kind: A1 of the DIFF model has no counterpart in the softmax one, which the note says.
        compare->setKind(CompareKind::Exact, MapKind::A1);
        QVERIFY(compared.wait(30000));
        QCOMPARE(compare->panels().size(), size_t(1));
        const QString note = compare->findChild<QLabel*>(QStringLiteral("compareNote"))->text();
        QVERIFY2(note.contains(QStringLiteral("has no A1 maps")) && !note.contains(QStringLiteral("Open two")),
            qPrintable(note));
        compare->setKind(CompareKind::Attention);
        QVERIFY(compared.wait(30000));
        // Hovering reads every panel's number out.
        Q_EMIT compare->panels()[0]->cellHovered(5, 2);
        const QString hover = compare->findChild<QLabel*>(QStringLiteral("compareReadout"))->text();
        QVERIFY2(hover.contains(QStringLiteral("Δ = ")), qPrintable(hover));
        // At 1280 px the three panels are wider than tall: the table follows right below them (only the read-out line
        // between), shows every row and no blank rows under them; the spare height is left below the table.
        QTest::qWait(50); // the layout after the new panels
        const QWidget* panels = compare->panelsWidget();
        const QTableWidget* table = compare->metricsTable();
        const QLabel* readout = compare->findChild<QLabel*>(QStringLiteral("compareReadout"));
        const int gap = table->geometry().top() - panels->geometry().bottom();
        QVERIFY2(gap <= readout->height() + 3 * compare->layout()->spacing() + 2, qPrintable(QString::number(gap)));
        QVERIFY(table->viewport()->height() >= table->verticalHeader()->length());
        QVERIFY2(table->viewport()->height() <= table->verticalHeader()->length() + 2,
            qPrintable(
                QStringLiteral("%1 > %2").arg(table->viewport()->height()).arg(table->verticalHeader()->length())));

        const QString path = m_dir.filePath(QStringLiteral("comparison.png"));
        QVERIFY(window.exportViewTo(path, 96));
        const QImage image(path);
        QVERIFY(!image.isNull());
        const QSize expected = compare->panelsWidget()->size() * compare->panelsWidget()->devicePixelRatioF();
        QCOMPARE(image.size(), expected); // the comparison, whole, not the Maps tab's panels
        QFile sidecar(path + QStringLiteral(".json"));
        QVERIFY(sidecar.open(QIODevice::ReadOnly));
        const QString kind
            = QJsonDocument::fromJson(sidecar.readAll()).object().value(QStringLiteral("kind")).toString();
        QVERIFY2(kind.startsWith(QStringLiteral("comparison")), qPrintable(kind));
    }

    void theReadOutNeverShowsAPreviousModelOrLayer()
    {
        MainWindow window;
        QSignalSpy shown(&window, &MainWindow::mapsShown);
        window.setPrompt(kPrompt);
        window.openModel(m_model);
        QVERIFY(shown.wait(30000));
        auto* lambdaLabel = window.findChild<QLabel*>(QStringLiteral("lambdaLabel"));
        // λ follows the layer at once (it is known for every layer), before the new maps arrive.
        auto model = Model::load(m_model.toStdString());
        QVERIFY(model.isOk());
        auto capture = (*model)->capture({(*model)->tokenizer().encode(kPrompt.toStdString()), {{1, 0}}, {MapKind::D}});
        QVERIFY(capture.isOk());
        window.findChild<QSpinBox*>(QStringLiteral("layerSpin"))->setValue(1);
        QCOMPARE(lambdaLabel->text(), QStringLiteral("λ = %1").arg(capture->lambda[1], 0, 'f', 4));
        QVERIFY(shown.wait(30000));
        Q_EMIT panelOf(window, QStringLiteral("G2"))->cellHovered(5, 2);
        QVERIFY(readout(window).contains(QStringLiteral("G2 = ")));

        // Right after the switch (connected after the window's own slot), before the new maps arrive.
        QStringList atSwitch;
        auto* combo = window.findChild<QComboBox*>();
        connect(combo, qOverload<int>(&QComboBox::currentIndexChanged), this, [&] {
            atSwitch << readout(window);
            Q_EMIT window.panels().front()->cellHovered(5, 2);
            atSwitch << readout(window) << lambdaLabel->text();
        });
        window.openModel(m_softmax);
        QVERIFY(shown.wait(30000));
        QCOMPARE(atSwitch, QStringList({QString(), QString(), QString()})); // nothing of the DIFF model
        Q_EMIT window.panels().front()->cellHovered(5, 2);
        const QString text = readout(window);
        QVERIFY2(text.contains(QStringLiteral("A = ")) && !text.contains(QStringLiteral("G2"))
                && !text.contains(QStringLiteral("λ")),
            qPrintable(text));
    }

    void theZoomIsKeptAcrossAHeadSwitchAndResetOnRequest()
    {
        MainWindow window;
        QSignalSpy shown(&window, &MainWindow::mapsShown);
        window.setPrompt(kPrompt);
        window.openModel(m_model);
        QVERIFY(shown.wait(30000));
        HeatmapPanel* first = window.panels().front();
        const int n = first->map().cols;
        first->plot()->xAxis->setRange(2.5, 8.5); // as a user's wheel zoom does
        first->plot()->yAxis->setRange(n - 1 - 12.5, n - 1 - 4.5);
        const QRectF zoomed = first->viewRange();
        QCOMPARE(window.panels().back()->viewRange(), zoomed); // synced
        window.findChild<QSpinBox*>(QStringLiteral("headSpin"))->setValue(1);
        QVERIFY(shown.wait(30000));
        for (HeatmapPanel* panel : window.panels())
            QCOMPARE(panel->viewRange(), zoomed);
        // Zooming out stops at the whole map.
        first->plot()->xAxis->setRange(-100, 100);
        QCOMPARE(first->plot()->xAxis->range().lower, -0.5);
        QCOMPARE(first->plot()->xAxis->range().upper, n - 0.5);
        window.resetZoom();
        for (HeatmapPanel* panel : window.panels())
            QCOMPARE(panel->viewRange(), QRectF(QPointF(-0.5, -0.5), QPointF(n - 0.5, n - 0.5)));
    }

    void aPromptTheTokenizerCannotReadIsNotRunUntilAsked()
    {
        // The flip-flop model's word-level vocabulary (w r i 0 1) without its sample prompt.
        const QString flipflop = m_dir.filePath(QStringLiteral("flipflop"));
        QVERIFY(QDir().mkpath(flipflop));
        for (const QString& file :
            {QStringLiteral("config.json"), QStringLiteral("model.safetensors"), QStringLiteral("vocab.txt")})
            QVERIFY(QFile::copy(
                bundled(QStringLiteral("flipflop-softmax-rope/")) + file, flipflop + QLatin1Char('/') + file));
        MainWindow window;
        QSignalSpy shown(&window, &MainWindow::mapsShown);
        window.setPrompt(kPrompt);
        window.openModel(m_model);
        QVERIFY(shown.wait(30000));
        window.openModel(flipflop);
        auto* banner = window.findChild<QLabel*>(QStringLiteral("staleBanner"));
        QTRY_VERIFY_WITH_TIMEOUT(
            banner->isVisibleTo(&window) && banner->text().startsWith(QStringLiteral("Not run")), 30000);
        QVERIFY(!shown.wait(1500)); // nothing ran
        QVERIFY(window.unknownTokenFraction() > 0.5);
        window.runNow(); // the user asks: it runs
        QVERIFY(shown.wait(30000));

        // With a sample prompt, the model gets its own prompt; the first model gets its own back.
        window.openModel(bundled(QStringLiteral("flipflop-softmax-rope")));
        QVERIFY(shown.wait(30000));
        QCOMPARE(window.currentSession().prompt.left(4), QStringLiteral("w 1 "));
        auto* combo = window.findChild<QComboBox*>();
        combo->setCurrentIndex(0);
        QCOMPARE(window.currentSession().prompt, kPrompt);
    }

    void lambdaAboveOneIsSaidWhereDnIsShown()
    {
        // Bundled needles-diff-rope: layer 2 has λ ≈ 1.43.
        MainWindow window;
        QSignalSpy shown(&window, &MainWindow::mapsShown);
        window.openModel(bundled(QStringLiteral("needles-diff-rope")));
        QVERIFY(shown.wait(30000));
        auto model = Model::load(bundled(QStringLiteral("needles-diff-rope")).toStdString());
        QVERIFY(model.isOk());
        window.findChild<QSpinBox*>(QStringLiteral("layerSpin"))->setValue(2);
        QVERIFY(shown.wait(30000));
        HeatmapPanel* dn = panelOf(window, QStringLiteral("DN"));
        QVERIFY(dn);
        QVERIFY2(dn->map().title.contains(QStringLiteral("⚠")), qPrintable(dn->map().title));
        QVERIFY2(dn->map().details.contains(QStringLiteral("> 1")), qPrintable(dn->map().details));
        Q_EMIT dn->cellHovered(3, 1);
        QVERIFY2(readout(window).contains(QStringLiteral("opposite sign")), qPrintable(readout(window)));
        // As the label renders it: a bare "<" in the rich text once swallowed everything after "1 − λ".
        QTextDocument rendered;
        rendered.setHtml(window.metricsPanel()->summary());
        const QString summary = rendered.toPlainText();
        QVERIFY2(summary.contains(QStringLiteral("λ > 1")) && summary.contains(QStringLiteral("1 − λ < 0"))
                && summary.contains(QStringLiteral("flips the sign of D")),
            qPrintable(summary));
        // The metrics table opens sorted by layer, layer 0 first.
        const QAbstractItemModel* table = window.metricsPanel()->findChild<QTableView*>()->model();
        QCOMPARE(table->index(0, 0).data(Qt::UserRole).toInt(), 0);
    }

    void pastingAnEmptyClipboardDoesNothing()
    {
        MainWindow window;
        window.setPrompt(kPrompt);
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        auto* editor = window.findChild<QPlainTextEdit*>();
        editor->setFocus();
        // The crash condition, as X11 presents it when no application owns the clipboard: a mime data object with
        // no formats at all (clear() would leave no object, a path Qt handles). A plain QPlainTextEdit dies with
        // SIGSEGV in QWidgetTextControl::insertFromMimeData on this, on the offscreen platform too.
        QGuiApplication::clipboard()->setMimeData(new QMimeData);
        const QMimeData* empty = QGuiApplication::clipboard()->mimeData();
        QVERIFY(empty && empty->formats().isEmpty());
        QTest::keyClick(editor, Qt::Key_V, Qt::ControlModifier);
        QTest::keyClick(editor, Qt::Key_Insert, Qt::ShiftModifier);
        editor->paste(); // the context menu's Paste
        QCOMPARE(editor->toPlainText(), kPrompt);
        QGuiApplication::clipboard()->setText(QStringLiteral(" Then"));
        editor->moveCursor(QTextCursor::End);
        QTest::keyClick(editor, Qt::Key_V, Qt::ControlModifier);
        QCOMPARE(editor->toPlainText(), kPrompt + QStringLiteral(" Then"));
    }

private:
    QTemporaryDir m_dir;
    QString m_model;
    QString m_softmax;
};

ATTNSCOPE_APP_TEST_MAIN(TestUsability)
#include "tst_usability.moc"
