// SPDX-License-Identifier: GPL-3.0-or-later
#include "heatmappanel.h"

#include "gradients.h"
#include "mapnames.h"

// qcustomplot.h declares its signals with the `signals:` keyword and uses `foreach`; it cannot be compiled in a
// translation unit that hides Qt's keywords. Fail here with a clear message instead of deep inside the header.
#if defined(QT_NO_KEYWORDS)
#error "heatmappanel.cpp includes qcustomplot.h, which needs Qt keywords: do not define QT_NO_KEYWORDS for this target"
#endif
#include <qcustomplot.h>

#include <QEvent>
#include <QFontMetrics>
#include <QMouseEvent>
#include <QPointer>
#include <QResizeEvent>
#include <QVBoxLayout>
#include <QtMath>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <optional>
#include <vector>

namespace attn::app {

namespace {

constexpr std::size_t kMaxLabelChars = 12;
constexpr int kRotateKeyLabelsAbove = 16; // more key tokens than this: labels rotate so more fit
constexpr double kKeyLabelRotation = -60.0;
// How far from square a map may be drawn: a few maps in a wide grid would otherwise be stretched into tall
// stripes. Wide is allowed further than tall, as the 1280x800 grid of eleven panels is wide and short.
constexpr double kMaxWideAspect = 1.6;
constexpr double kMaxTallAspect = 1.15;

/// Labels integer ticks with token strings: as many as fit without overlap (`spacing` pixels apart along the axis,
/// measured from the font by the panel), always the first and last token in view (QCPAxisTickerText would draw
/// every label).
class TokenTicker : public QCPAxisTicker {
public:
    void setLabels(const QStringList& labels, int count, bool flipped)
    {
        m_labels = labels;
        m_count = count;
        m_flipped = flipped;
    }
    void setAxis(QCPAxis* axis) { m_axis = axis; }
    void setSpacing(double pixels) { m_spacing = pixels; }

protected:
    double getTickStep(const QCPRange& range) override
    {
        if (!m_axis || !(m_spacing > 0.0) || !(range.size() > 0.0))
            return 1;
        const QRect rect = m_axis->axisRect()->rect();
        const int length = m_axis->orientation() == Qt::Horizontal ? rect.width() : rect.height();
        return length > 0 ? tokenLabelStep(length / range.size(), m_spacing) : 1;
    }
    int getSubTickCount(double) override { return 0; }
    QVector<double> createTickVector(double tickStep, const QCPRange& range) override
    {
        // Ticks on the whole tokens in view, anchored at both ends so the first and last token are named.
        const int first = std::max(0, static_cast<int>(std::ceil(range.lower - 1e-9)));
        const int last = std::min(m_count - 1, static_cast<int>(std::floor(range.upper + 1e-9)));
        QVector<double> ticks;
        for (int t : tokenLabelTicks(first, last, static_cast<int>(std::lround(tickStep))))
            ticks.append(t);
        return ticks;
    }
    QString getTickLabel(double tick, const QLocale&, QChar, int) override
    {
        const double rounded = std::round(tick);
        if (std::abs(tick - rounded) > 1e-6 || rounded < 0.0 || rounded >= m_count)
            return {};
        int index = static_cast<int>(rounded);
        if (m_flipped)
            index = rowForCellY(index, m_count);
        return index < m_labels.size() ? m_labels.at(index) : QString::number(index);
    }

private:
    QStringList m_labels;
    int m_count = 0;
    bool m_flipped = false;
    double m_spacing = 0.0;
    QPointer<QCPAxis> m_axis; // the axis owns the ticker through a shared pointer, so it may outlive the axis
};

/// Colour bar ticks a slim bar has room for: the two ends of the range, and 0 (signed) or the middle when the bar
/// is wide enough. QCP's own ticker picks "nice" steps and put five overlapping labels on a 60 px bar.
class RangeEndsTicker : public QCPAxisTicker {
public:
    RangeEndsTicker(bool withMiddle, bool isSigned)
        : m_withMiddle(withMiddle)
        , m_signed(isSigned)
    {
    }

protected:
    QVector<double> createTickVector(double, const QCPRange& range) override
    {
        QVector<double> ticks {range.lower};
        if (m_withMiddle)
            ticks.append(m_signed ? 0.0 : range.center());
        ticks.append(range.upper);
        return ticks;
    }
    int getSubTickCount(double) override { return 0; }
    QString getTickLabel(double tick, const QLocale& locale, QChar, int) override
    {
        return locale.toString(tick, 'g', 2);
    }

private:
    bool m_withMiddle;
    bool m_signed;
};

QString displayToken(const QString& token)
{
    // Control characters would break the axis layout; show visible stand-ins instead.
    QString shown = token;
    shown.replace(QLatin1Char('\n'), QStringLiteral("\u21b5"));
    shown.replace(QLatin1Char('\r'), QStringLiteral("\u240d"));
    shown.replace(QLatin1Char('\t'), QStringLiteral("\u2192"));
    return QString::fromStdString(elideLabel(shown.toStdString(), kMaxLabelChars));
}

} // namespace

struct HeatmapPanel::Private : public QObject {
    explicit Private(HeatmapPanel* owner)
        : q(owner)
    {
    }

