// SPDX-License-Identifier: GPL-3.0-or-later
// HeatmapPanel: construction, theme, colours and data, and the public setters. Labels, zoom and hover are in
// heatmappanel_labels.cpp, heatmappanel_view.cpp and heatmappanel_hover.cpp.
#include "gradients.h"
#include "heatmappanel_p.h"
#include "mapnames.h"

#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <limits>

namespace attn::app {

void HeatmapPanel::Private::setup()
{
    plot = new QCustomPlot(q);
    auto* layout = new QVBoxLayout(q);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(plot);

    plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    plot->setNoAntialiasingOnDrag(true);
    plot->setMouseTracking(true); // hover read-out without a pressed button
    plot->installEventFilter(this);

    // Eleven panels share a laptop screen: small fonts, short paddings, and a header row holding the one-line title
    // beside a slim horizontal colour bar, so the map gets the panel's whole width (a vertical bar with its labels
    // took a third of it).
    QFont small = q->font();
    if (small.pointSizeF() > 0.0)
        small.setPointSizeF(std::max(6.5, small.pointSizeF() - 1.5));
    QFont bold = small;
    bold.setBold(true);
    title = new QCPTextElement(plot, QString(), bold);
    title->setTextFlags(Qt::AlignLeft | Qt::AlignVCenter);
    title->setMargins(QMargins(2, 0, 4, 0));
    auto* header = new QCPLayoutGrid;
    plot->plotLayout()->insertRow(0);
    plot->plotLayout()->addElement(0, 0, header);
    plot->plotLayout()->setRowSpacing(0);
    plot->plotLayout()->setRowStretchFactor(0, 0.001);
    plot->plotLayout()->setMargins(QMargins(0, 0, 0, 0));
    header->addElement(0, 0, title);

    QCPAxisRect* rect = plot->axisRect();
    rect->setRangeDrag(Qt::Horizontal | Qt::Vertical);
    rect->setRangeZoom(Qt::Horizontal | Qt::Vertical);
    plot->xAxis->setLabel(QStringLiteral("key"));
    plot->yAxis->setLabel(QStringLiteral("query"));
    for (QCPAxis* axis : {plot->xAxis, plot->yAxis}) {
        axis->setTickLabelFont(small);
        axis->setLabelFont(small);
        axis->setTickLabelPadding(2);
        axis->setLabelPadding(2);
        axis->setTickLength(0, 3);
    }
    // The right and top sides carry no axis: no margin beyond a pixel for the frame.
    rect->setAutoMargins(QCP::msLeft | QCP::msBottom);
    rect->setMargins(QMargins(0, 2, 3, 0));
    // The map covers the whole rect; grid lines would only show at the half-cell margins.
    plot->xAxis->grid()->setVisible(false);
    plot->yAxis->grid()->setVisible(false);

    keyTicker = QSharedPointer<TokenTicker>::create();
    keyTicker->setAxis(plot->xAxis);
    plot->xAxis->setTicker(keyTicker);
    queryTicker = QSharedPointer<TokenTicker>::create();
    queryTicker->setAxis(plot->yAxis);
    plot->yAxis->setTicker(queryTicker);

    colorScale = new QCPColorScale(plot);
    header->addElement(0, 1, colorScale);
    colorScale->setType(QCPAxis::atBottom);
    colorScale->setBarWidth(5);
    colorScale->axis()->setTickLabelFont(small);
    colorScale->axis()->setTickLabelPadding(1);
    colorScale->axis()->setTickLength(0, 2);
    colorScale->axis()->setSubTicks(false);
    colorScale->setMinimumSize(60, 0);
    colorScale->setMaximumSize(180, QWIDGETSIZE_MAX);
    colorScale->setMinimumMargins(
        QMargins(14, 0, 22, 0)); // end labels, centred on the ends: QCP hides labels cut by the border
    header->setColumnStretchFactor(0, 0.001);
    header->setColumnSpacing(2);
    // Dragging or zooming the scale would re-colorise the whole map and break a symmetric signed range.
    colorScale->setRangeDrag(false);
    colorScale->setRangeZoom(false);

    colorMap = new QCPColorMap(plot->xAxis, plot->yAxis);
    colorMap->setColorScale(colorScale);
    colorMap->setInterpolate(false);
    // Not tight: with the key/value ranges on cell centres [0, n-1], a tight boundary clips the first and
    // last rows/columns to half cells, so the map would no longer cover [-0.5, n-0.5] where tokenAt() and
    // the cross-hair put the cells.
    colorMap->setTightBoundary(false);

    plot->layer(QStringLiteral("overlay"))->setMode(QCPLayer::lmBuffered);
    for (QCPItemRect** item : {&rowBand, &colBand, &cellOuter, &cellInner}) {
        *item = new QCPItemRect(plot);
        (*item)->setLayer(QStringLiteral("overlay"));
        (*item)->setSelectable(false);
        (*item)->setBrush(Qt::NoBrush);
        (*item)->setVisible(false);
    }
    cellOuter->setPen(QPen(QColor(0, 0, 0, 220), 3));
    cellInner->setPen(QPen(QColor(255, 255, 255, 240), 1));

    // Our own setRange calls are guarded by applyingView; anything else moving the axes is the user.
    QObject::connect(plot->xAxis, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), q, [this] {
        clampView();
        emitView();
    });
    QObject::connect(plot->yAxis, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), q, [this] {
        clampView();
        emitView();
    });
    plot->installEventFilter(q); // double-click resets the zoom
    QObject::connect(plot, &QCustomPlot::afterReplot, q, [this] { buffersReady = true; });
    QObject::connect(plot, &QCustomPlot::afterLayout, q, [this] {
        checkKeyLabelFit();
        updateTitle();
        keepSquareish();
        updateColorTicks(false);
    });
    QObject::connect(plot, &QCustomPlot::mouseMove, q, [this](QMouseEvent* event) { hoverAt(event->position()); });

    applyTheme();
    applyColors();
}

