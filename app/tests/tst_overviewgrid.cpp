// SPDX-License-Identifier: GPL-3.0-or-later
// OverviewGrid: geometry, click/selection signals, shared colour range, masked colour and tooltips.
#include "overviewgrid.h"

#include <QApplication>
#include <QSignalSpy>
#include <QTest>

#include "apptest.h"

#include <cmath>
#include <limits>

using namespace attn::app;

namespace {

constexpr int kLayers = 2;
constexpr int kHeads = 3;
constexpr int kSize = 4;
constexpr float kMasked = std::numeric_limits<float>::quiet_NaN();

/// Pooled 4x4 causal map whose visible cells all hold `value` (masked above the diagonal).
attn::AttentionMap causalMap(int layer, int head, float value)
{
    attn::AttentionMap map;
    map.layer = layer;
    map.head = head;
    map.rows = kSize;
    map.cols = kSize;
    map.values.assign(kSize * kSize, kMasked);
    for (int row = 0; row < kSize; ++row) {
        for (int col = 0; col <= row; ++col)
            map.values[row * kSize + col] = value;
    }
    return map;
}

/// Values rise with the head so each column of thumbnails has its own colour; head 2 of layer 1 has no metric.
std::vector<OverviewCell> cells()
{
    std::vector<OverviewCell> result;
    for (int layer = 0; layer < kLayers; ++layer) {
        for (int head = 0; head < kHeads; ++head) {
            OverviewCell cell;
            cell.layer = layer;
            cell.head = head;
            cell.map = causalMap(layer, head, 0.1f + 0.4f * head);
            cell.metric = (layer == 1 && head == 2) ? std::numeric_limits<double>::quiet_NaN() : 0.5 + layer + head;
            result.push_back(std::move(cell));
        }
    }
    return result;
}

/// Centre of pooled cell (row, col) of a thumbnail: where its colour is drawn.
QPoint cellCentre(const QRect& thumb, int row, int col)
{
    const double step = double(thumb.width()) / kSize;
    return QPoint(thumb.left() + int((col + 0.5) * step), thumb.top() + int((row + 0.5) * step));
}

struct Shown {
    OverviewGrid grid;
    Shown()
    {
        grid.setCells(kLayers, kHeads, cells(), /*isSigned=*/false, QStringLiteral("A"), QStringLiteral("entropy"));
        grid.resize(grid.sizeHint());
        grid.show();
    }
};

} // namespace