    HeatmapPanel* q;
    QCustomPlot* plot = nullptr;
    QCPColorMap* colorMap = nullptr;
    QCPColorScale* colorScale = nullptr;
    QCPTextElement* title = nullptr;
    QSharedPointer<TokenTicker> keyTicker;
    QSharedPointer<TokenTicker> queryTicker;
    // Cross-hair: row and column bands plus a two-tone cell outline (dark + light) that stays visible on
    // every gradient. All of them live on the buffered "overlay" layer so moving them costs no full replot.
    QCPItemRect* rowBand = nullptr;
    QCPItemRect* colBand = nullptr;
    QCPItemRect* cellOuter = nullptr;
    QCPItemRect* cellInner = nullptr;

    PanelMap map;
    ColorOptions options;
    std::optional<std::pair<double, double>> sharedRange;
    std::pair<double, double> appliedRange {0.0, 1.0};
    bool keyLabelsRotated = false;
    double widestKeyLabel = 0.0; // pixels, for the "do horizontal labels fit one per cell" check
    bool buffersReady = false; // QCP creates the layer paint buffers in its first replot
    bool applyingView = false; // set while we move the axes ourselves, so viewChanged means "the user did it"
    int crossRow = -1, crossCol = -1; // cell the cross-hair shows (from setCrosshair or the local hover)
    int hoverRow = -1, hoverCol = -1; // last cell reported by cellHovered

    bool hasMap() const
    {
        return map.rows > 0 && map.cols > 0 && map.values.size() == static_cast<std::size_t>(map.rows) * map.cols;
    }
    bool logScale() const { return !map.isSigned && options.scale == ColorScaleType::Log; }

    void setup();
    void applyTheme();
    void applyColors();
    void fillData();
    void updateTickers();
    void setKeyLabelRotation(bool rotate);
    void checkKeyLabelFit();
    void resetView();
    void updateCrosshair();
    void setHover(int row, int col);
    void hoverAt(const QPointF& pos);
    void emitView();
    void clampView();
    void updateTitle();
    void keepSquareish();
    /// Ticks of the colour bar for its current width; `force` rebuilds them even if the width class is unchanged.
    void updateColorTicks(bool force);
    int colorTickClass = -1; // 0: ends only, 1: ends and middle

    bool eventFilter(QObject* watched, QEvent* event) override
    {
        if (watched == plot && event->type() == QEvent::Leave)
            setHover(-1, -1);
        return QObject::eventFilter(watched, event);
    }
};

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
    } else if (map.rangeExcludesFirstKey) {
        range = attn::app::colorRange(withoutFirstColumn(map.values, map.rows, map.cols), map.isSigned, options);
    } else {
        range = attn::app::colorRange(map.values, map.isSigned, options);
    }
    appliedRange = range;

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

void HeatmapPanel::Private::updateTickers()
{
    auto displayed = [](const QStringList& tokens) {
        QStringList out;
        out.reserve(tokens.size());
        for (const QString& token : tokens)
            out.append(displayToken(token));
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
    plot->xAxis->setTickLabelRotation(rotate ? kKeyLabelRotation : 0.0);
    // Parallel rotated labels clear each other when their horizontal distance times sin(angle) is at least a line
    // height; horizontal ones need their full width.
    const QFontMetrics metrics(plot->xAxis->tickLabelFont());
    const double sine = std::abs(std::sin(qDegreesToRadians(kKeyLabelRotation)));
    keyTicker->setSpacing(rotate ? metrics.height() / sine + 1.0 : widestKeyLabel);
}

void HeatmapPanel::Private::checkKeyLabelFit()
{
    // Long prompts always rotate; short ones also rotate when the widest label is wider than a cell, which
    // otherwise thins a 12-token axis down to two labels. Decided on the full map, not the zoomed range, so
    // the labels do not flip orientation while the user zooms.
    const int width = plot->axisRect()->width();
    bool rotate = map.cols > kRotateKeyLabelsAbove;
    if (!rotate && width > 0 && map.cols > 0)
        rotate = width / static_cast<double>(map.cols) < widestKeyLabel;
    if (rotate == keyLabelsRotated)
        return;
    setKeyLabelRotation(rotate);
    plot->replot(QCustomPlot::rpQueuedReplot); // margins change with the rotation
}

void HeatmapPanel::Private::resetView()
{
    applyingView = true;
    plot->xAxis->setRange(-0.5, std::max(1, map.cols) - 0.5);
    plot->yAxis->setRange(-0.5, std::max(1, map.rows) - 0.5);
    applyingView = false;
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
    d->options = options;
    d->applyColors();
    d->fillData(); // the log floor used for non-positive cells depends on the range
    d->plot->replot(QCustomPlot::rpQueuedReplot);
}

void HeatmapPanel::setSharedRange(double low, double high)
{
    d->sharedRange = std::make_pair(low, high);
    if (!d->options.sharedRange)
        return;
    d->applyColors();
    d->fillData();
    d->plot->replot(QCustomPlot::rpQueuedReplot);
}

void HeatmapPanel::setCrosshair(int row, int col)
{
    if (row == d->crossRow && col == d->crossCol)
        return;
    d->crossRow = row;
    d->crossCol = col;
    d->updateCrosshair();
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

bool HeatmapPanel::eventFilter(QObject* watched, QEvent* event)
{
    if (watched == d->plot && event->type() == QEvent::MouseButtonDblClick) {
        resetView();
        return true;
    }
    return QWidget::eventFilter(watched, event);
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
