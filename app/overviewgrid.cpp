// SPDX-License-Identifier: GPL-3.0-or-later
#include "overviewgrid.h"

#include "gradients.h"

// qcustomplot.h needs Qt keywords (`signals:`, `foreach`); see heatmappanel.cpp.
#if defined(QT_NO_KEYWORDS)
#error "overviewgrid.cpp includes qcustomplot.h, which needs Qt keywords: do not define QT_NO_KEYWORDS for this target"
#endif
#include <qcustomplot.h>

#include <QEvent>
#include <QFontMetrics>
#include <QHelpEvent>
#include <QMouseEvent>
#include <QPainter>
#include <QToolTip>

#include <algorithm>
#include <cmath>
#include <limits>

namespace attn::app {

namespace {

constexpr int kThumbHint = 64; // preferred thumbnail side
constexpr int kMinThumb = 12; // below this a map is unreadable; the grid overflows instead of shrinking
constexpr int kFrame = 3; // metric frame width
constexpr int kGap = 6; // between framed thumbnails; the selection ring lives inside it
constexpr int kRing = 3; // selection ring, fits in the gap
constexpr int kMargin = 4;

// Same stops as the panels' defaults (heatmappanel.cpp) so a thumbnail and its opened panel look alike:
// matplotlib viridis at 1/8 steps, ColorBrewer RdBu ends around white.
QCPColorGradient mapGradient(bool isSigned)
{
    return makeGradient(isSigned ? GradientChoice::BlueWhiteRed : GradientChoice::Viridis);
}

// ColorBrewer YlOrRd without its palest stop (invisible on a light window): a different hue family from viridis and
// RdBu, so a frame never reads as map data.
QCPColorGradient metricGradient()
{
    return gradientFromStops({"#fed976", "#feb24c", "#fd8d3c", "#e31a1c", "#800026"});
}

bool hasValues(const AttentionMap& map)
{
    return map.rows > 0 && map.cols > 0
        && map.values.size() == static_cast<std::size_t>(map.rows) * static_cast<std::size_t>(map.cols);
}

} // namespace

OverviewGrid::OverviewGrid(QWidget* parent)
    : QWidget(parent)
{
    setSizePolicy(QSizePolicy::Preferred, QSizePolicy::Preferred);
}

OverviewGrid::~OverviewGrid() = default;

void OverviewGrid::setCells(int layers, int heads, std::vector<OverviewCell> cells, bool isSigned,
    const QString& kindName, const QString& metricName)
{
    m_layers = std::max(0, layers);
    m_heads = std::max(0, heads);
    m_isSigned = isSigned;
    m_kindName = kindName;
    m_metricName = metricName;
    m_cells = std::move(cells);
    m_slots.assign(static_cast<std::size_t>(m_layers) * m_heads, -1);
    for (std::size_t i = 0; i < m_cells.size(); ++i) {
        const OverviewCell& cell = m_cells[i];
        if (cell.layer >= 0 && cell.layer < m_layers && cell.head >= 0 && cell.head < m_heads)
            m_slots[static_cast<std::size_t>(cell.layer) * m_heads + cell.head] = static_cast<int>(i);
    }

    // One range over every thumbnail: per-thumbnail ranges would make a near-uniform head look as
    // contrasted as a sharp one, which is exactly what the overview is meant to tell apart.
    double lo = 0.0, hi = 0.0, magnitude = 0.0;
    double metricLo = std::numeric_limits<double>::infinity(), metricHi = -metricLo;
    for (const OverviewCell& cell : m_cells) {
        // Key column 0 holds the <bos> attention sink: its few large cells would set the range and leave every
        // other cell near zero (blank thumbnails), so the range ignores it and those cells show saturated.
        for (std::size_t i = 0; i < cell.map.values.size(); ++i) {
            const float v = cell.map.values[i];
            if (!std::isfinite(v) || (cell.map.cols > 1 && i % static_cast<std::size_t>(cell.map.cols) == 0))
                continue;
            lo = std::min(lo, double(v));
            hi = std::max(hi, double(v));
            magnitude = std::max(magnitude, std::abs(double(v)));
        }
        if (std::isfinite(cell.metric)) {
            metricLo = std::min(metricLo, cell.metric);
            metricHi = std::max(metricHi, cell.metric);
        }
    }
    if (isSigned)
        m_range = magnitude > 0.0 ? std::make_pair(-magnitude, magnitude) : std::make_pair(-1.0, 1.0);
    else
        m_range = hi > lo ? std::make_pair(lo, hi) : std::make_pair(lo, lo + 1.0);
    m_metricRange = metricLo <= metricHi ? std::make_pair(metricLo, metricHi) : std::make_pair(0.0, 1.0);

    rebuildImages();
    updateGeometry();
    update();
}

void OverviewGrid::setSelected(int layer, int head)
{
    if (layer == m_selectedLayer && head == m_selectedHead)
        return;
    m_selectedLayer = layer;
    m_selectedHead = head;
    update();
}

void OverviewGrid::rebuildImages()
{
    QCPColorGradient gradient = mapGradient(m_isSigned);
    const QCPRange range(m_range.first, m_range.second);
    // The masked grey follows the palette, so this runs again on PaletteChange.
    gradient.setNanColor(maskedColor(gradient, range, /*logarithmic=*/false, palette()));

    m_images.assign(m_cells.size(), QImage());
    std::vector<double> row;
    for (std::size_t i = 0; i < m_cells.size(); ++i) {
        const AttentionMap& map = m_cells[i].map;
        if (!hasValues(map))
            continue;
        const int rows = static_cast<int>(map.rows);
        const int cols = static_cast<int>(map.cols);
        QImage image(cols, rows, QImage::Format_ARGB32_Premultiplied);
        row.resize(static_cast<std::size_t>(cols));
        for (int r = 0; r < rows; ++r) {
            for (int c = 0; c < cols; ++c) {
                const float v = map.at(r, c);
                // colorize casts to int: infinities (masked logits) must arrive as NaN.
                row[static_cast<std::size_t>(c)] = std::isfinite(v) ? v : std::numeric_limits<double>::quiet_NaN();
            }
            // Query row 0 is the image's top line, as in the panels.
            gradient.colorize(row.data(), range, reinterpret_cast<QRgb*>(image.scanLine(r)), cols);
        }
        m_images[i] = std::move(image);
    }
}

QString OverviewGrid::legendHtml() const
{
    if (m_cells.empty())
        return QString();
    auto swatch
        = [](QRgb rgb) { return QStringLiteral("<span style=\"color:%1\">■</span>").arg(QColor::fromRgb(rgb).name()); };
    QString text = tr("Thumbnails: %1, one colour range [%2, %3] for all, key column 0 (&lt;bos&gt;) left out of it.")
                       .arg(m_kindName)
                       .arg(m_range.first, 0, 'g', 3)
                       .arg(m_range.second, 0, 'g', 3);
    const bool framed = std::any_of(
        m_cells.begin(), m_cells.end(), [](const OverviewCell& cell) { return std::isfinite(cell.metric); });
    if (framed) {
        QCPColorGradient frame = metricGradient(); // color() is not const in QCP 2.1
        const QCPRange range(m_metricRange.first, std::max(m_metricRange.second, m_metricRange.first + 1e-12));
        text += tr("<br>Frame: %1 %2 %3 (low) … %4 %5 (high)")
                    .arg(m_metricName.toHtmlEscaped(), swatch(frame.color(range.lower, range)))
                    .arg(m_metricRange.first, 0, 'g', 3)
                    .arg(swatch(frame.color(range.upper, range)))
                    .arg(m_metricRange.second, 0, 'g', 3);
    } else {
        text += tr("<br>No frames: %1 is not available for this run.").arg(m_metricName.toHtmlEscaped());
    }
    return text;
}

int OverviewGrid::labelWidth() const
{
    const QFontMetrics metrics(font());
    const QString widest = QStringLiteral("L%1").arg(std::max(0, m_layers - 1));
    return std::max(metrics.horizontalAdvance(widest), metrics.horizontalAdvance(m_kindName.left(3))) + 2 * kMargin;
}

int OverviewGrid::labelHeight() const
{
    return QFontMetrics(font()).height() + kMargin;
}

OverviewGrid::Layout OverviewGrid::layout() const
{
    Layout result;
    result.left = labelWidth();
    result.top = labelHeight();
    if (m_layers == 0 || m_heads == 0)
        return result;
    const int extra = 2 * kFrame + kGap;
    const int byWidth = (width() - result.left - kMargin) / m_heads - extra;
    const int byHeight = (height() - result.top - kMargin) / m_layers - extra;
    result.thumb = std::max(kMinThumb, std::min(byWidth, byHeight));
    result.pitch = result.thumb + extra;
    return result;
}

QSize OverviewGrid::sizeHint() const
{
    const int pitch = kThumbHint + 2 * kFrame + kGap;
    return QSize(
        labelWidth() + std::max(1, m_heads) * pitch + kMargin, labelHeight() + std::max(1, m_layers) * pitch + kMargin);
}

QSize OverviewGrid::minimumSizeHint() const
{
    const int pitch = kMinThumb + 2 * kFrame + kGap;
    return QSize(
        labelWidth() + std::max(1, m_heads) * pitch + kMargin, labelHeight() + std::max(1, m_layers) * pitch + kMargin);
}

QRect OverviewGrid::thumbnailRect(int layer, int head) const
{
    if (layer < 0 || layer >= m_layers || head < 0 || head >= m_heads)
        return {};
    const Layout l = layout();
    const int offset = kGap / 2 + kFrame;
    return QRect(l.left + head * l.pitch + offset, l.top + layer * l.pitch + offset, l.thumb, l.thumb);
}

int OverviewGrid::slotAt(const QPoint& pos) const
{
    const Layout l = layout();
    if (l.pitch <= 0 || pos.x() < l.left || pos.y() < l.top)
        return -1;
    const int head = (pos.x() - l.left) / l.pitch;
    const int layer = (pos.y() - l.top) / l.pitch;
    if (layer >= m_layers || head >= m_heads)
        return -1;
    // The gap between thumbnails belongs to none of them.
    if (!thumbnailRect(layer, head).adjusted(-kFrame, -kFrame, kFrame, kFrame).contains(pos))
        return -1;
    return layer * m_heads + head;
}

QString OverviewGrid::toolTipAt(const QPoint& pos) const
{
    const int slot = slotAt(pos);
    if (slot < 0)
        return {};
    const int layer = slot / m_heads;
    const int head = slot % m_heads;
    QString text = QStringLiteral("layer %1, head %2").arg(layer).arg(head);
    const int index = m_slots[static_cast<std::size_t>(slot)];
    if (index < 0)
        return text + QStringLiteral(": no map");
    if (m_metricName.isEmpty())
        return text;
    const double metric = m_cells[static_cast<std::size_t>(index)].metric;
    const QString value = std::isfinite(metric) ? QString::number(metric, 'g', 4) : QStringLiteral("n/a");
    return text + QStringLiteral(": %1 = %2").arg(m_metricName, value);
}

bool OverviewGrid::event(QEvent* event)
{
    if (event->type() == QEvent::ToolTip) {
        auto* help = static_cast<QHelpEvent*>(event);
        const QString text = toolTipAt(help->pos());
        if (text.isEmpty()) {
            QToolTip::hideText();
            event->ignore();
        } else {
            const int slot = slotAt(help->pos());
            // Passing the thumbnail's rect makes Qt hide the tip as soon as the mouse leaves that head.
            const QRect area = thumbnailRect(slot / m_heads, slot % m_heads).adjusted(-kFrame, -kFrame, kFrame, kFrame);
            QToolTip::showText(help->globalPos(), text, this, area);
        }
        return true;
    }
    return QWidget::event(event);
}

void OverviewGrid::paintEvent(QPaintEvent*)
{
    QPainter painter(this);
    // Nearest-neighbour scaling: each pooled cell stays a crisp block, like the panels' non-interpolated maps.
    painter.setRenderHint(QPainter::SmoothPixmapTransform, false);
    const QPalette pal = palette();
    painter.fillRect(rect(), pal.window());
    if (m_layers == 0 || m_heads == 0)
        return;

    const Layout l = layout();
    painter.setPen(pal.color(QPalette::WindowText));
    const QFontMetrics metrics(font());
    painter.drawText(
        QRect(0, 0, l.left, l.top), Qt::AlignCenter, metrics.elidedText(m_kindName, Qt::ElideRight, l.left - kMargin));
    for (int head = 0; head < m_heads; ++head) {
        const QRect thumb = thumbnailRect(0, head);
        painter.drawText(QRect(thumb.left(), 0, thumb.width(), l.top), Qt::AlignHCenter | Qt::AlignBottom,
            QStringLiteral("H%1").arg(head));
    }
    for (int layer = 0; layer < m_layers; ++layer) {
        const QRect thumb = thumbnailRect(layer, 0);
        painter.drawText(QRect(0, thumb.top(), l.left - kMargin, thumb.height()), Qt::AlignRight | Qt::AlignVCenter,
            QStringLiteral("L%1").arg(layer));
    }

    QCPColorGradient frameGradient = metricGradient();
    const QCPRange metricRange(m_metricRange.first, m_metricRange.second);
    QColor emptySlot = pal.color(QPalette::WindowText);
    emptySlot.setAlpha(60);
    for (int layer = 0; layer < m_layers; ++layer) {
        for (int head = 0; head < m_heads; ++head) {
            const QRect thumb = thumbnailRect(layer, head);
            const QRect framed = thumb.adjusted(-kFrame, -kFrame, kFrame, kFrame);
            if (layer == m_selectedLayer && head == m_selectedHead)
                painter.fillRect(framed.adjusted(-kRing, -kRing, kRing, kRing), pal.color(QPalette::Highlight));
            painter.fillRect(framed, pal.window());
            const int index = m_slots[static_cast<std::size_t>(layer) * m_heads + head];
            const QImage* image = index >= 0 ? &m_images[static_cast<std::size_t>(index)] : nullptr;
            if (!image || image->isNull()) {
                painter.setPen(QPen(emptySlot, 1, Qt::DashLine));
                painter.drawRect(thumb.adjusted(0, 0, -1, -1));
                continue;
            }
            const double metric = m_cells[static_cast<std::size_t>(index)].metric;
            if (std::isfinite(metric)) {
                // All metrics equal: no spread to show, so every frame takes the middle of the scale.
                const QCPRange frameRange
                    = metricRange.size() > 0.0 ? metricRange : QCPRange(metric - 1.0, metric + 1.0);
                painter.fillRect(framed, QColor::fromRgba(frameGradient.color(metric, frameRange)));
            }
            painter.drawImage(thumb, *image);
        }
    }
}

void OverviewGrid::mousePressEvent(QMouseEvent* event)
{
    m_pressedSlot = event->button() == Qt::LeftButton ? slotAt(event->position().toPoint()) : -1;
    event->accept(); // keep the release coming here
}

void OverviewGrid::mouseReleaseEvent(QMouseEvent* event)
{
    const int slot = event->button() == Qt::LeftButton ? slotAt(event->position().toPoint()) : -1;
    const bool clicked = slot >= 0 && slot == m_pressedSlot;
    m_pressedSlot = -1;
    if (clicked) {
        const int layer = slot / m_heads;
        const int head = slot % m_heads;
        setSelected(layer, head);
        Q_EMIT headActivated(layer, head);
    }
    event->accept();
}

void OverviewGrid::changeEvent(QEvent* event)
{
    if (event->type() == QEvent::PaletteChange) {
        rebuildImages();
        update();
    } else if (event->type() == QEvent::FontChange) {
        updateGeometry(); // label sizes changed
    }
    QWidget::changeEvent(event);
}

} // namespace attn::app
