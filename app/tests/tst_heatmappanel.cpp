// SPDX-License-Identifier: GPL-3.0-or-later
// HeatmapPanel against its QCustomPlot state: data layout (row flip), labels, colour range, signals.
#include "heatmappanel.h"

#include <qcustomplot.h>

#include <QApplication>
#include <QFontMetrics>
#include <QSignalSpy>
#include <QTest>
#include <QtMath>

#include "apptest.h"

#include <cmath>
#include <limits>

using namespace attn::app;

namespace {

constexpr int kSize = 5;

/// 5x5 causal map: row r attends to keys 0..r, the upper triangle is masked (NaN).
PanelMap causalMap()
{
    PanelMap map;
    map.title = QStringLiteral("A1");
    map.kind = QStringLiteral("A1");
    map.rows = kSize;
    map.cols = kSize;
    map.tokens = {QStringLiteral("<bos>"), QStringLiteral("The"), QStringLiteral("quick"), QStringLiteral("brown"),
        QStringLiteral("fox")};
    map.values.assign(kSize * kSize, std::numeric_limits<float>::quiet_NaN());
    for (int row = 0; row < kSize; ++row) {
        for (int col = 0; col <= row; ++col)
            map.values[row * kSize + col] = float(row * 10 + col + 1) / 100.0f; // distinct per cell
    }
    return map;
}

QCPColorMap* colorMapOf(HeatmapPanel& panel)
{
    return qobject_cast<QCPColorMap*>(panel.plot()->plottable(0));
}

} // namespace

