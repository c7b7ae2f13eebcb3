// SPDX-License-Identifier: GPL-3.0-or-later
// HeatmapPanel: zoom and pan: the whole map on reset (double-click, Home, Ctrl+0), zoom-out bounded by the map, synced
// views, and the padding that keeps the map near square.
#include "heatmappanel_p.h"

#include <QMouseEvent>

#include <algorithm>
#include <cmath>

namespace attn::app {

namespace {

// How far from square a map may be drawn: a few maps in a wide grid would otherwise be stretched into tall
// stripes. Wide is allowed further than tall, as the 1280x800 grid of eleven panels is wide and short.
constexpr double kMaxWideAspect = 1.6;
constexpr double kMaxTallAspect = 1.15;

} // namespace

void HeatmapPanel::Private::resetView()
{
    applyingView = true;
    plot->xAxis->setRange(-0.5, std::max(1, map.cols) - 0.5);
    plot->yAxis->setRange(-0.5, std::max(1, map.rows) - 0.5);
    applyingView = false;
}

void HeatmapPanel::Private::keepSquareish()
{
    // Pads the plot inside the panel so the map's aspect stays within the limits. The axis and header overhead
    // does not depend on the padding, so the map size without padding is the current one plus the padding, and a
    // second pass finds nothing to change.
    auto* layout = q->layout();
    const QRect rect = plot->axisRect()->rect();
    if (!layout || rect.width() <= 0 || rect.height() <= 0)
        return;
    const QMargins current = layout->contentsMargins();
    const int width = rect.width() + current.left() + current.right();
    const int height = rect.height() + current.top() + current.bottom();
    int padWidth = 0;
    int padHeight = 0;
    if (width > kMaxWideAspect * height)
        padWidth = width - static_cast<int>(kMaxWideAspect * height);
    else if (height > kMaxTallAspect * width)
        padHeight = height - static_cast<int>(kMaxTallAspect * width);
    if (std::abs(padWidth - (current.left() + current.right())) <= 1
        && std::abs(padHeight - (current.top() + current.bottom())) <= 1)
        return;
    layout->setContentsMargins(padWidth / 2, 0, padWidth - padWidth / 2, padHeight);
}

void HeatmapPanel::Private::clampView()
{
    // Zooming out stops at the whole map, and panning cannot lose it: beyond its edges there is nothing to see.
    if (applyingView || !hasMap())
        return;
    applyingView = true;
    for (auto [axis, count] : {std::pair {plot->xAxis, map.cols}, std::pair {plot->yAxis, map.rows}}) {
        const double lo = -0.5, hi = count - 0.5;
        QCPRange r = axis->range();
        if (r.size() >= hi - lo)
            r = QCPRange(lo, hi);
        else if (r.lower < lo)
            r = QCPRange(lo, lo + r.size());
        else if (r.upper > hi)
            r = QCPRange(hi - r.size(), hi);
        if (r != axis->range())
            axis->setRange(r);
    }
    applyingView = false;
}

void HeatmapPanel::Private::emitView()
{
    if (applyingView || !hasMap())
        return;
    const QCPRange keys = plot->xAxis->range();
    const QCPRange cellsY = plot->yAxis->range();
    // The vertical axis runs in flipped cell coordinates; report query rows (row 0 = first token).
    const double top = map.rows - 1;
    Q_EMIT q->viewChanged(keys.lower, keys.upper, top - cellsY.upper, top - cellsY.lower);
}

void HeatmapPanel::setView(double keyLow, double keyHigh, double queryLow, double queryHigh)
{
    const double top = d->map.rows - 1;
    d->applyingView = true;
    d->plot->xAxis->setRange(keyLow, keyHigh);
    d->plot->yAxis->setRange(top - queryHigh, top - queryLow);
    d->applyingView = false;
    d->plot->replot(QCustomPlot::rpQueuedReplot);
}

void HeatmapPanel::resetView()
{
    d->resetView();
    d->plot->replot(QCustomPlot::rpQueuedReplot);
    if (d->hasMap())
        Q_EMIT viewChanged(-0.5, d->map.cols - 0.5, -0.5, d->map.rows - 0.5);
}

QRectF HeatmapPanel::viewRange() const
{
    const QCPRange keys = d->plot->xAxis->range();
    const QCPRange cellsY = d->plot->yAxis->range();
    const double top = d->map.rows - 1;
    return QRectF(QPointF(keys.lower, top - cellsY.upper), QPointF(keys.upper, top - cellsY.lower));
}

bool HeatmapPanel::eventFilter(QObject* watched, QEvent* event)
{
    if (watched == d->plot && event->type() == QEvent::MouseButtonDblClick) {
        resetView();
        return true;
    }
    return QWidget::eventFilter(watched, event);
}

} // namespace attn::app