void HeatmapPanel::Private::applyTheme()
{
    const QPalette palette = q->palette();
    const QColor foreground = palette.color(QPalette::WindowText);
    plot->setBackground(palette.brush(QPalette::Window));
    for (QCPAxis* axis : {plot->xAxis, plot->yAxis, colorScale->axis()}) {
        axis->setBasePen(QPen(foreground));
        axis->setTickPen(QPen(foreground));
        axis->setSubTickPen(QPen(foreground));
        axis->setTickLabelColor(foreground);
        axis->setLabelColor(foreground);
    }
    title->setTextColor(foreground);
    QColor band = foreground;
    band.setAlpha(150);
    rowBand->setPen(QPen(band, 1, Qt::DashLine));
    colBand->setPen(QPen(band, 1, Qt::DashLine));
}

void HeatmapPanel::Private::applyColors()
{
    const bool log = logScale();
    std::pair<double, double> range;
    if (options.sharedRange && sharedRange) {
        range = *sharedRange;
        if (map.isSigned) {
            // Keep 0 at the diverging midpoint even if the caller's shared range is lopsided.
            const double m = std::max(std::abs(range.first), std::abs(range.second));
            range = m > 0.0 ? std::make_pair(-m, m) : std::make_pair(-1e-6, 1e-6);
        } else if (log) {
            if (!(range.second > 0.0))
                range = {1e-6, 1.0};
            else if (!(range.first > 0.0))
                range.first = range.second * 1e-6;
        }
        if (!(range.second > range.first))
            range.second = range.first + 1e-6 * std::max(1.0, std::abs(range.first));
        appliedRangeIsShared = true;
    } else if (map.rangeExcludesFirstKey) {
        range = attn::app::colorRange(withoutFirstColumn(map.values, map.rows, map.cols), map.isSigned, options);
    } else {
        range = attn::app::colorRange(map.values, map.isSigned, options);
    }
    appliedRange = range;
    if (!(options.sharedRange && sharedRange))
        appliedRangeIsShared = false;

    QCPColorGradient gradient = makeGradient(map.isSigned ? options.diverging : options.sequential);
    const QCPRange qcpRange(range.first, range.second);
    gradient.setNanColor(maskedColor(gradient, qcpRange, log, q->palette()));

    colorScale->setDataScaleType(log ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
    // The title names the kind, so the bar has no axis label; its ticks are set by updateColorTicks.
    updateColorTicks(true);
    colorScale->setGradient(gradient);
    colorScale->setDataRange(qcpRange);
    colorScale->axis()->setLabel(QString());
}

void HeatmapPanel::Private::fillData()
{
    if (!hasMap()) {
        colorMap->data()->clear();
        return;
    }
    const int rows = map.rows;
    const int cols = map.cols;
    const bool log = logScale();
    const double logFloor = appliedRange.first;
    // Built detached and handed over without a copy (QCP's setData(ptr, false)): the same path a worker
    // thread would use for big maps.
    // QCP derives a cell's extent from the distance between the first and last cell centre, which is zero for one
    // token: such a map is drawn as 2 x 2 half cells covering [-0.5, 0.5] (same value), so it is not invisible.
    const int dataCols = cols == 1 ? 2 : cols;
    const int dataRows = rows == 1 ? 2 : rows;
    const QCPRange keyRange = cols == 1 ? QCPRange(-0.25, 0.25) : QCPRange(0, cols - 1);
    const QCPRange valueRange = rows == 1 ? QCPRange(-0.25, 0.25) : QCPRange(0, rows - 1);
    auto* data = new QCPColorMapData(dataCols, dataRows, keyRange, valueRange);
    for (int cell = 0; cell < dataRows * dataCols; ++cell) {
        const int cellY = cell / dataCols;
        const int dataCol = cell % dataCols;
        const int row = rows == 1 ? 0 : rowForCellY(cellY, rows);
        const int col = cols == 1 ? 0 : dataCol;
        {
            const float v = map.values[static_cast<std::size_t>(row) * cols + col];
            double z = v;
            if (!std::isfinite(v))
                z = std::numeric_limits<double>::quiet_NaN(); // -inf is a causal mask; colorize casts inf to int
            else if (log && v <= 0.0f)
                z = logFloor; // the log colour scale takes ln(v / low): never feed it v <= 0
            data->setCell(dataCol, cellY, z);
        }
    }
    colorMap->setData(data, /*copy=*/false);
}

HeatmapPanel::HeatmapPanel(QWidget* parent)
    : QWidget(parent)
    , d(std::make_unique<Private>(this))
{
    d->setup();
}

HeatmapPanel::~HeatmapPanel() = default;

void HeatmapPanel::setMap(const PanelMap& map, bool keepView)
{
    keepView = keepView && map.rows == d->map.rows && map.cols == d->map.cols && d->hasMap();
    d->map = map;
    if (!d->hasMap() && (map.rows != 0 || map.cols != 0))
        qWarning("HeatmapPanel::setMap: %d x %d map with %zu values; showing nothing", map.rows, map.cols,
            map.values.size());
    d->updateTitle();
    d->hoverRow = d->hoverCol = -1;
    d->crossRow = d->crossCol = -1;
    d->applyColors();
    d->fillData();
    d->updateTickers();
    if (!keepView)
        d->resetView();
    d->updateCrosshair();
    d->plot->replot(QCustomPlot::rpQueuedReplot);
}

const PanelMap& HeatmapPanel::map() const
{
    return d->map;
}

void HeatmapPanel::setColorOptions(const ColorOptions& options)
{
    if (options == d->options)
        return; // setMap already coloured the map with these (a full refill of a 2048² map is not free)
    d->options = options;
    d->applyColors();
    d->fillData(); // the log floor used for non-positive cells depends on the range
    d->plot->replot(QCustomPlot::rpQueuedReplot);
}

void HeatmapPanel::setSharedRange(double low, double high)
{
    const auto range = std::make_pair(low, high);
    if (d->sharedRange == range && d->appliedRangeIsShared)
        return;
    d->sharedRange = range;
    if (!d->options.sharedRange)
        return;
    d->applyColors();
    d->fillData();
    d->plot->replot(QCustomPlot::rpQueuedReplot);
}

QCustomPlot* HeatmapPanel::plot() const
{
    return d->plot;
}

std::pair<double, double> HeatmapPanel::colorRange() const
{
    return d->appliedRange;
}

void HeatmapPanel::changeEvent(QEvent* event)
{
    QWidget::changeEvent(event);
    if (event->type() == QEvent::PaletteChange && d && d->plot) {
        // QCustomPlot does not follow the palette by itself (same fix as Hotspot's FrequencyPage).
        d->applyTheme();
        d->applyColors(); // the masked grey depends on light/dark
        d->plot->replot(QCustomPlot::rpQueuedReplot);
    }
}

} // namespace attn::app