class TestHeatmapPanel : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void dataLayout()
    {
        HeatmapPanel panel;
        const PanelMap map = causalMap();
        panel.setMap(map);
        QCPColorMap* colorMap = colorMapOf(panel);
        QVERIFY(colorMap);
        QCOMPARE(colorMap->data()->keySize(), kSize);
        QCOMPARE(colorMap->data()->valueSize(), kSize);
        QCOMPARE(colorMap->data()->keyRange(), QCPRange(0, kSize - 1));
        QCOMPARE(colorMap->data()->valueRange(), QCPRange(0, kSize - 1));
        for (int row = 0; row < kSize; ++row) {
            for (int col = 0; col < kSize; ++col) {
                const double cell = colorMap->data()->cell(col, cellYForRow(row, kSize));
                if (col > row)
                    QVERIFY2(std::isnan(cell), qPrintable(QStringLiteral("masked cell %1,%2").arg(row).arg(col)));
                else
                    QCOMPARE(cell, double(map.values[row * kSize + col]));
            }
        }
        // Row 0 is drawn at the top: its only unmasked cell sits at the highest value index.
        QCOMPARE(colorMap->data()->cell(0, kSize - 1), double(map.values[0]));
        QCOMPARE(colorMap->interpolate(), false);
        QCOMPARE(colorMap->tightBoundary(), false); // a tight boundary would halve the edge cells
        QCOMPARE(colorMap->gradient().nanHandling(), QCPColorGradient::nhNanColor);
    }

    void aOneTokenMapFillsTheMapArea()
    {
        // QCP sizes cells by the distance between the first and last cell centre, which is zero for one token: a
        // prompt of one token showed an empty axis rect. Its one cell must cover the whole map area.
        HeatmapPanel panel;
        PanelMap map;
        map.title = QStringLiteral("A");
        map.kind = QStringLiteral("A");
        map.rows = 1;
        map.cols = 1;
        map.values = {1.0f};
        map.tokens = {QStringLiteral("<bos>")};
        panel.setMap(map);
        panel.resize(320, 320);
        panel.show();
        QVERIFY(QTest::qWaitForWindowExposed(&panel));
        panel.plot()->replot();
        const QImage image = panel.plot()->toPixmap().toImage();
        const QRect area = panel.plot()->axisRect()->rect();
        QVERIFY(area.width() > 40 && area.height() > 40);
        const QColor background = panel.palette().color(QPalette::Window); // the plot's background
        const QColor centre = image.pixelColor(area.center());
        QVERIFY2(centre != background, qPrintable(centre.name()));
        // One colour edge to edge (a few pixels in: the frame and the axis lines are drawn on the border).
        for (const QPoint corner : {area.topLeft() + QPoint(4, 4), area.topRight() + QPoint(-4, 4),
                 area.bottomLeft() + QPoint(4, -4), area.bottomRight() + QPoint(-4, -4)})
            QCOMPARE(image.pixelColor(corner), centre);
        // The read-out finds the token anywhere on it.
        QSignalSpy hovered(&panel, &HeatmapPanel::cellHovered);
        QTest::mouseMove(panel.plot(), area.topLeft() + QPoint(6, 6));
        QTRY_VERIFY(!hovered.isEmpty());
        QCOMPARE(hovered.last(), (QList<QVariant> {0, 0}));
    }

    void maskedColourDiffersFromZero()
    {
        HeatmapPanel panel;
        panel.setMap(causalMap());
        QCPColorGradient gradient = colorMapOf(panel)->gradient();
        const auto range = panel.colorRange();
        const QColor zero = QColor::fromRgba(gradient.color(0.0, QCPRange(range.first, range.second)));
        QVERIFY(gradient.nanColor() != zero);
    }

    void verticalLabelsFirstTokenAtTop()
    {
        HeatmapPanel panel;
        panel.resize(400, 400);
        const PanelMap map = causalMap();
        panel.setMap(map);
        QCustomPlot* plot = panel.plot();
        plot->replot();
        const QVector<double> ticks = plot->yAxis->tickVector();
        const QVector<QString> labels = plot->yAxis->tickVectorLabels();
        const int top = ticks.indexOf(double(kSize - 1));
        QVERIFY(top >= 0);
        QCOMPARE(labels.at(top), map.tokens.at(0));
        const int bottom = ticks.indexOf(0.0);
        if (bottom >= 0)
            QCOMPARE(labels.at(bottom), map.tokens.at(kSize - 1));
        // The horizontal axis is not flipped.
        const int first = plot->xAxis->tickVector().indexOf(0.0);
        QVERIFY(first >= 0);
        QCOMPARE(plot->xAxis->tickVectorLabels().at(first), map.tokens.at(0));
        // Non-integer ticks get no label, and no sub-ticks are drawn.
        QVector<double> generated;
        QVector<QString> generatedLabels;
        QVector<double> subTicks;
        plot->yAxis->ticker()->generate(
            QCPRange(-0.5, kSize - 0.5), QLocale::c(), QLatin1Char('g'), 6, generated, &subTicks, &generatedLabels);
        QVERIFY(subTicks.isEmpty());
        for (double tick : generated)
            QCOMPARE(tick, std::round(tick));
    }

    void tokenLabelsFillTheAxisWithoutOverlap()
    {
        // 22 tokens (the bundled counting prompt) in a 300 px axis: more than a handful of labels, first and last
        // among them, and no two overlapping in the axis font.
        const QStringList words = QStringLiteral("b = 0 ; pass; pass; b ++; pass; pass; pass; pass; pass; pass; "
                                                 "pass; pass; pass; pass; pass; pass; print b")
                                      .split(QLatin1Char(' '));
        const int n = 22;
        QCOMPARE(words.size(), n);
        PanelMap map;
        map.title = QStringLiteral("A1");
        map.kind = QStringLiteral("A1");
        map.rows = map.cols = n;
        map.tokens = words;
        map.values.assign(n * n, 0.5f);
        HeatmapPanel panel;
        panel.resize(400, 400);
        panel.setMap(map);
        panel.show(); // the plot gets its size from the layout only once shown
        QVERIFY(QTest::qWaitForWindowExposed(&panel));
        QCustomPlot* plot = panel.plot();
        plot->replot();
        for (int attempt = 0; attempt < 3 && plot->axisRect()->width() != 300; ++attempt) {
            panel.resize(panel.width() + 300 - plot->axisRect()->width(), 400);
            QCoreApplication::processEvents();
            plot->replot();
        }
        QCOMPARE(plot->axisRect()->width(), 300);
        auto check = [](QCPAxis* axis, double minGap, const QString& first, const QString& last) {
            const QVector<double> ticks = axis->tickVector();
            const QVector<QString> labels = axis->tickVectorLabels();
            QVERIFY2(ticks.size() >= 6, qPrintable(QString::number(ticks.size())));
            QVERIFY(ticks.contains(0.0) && ticks.contains(double(n - 1)));
            QCOMPARE(labels.at(ticks.indexOf(0.0)), first);
            QCOMPARE(labels.at(ticks.indexOf(double(n - 1))), last);
            for (int i = 1; i < ticks.size(); ++i) {
                const double gap = std::abs(axis->coordToPixel(ticks[i]) - axis->coordToPixel(ticks[i - 1]));
                QVERIFY2(gap >= minGap,
                    qPrintable(QStringLiteral("ticks %1 and %2: %3 px apart, labels need %4")
                                   .arg(ticks[i - 1])
                                   .arg(ticks[i])
                                   .arg(gap)
                                   .arg(minGap)));
            }
        };
        // Parallel labels rotated by θ clear each other when their distance along the axis times |sin θ| is at
        // least the line height; the vertical axis stacks horizontal labels one line each.
        QCPAxis* keys = plot->xAxis;
        const double sine = std::abs(std::sin(qDegreesToRadians(keys->tickLabelRotation())));
        QVERIFY(sine > 0.1); // 22 tokens: rotated
        check(keys, QFontMetrics(keys->tickLabelFont()).height() / sine, words.first(), words.last());
        // Query rows are drawn flipped: cell 0 is the last token.
        check(plot->yAxis, QFontMetrics(plot->yAxis->tickLabelFont()).height(), words.last(), words.first());
    }

    void signedRangeSymmetric()
    {
        HeatmapPanel panel;
        PanelMap map = causalMap();
        map.isSigned = true;
        for (float& v : map.values) {
            if (!std::isnan(v))
                v = v - 0.2f;
        }
        panel.setMap(map);
        const auto range = panel.colorRange();
        QCOMPARE(range.first, -range.second);
        QVERIFY(range.second > 0.0);
        const QCPRange applied = colorMapOf(panel)->dataRange();
        QCOMPARE(applied.lower, -applied.upper);
    }

    void anOverviewsColourRangeLeavesTheBosColumnOut()
    {
        // A long prompt's D overview: the <bos> sink column holds the few large values; with them in the range the
        // rest of the map was uniformly white. Overview panels take their range from the other columns.
        PanelMap map = causalMap();
        map.isSigned = true;
        double othersMax = 0.0;
        for (int row = 0; row < kSize; ++row)
            for (int col = 0; col <= row; ++col) {
                float& v = map.values[row * kSize + col];
                v = col == 0 ? -50.0f : (col % 2 ? 1.0f : -1.0f) * v; // the sink is large and negative
                if (col > 0)
                    othersMax = std::max(othersMax, std::fabs(static_cast<double>(v)));
            }
        HeatmapPanel panel;
        panel.setMap(map);
        QCOMPARE(panel.colorRange().second, 50.0); // a plain map: the whole range
        map.rangeExcludesFirstKey = true;
        panel.setMap(map);
        QCOMPARE(panel.colorRange().second, othersMax);
        QCOMPARE(panel.colorRange().first, -othersMax); // still symmetric about 0
    }

    void logScaleType()
    {
        HeatmapPanel panel;
        PanelMap map = causalMap();
        map.values[0] = 0.0f; // must not reach the log colouring as 0
        panel.setMap(map);
        ColorOptions options;
        options.scale = ColorScaleType::Log;
        panel.setColorOptions(options);
        QCPColorMap* colorMap = colorMapOf(panel);
        QCOMPARE(colorMap->dataScaleType(), QCPAxis::stLogarithmic);
        QVERIFY(panel.colorRange().first > 0.0);
        QVERIFY(colorMap->data()->cell(0, kSize - 1) > 0.0);
    }

    void programmaticChangesDoNotEmitViewChanged()
    {
        HeatmapPanel panel;
        panel.setMap(causalMap());
        QSignalSpy spy(&panel, &HeatmapPanel::viewChanged);
        panel.setCrosshair(2, 1);
        panel.setCrosshair(-1, -1);
        panel.setView(1.0, 3.0, 0.5, 2.5);
        panel.setMap(causalMap());
        QCOMPARE(spy.count(), 0);
        // setView takes query rows: rows 0.5..2.5 are cell y 1.5..3.5 on the flipped axis.
        panel.setView(1.0, 3.0, 0.5, 2.5);
        QCOMPARE(panel.plot()->yAxis->range().lower, 1.5);
        QCOMPARE(panel.plot()->yAxis->range().upper, 3.5);
        // A range change that does not come from us is reported in query-row coordinates.
        panel.plot()->xAxis->setRange(0.0, 2.0);
        QCOMPARE(spy.count(), 1);
        const QList<QVariant> args = spy.takeFirst();
        QCOMPARE(args.at(0).toDouble(), 0.0);
        QCOMPARE(args.at(1).toDouble(), 2.0);
        QCOMPARE(args.at(2).toDouble(), 0.5);
        QCOMPARE(args.at(3).toDouble(), 2.5);
    }

    void colourScaleNotDraggable()
    {
        HeatmapPanel panel;
        panel.setMap(causalMap());
        QCPColorScale* scale = colorMapOf(panel)->colorScale();
        QVERIFY(scale);
        QVERIFY(!scale->rangeDrag());
        QVERIFY(!scale->rangeZoom());
    }

    void hoverEmitsCell()
    {
        HeatmapPanel panel;
        panel.resize(420, 420);
        const PanelMap map = causalMap();
        panel.setMap(map);
        panel.show();
        QVERIFY(QTest::qWaitForWindowExposed(&panel));
        QCustomPlot* plot = panel.plot();
        plot->replot();
        QSignalSpy spy(&panel, &HeatmapPanel::cellHovered);

        const int row = 3;
        const int col = 1;
        const QPoint pixel(int(std::lround(plot->xAxis->coordToPixel(col))),
            int(std::lround(plot->yAxis->coordToPixel(cellYForRow(row, kSize)))));
        QTest::mouseMove(plot, pixel);
        QTRY_COMPARE_WITH_TIMEOUT(spy.count(), 1, 2000);
        QCOMPARE(spy.at(0).at(0).toInt(), row);
        QCOMPARE(spy.at(0).at(1).toInt(), col);

        // Masked cell (upper triangle): reported as no cell.
        const QPoint masked(int(std::lround(plot->xAxis->coordToPixel(4))),
            int(std::lround(plot->yAxis->coordToPixel(cellYForRow(0, kSize)))));
        QTest::mouseMove(plot, masked);
        QTRY_COMPARE_WITH_TIMEOUT(spy.count(), 2, 2000);
        QCOMPARE(spy.at(1).at(0).toInt(), -1);
        QCOMPARE(spy.at(1).at(1).toInt(), -1);
    }

    void paletteChangeRethemes()
    {
        HeatmapPanel panel;
        panel.setMap(causalMap());
        QPalette dark = panel.palette();
        dark.setColor(QPalette::Window, QColor("#202020"));
        dark.setColor(QPalette::WindowText, QColor("#e0e0e0"));
        panel.setPalette(dark);
        QCOMPARE(panel.plot()->xAxis->tickLabelColor(), QColor("#e0e0e0"));
        QCOMPARE(colorMapOf(panel)->gradient().nanColor(), QColor("#4a4a4a"));
    }
};

ATTNSCOPE_APP_TEST_MAIN(TestHeatmapPanel)

#include "tst_heatmappanel.moc"
