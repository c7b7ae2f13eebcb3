// SPDX-License-Identifier: GPL-3.0-or-later
// HeatmapPanel: the cross-hair and the hovered cell the read-out shows (synced across panels by the parent).
#include "heatmappanel_p.h"

#include <cmath>

namespace attn::app {

void HeatmapPanel::Private::updateCrosshair()
{
    const bool visible = hasMap() && crossRow >= 0 && crossRow < map.rows && crossCol >= 0 && crossCol < map.cols;
    for (QCPItemRect* item : {rowBand, colBand, cellOuter, cellInner})
        item->setVisible(visible);
    if (visible) {
        const double y = cellYForRow(crossRow, map.rows);
        const double x = crossCol;
        rowBand->topLeft->setCoords(-0.5, y + 0.5);
        rowBand->bottomRight->setCoords(map.cols - 0.5, y - 0.5);
        colBand->topLeft->setCoords(x - 0.5, map.rows - 0.5);
        colBand->bottomRight->setCoords(x + 0.5, -0.5);
        for (QCPItemRect* cell : {cellOuter, cellInner}) {
            cell->topLeft->setCoords(x - 0.5, y + 0.5);
            cell->bottomRight->setCoords(x + 0.5, y - 0.5);
        }
    }
    // Only the overlay buffer is redrawn; before the first replot there is no buffer to draw into yet.
    if (buffersReady)
        plot->layer(QStringLiteral("overlay"))->replot();
    else
        plot->replot(QCustomPlot::rpQueuedReplot);
}

void HeatmapPanel::Private::setHover(int row, int col)
{
    if (row == hoverRow && col == hoverCol)
        return;
    hoverRow = row;
    hoverCol = col;
    crossRow = row;
    crossCol = col;
    updateCrosshair();
    Q_EMIT q->cellHovered(row, col);
}

void HeatmapPanel::Private::hoverAt(const QPointF& pos)
{
    int row = -1;
    int col = -1;
    if (hasMap() && plot->axisRect()->rect().contains(pos.toPoint())) {
        col = tokenAt(plot->xAxis->pixelToCoord(pos.x()), map.cols);
        row = queryRowAt(plot->yAxis->pixelToCoord(pos.y()), map.rows);
        if (row < 0 || col < 0 || std::isnan(map.values[static_cast<std::size_t>(row) * map.cols + col])) {
            row = -1;
            col = -1;
        }
    }
    setHover(row, col);
}

void HeatmapPanel::setCrosshair(int row, int col)
{
    if (row == d->crossRow && col == d->crossCol)
        return;
    d->crossRow = row;
    d->crossCol = col;
    d->updateCrosshair();
}

} // namespace attn::app
