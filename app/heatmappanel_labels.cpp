// SPDX-License-Identifier: GPL-3.0-or-later
// HeatmapPanel: the text around the map: token labels on the axes, the one-line title and its tooltip, the colour
// bar's ticks.
#include "heatmappanel_p.h"

#include <QFontMetrics>
#include <QResizeEvent>
#include <QtMath>

#include <algorithm>
#include <cmath>

namespace attn::app {

void HeatmapPanel::Private::updateTickers()
{
    auto displayed = [](const QStringList& tokens) {
        QStringList out;
        out.reserve(tokens.size());
        for (const QString& token : tokens)
            out.append(panel::displayToken(token));
        return out;
    };
    const QStringList queryLabels = displayed(map.tokens);
    const QStringList labels = map.keyTokens.isEmpty() ? queryLabels : displayed(map.keyTokens);

    keyTicker->setLabels(labels, map.cols, /*flipped=*/false);
    queryTicker->setLabels(queryLabels, map.rows, /*flipped=*/true);

    const QFontMetrics keyMetrics(plot->xAxis->tickLabelFont());
    int widest = 0;
    for (const QString& label : labels)
        widest = std::max(widest, keyMetrics.horizontalAdvance(label));
    widestKeyLabel = widest + 2.0 * keyMetrics.averageCharWidth();
    setKeyLabelRotation(keyLabelsRotated); // new labels, new widths: refresh the spacing
    checkKeyLabelFit();
    const QFontMetrics queryMetrics(plot->yAxis->tickLabelFont());
    queryTicker->setSpacing(queryMetrics.height() + 1.0); // stacked horizontal labels: one line each
}

void HeatmapPanel::Private::setKeyLabelRotation(bool rotate)
{
    keyLabelsRotated = rotate;
    plot->xAxis->setTickLabelRotation(rotate ? panel::kKeyLabelRotation : 0.0);
    // Parallel rotated labels clear each other when their horizontal distance times sin(angle) is at least a line
    // height; horizontal ones need their full width.
    const QFontMetrics metrics(plot->xAxis->tickLabelFont());
    const double sine = std::abs(std::sin(qDegreesToRadians(panel::kKeyLabelRotation)));
    keyTicker->setSpacing(rotate ? metrics.height() / sine + 1.0 : widestKeyLabel);
}

void HeatmapPanel::Private::checkKeyLabelFit()
{
    // Long prompts always rotate; short ones also rotate when the widest label is wider than a cell, which
    // otherwise thins a 12-token axis down to two labels. Decided on the full map, not the zoomed range, so
    // the labels do not flip orientation while the user zooms.
    const int width = plot->axisRect()->width();
    bool rotate = map.cols > panel::kRotateKeyLabelsAbove;
    if (!rotate && width > 0 && map.cols > 0)
        rotate = width / static_cast<double>(map.cols) < widestKeyLabel;
    if (rotate == keyLabelsRotated)
        return;
    setKeyLabelRotation(rotate);
    plot->replot(QCustomPlot::rpQueuedReplot); // margins change with the rotation
}

void HeatmapPanel::Private::updateTitle()
{
    // QCP's text element never elides: a long title in a narrow panel would be cut at both sides. One line only,
    // sharing the header with the colour bar (which keeps at least 60 px); the rest is in the tooltip.
    const QFontMetrics metrics(title->font());
    const int width = std::max(30, q->width() - 72);
    title->setText(metrics.elidedText(map.title.section(QLatin1Char('\n'), 0, 0), Qt::ElideRight, width));
    QString tip = map.title;
    if (!map.details.isEmpty())
        tip += QLatin1Char('\n') + map.details;
    q->setToolTip(tip + QStringLiteral("\n(rows: query tokens, columns: key tokens)"));
}

void HeatmapPanel::Private::updateColorTicks(bool force)
{
    // Log bars keep two ticks: a middle decade label would crowd the ends on any bar this slim.
    const int tickClass = !logScale() && colorScale->rect().width() >= 110 ? 1 : 0;
    if (!force && tickClass == colorTickClass)
        return;
    colorTickClass = tickClass;
    colorScale->axis()->setTicker(QSharedPointer<QCPAxisTicker>(new RangeEndsTicker(tickClass == 1, map.isSigned)));
    if (!force)
        plot->replot(QCustomPlot::rpQueuedReplot);
}

void HeatmapPanel::resizeEvent(QResizeEvent* event)
{
    QWidget::resizeEvent(event);
    // Small panels (eleven maps on a laptop screen) give the axis titles' room to the map; the tooltip and the
    // read-out still say which axis is which.
    const bool compact = width() < 260 || height() < 230;
    d->plot->xAxis->setLabel(compact ? QString() : QStringLiteral("key"));
    d->plot->yAxis->setLabel(compact ? QString() : QStringLiteral("query"));
    d->updateTitle();
}

} // namespace attn::app