class TestOverviewGrid : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void geometry()
    {
        Shown shown;
        QVERIFY(QTest::qWaitForWindowExposed(&shown.grid));
        const QRect first = shown.grid.thumbnailRect(0, 0);
        QCOMPARE(first.width(), 64); // at sizeHint the thumbnails get their preferred size
        QCOMPARE(first.height(), first.width());
        // Layer 0 on top, heads left to right, no overlap.
        QVERIFY(shown.grid.thumbnailRect(1, 0).top() > first.bottom());
        QVERIFY(shown.grid.thumbnailRect(0, 1).left() > first.right());
        QVERIFY(shown.grid.rect().contains(shown.grid.thumbnailRect(kLayers - 1, kHeads - 1)));
        QVERIFY(shown.grid.thumbnailRect(kLayers, 0).isNull());

        // Shrinking the widget shrinks the thumbnails, still square.
        shown.grid.resize(shown.grid.sizeHint() / 2);
        const QRect small = shown.grid.thumbnailRect(1, 2);
        QVERIFY(small.width() < 64);
        QCOMPARE(small.width(), small.height());
        QVERIFY(shown.grid.rect().contains(small));
    }

    void clickEmitsHead()
    {
        Shown shown;
        QVERIFY(QTest::qWaitForWindowExposed(&shown.grid));
        QSignalSpy spy(&shown.grid, &OverviewGrid::headActivated);
        QTest::mouseClick(&shown.grid, Qt::LeftButton, {}, shown.grid.thumbnailRect(1, 2).center());
        QCOMPARE(spy.count(), 1);
        QCOMPARE(spy.at(0).at(0).toInt(), 1);
        QCOMPARE(spy.at(0).at(1).toInt(), 2);
        QCOMPARE(shown.grid.selectedLayer(), 1);
        QCOMPARE(shown.grid.selectedHead(), 2);

        QTest::mouseClick(&shown.grid, Qt::LeftButton, {}, shown.grid.thumbnailRect(0, 1).center());
        QCOMPARE(spy.count(), 2);
        QCOMPARE(spy.at(1).at(0).toInt(), 0);
        QCOMPARE(spy.at(1).at(1).toInt(), 1);

        // Labels and gaps are not heads; neither is a right click.
        QTest::mouseClick(&shown.grid, Qt::LeftButton, {}, QPoint(1, 1));
        QTest::mouseClick(&shown.grid, Qt::RightButton, {}, shown.grid.thumbnailRect(0, 0).center());
        QCOMPARE(spy.count(), 2);
    }

    void setSelectedDoesNotEmit()
    {
        Shown shown;
        QSignalSpy spy(&shown.grid, &OverviewGrid::headActivated);
        shown.grid.setSelected(1, 1);
        QCOMPARE(spy.count(), 0);
        QCOMPARE(shown.grid.selectedLayer(), 1);
        QCOMPARE(shown.grid.selectedHead(), 1);
        // The ring is drawn in the highlight colour just outside the metric frame.
        const QImage image = shown.grid.grab().toImage();
        const QRect thumb = shown.grid.thumbnailRect(1, 1);
        QCOMPARE(
            image.pixelColor(thumb.center().x(), thumb.top() - 4), shown.grid.palette().color(QPalette::Highlight));
    }

    void sharedColourRange()
    {
        OverviewGrid grid;
        grid.setCells(kLayers, kHeads, cells(), /*isSigned=*/false, QStringLiteral("A"), QStringLiteral("entropy"));
        QCOMPARE(grid.colorRange().first, 0.0);
        QCOMPARE(grid.colorRange().second, double(0.1f + 0.4f * 2));

        std::vector<OverviewCell> signedCells = cells();
        const auto cols = static_cast<size_t>(signedCells[1].map.cols);
        signedCells[1].map.values[cols + 1] = -3.0f; // row 1, key 1
        signedCells[1].map.values[cols] = 50.0f; // key column 0 (the <bos> sink) does not set the range
        grid.setCells(kLayers, kHeads, std::move(signedCells), /*isSigned=*/true, QStringLiteral("D"), QString());
        QCOMPARE(grid.colorRange().first, -3.0);
        QCOMPARE(grid.colorRange().second, 3.0);
    }

    void pixels()
    {
        Shown shown;
        const QImage image = shown.grid.grab().toImage();
        const QRect head0 = shown.grid.thumbnailRect(0, 0);
        const QRect head2 = shown.grid.thumbnailRect(0, 2);
        // Top-right cell is above the diagonal: masked grey, the panels' light-theme colour.
        const QPoint masked = cellCentre(head0, 0, kSize - 1);
        QCOMPARE(image.pixelColor(masked), QColor("#d9d9d9"));
        // Bottom-left cells are visible; different values in different heads give different colours.
        const QColor low = image.pixelColor(cellCentre(head0, kSize - 1, 0));
        const QColor high = image.pixelColor(cellCentre(head2, kSize - 1, 0));
        QVERIFY(low != high);
        QVERIFY(low != QColor("#d9d9d9"));
        // Frames: a finite metric colours the frame, a NaN metric leaves the window colour.
        const QColor window = shown.grid.palette().color(QPalette::Window);
        const QRect noMetric = shown.grid.thumbnailRect(1, 2);
        QCOMPARE(image.pixelColor(noMetric.center().x(), noMetric.top() - 2), window);
        QVERIFY(image.pixelColor(head0.center().x(), head0.top() - 2) != window);
        // Lowest and highest metric sit at opposite ends of the frame scale.
        const QRect top = shown.grid.thumbnailRect(1, 1);
        QVERIFY(
            image.pixelColor(head0.center().x(), head0.top() - 2) != image.pixelColor(top.center().x(), top.top() - 2));

        // A dark palette repaints with the dark masked grey.
        QPalette dark = shown.grid.palette();
        dark.setColor(QPalette::Window, QColor("#202020"));
        dark.setColor(QPalette::WindowText, QColor("#e0e0e0"));
        shown.grid.setPalette(dark);
        const QImage darkImage = shown.grid.grab().toImage();
        QCOMPARE(darkImage.pixelColor(masked), QColor("#4a4a4a"));
        QCOMPARE(darkImage.pixelColor(noMetric.center().x(), noMetric.top() - 2), QColor("#202020"));
    }

    void tooltip()
    {
        Shown shown;
        const QString text = shown.grid.toolTipAt(shown.grid.thumbnailRect(1, 1).center());
        QCOMPARE(text, QStringLiteral("layer 1, head 1: entropy = 2.5"));
        QVERIFY(shown.grid.toolTipAt(shown.grid.thumbnailRect(1, 2).center()).contains(QStringLiteral("n/a")));
        QVERIFY(shown.grid.toolTipAt(QPoint(0, 0)).isEmpty());
    }
};

ATTNSCOPE_APP_TEST_MAIN(TestOverviewGrid)

#include "tst_overviewgrid.moc"
