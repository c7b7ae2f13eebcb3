// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "attnscope/maps.h"

#include <QImage>
#include <QString>
#include <QWidget>

#include <limits>
#include <utility>
#include <vector>

namespace attn::app {

/** @brief One thumbnail of the overview: a head's map (already pooled by the caller) and its summary metric. */
struct OverviewCell {
    int layer = 0;
    int head = 0;
    attn::AttentionMap map; ///< already pooled, square; NaN where masked
    double metric = std::numeric_limits<double>::quiet_NaN(); ///< NaN: no frame
};

/**
 * @brief Every layer x head as a small heatmap at once (rows = layers from the top, columns = heads), so
 * odd heads stand out before one is opened in full. Paints plain QImages (one per thumbnail, coloured with
 * a QCPColorGradient) instead of a QCustomPlot per cell: dozens of plots would cost far more to lay out and
 * replot than the few kilobytes of pixels they show. All thumbnails share one colour range so heads compare;
 * a 3-px frame shows the metric on its own sequential scale.
 */
class OverviewGrid : public QWidget {
    Q_OBJECT
public:
    explicit OverviewGrid(QWidget* parent = nullptr);
    ~OverviewGrid() override;

    /// Replaces the grid. Cells outside layers x heads are ignored; missing heads draw as empty slots.
    void setCells(int layers, int heads, std::vector<OverviewCell> cells, bool isSigned, const QString& kindName,
        const QString& metricName);
    /// Outlines a head (-1, -1 for none). Does not emit headActivated: the caller already knows.
    void setSelected(int layer, int head);
    int selectedLayer() const { return m_selectedLayer; }
    int selectedHead() const { return m_selectedHead; }

    QSize sizeHint() const override;
    QSize minimumSizeHint() const override;
    /// Where a head's map is drawn (the frame lies outside it); empty for a head outside the grid.
    QRect thumbnailRect(int layer, int head) const;
    /// "layer L, head H: metric = value" for the thumbnail under pos, empty elsewhere.
    QString toolTipAt(const QPoint& pos) const;
    /// The colour range shared by all thumbnails: [min(0, lo), max] for sequential maps, [-m, m] for signed.
    std::pair<double, double> colorRange() const { return m_range; }
    /// What the colours mean: the thumbnails' shared range and the frame metric's low/high colours (rich text).
    QString legendHtml() const;

Q_SIGNALS:
    /// The user clicked a thumbnail.
    void headActivated(int layer, int head);

protected:
    bool event(QEvent* event) override;
    void paintEvent(QPaintEvent* event) override;
    void mousePressEvent(QMouseEvent* event) override;
    void mouseReleaseEvent(QMouseEvent* event) override;
    void changeEvent(QEvent* event) override;

private:
    struct Layout {
        int left = 0; ///< x of the first column's slot
        int top = 0; ///< y of the first row's slot
        int thumb = 0; ///< thumbnail side in pixels
        int pitch = 0; ///< slot size: thumbnail + frames + gap
    };
    Layout layout() const;
    int labelWidth() const;
    int labelHeight() const;
    /// Index into m_slots of the thumbnail (frame included) under pos, or -1.
    int slotAt(const QPoint& pos) const;
    void rebuildImages();

    int m_layers = 0;
    int m_heads = 0;
    bool m_isSigned = false;
    QString m_kindName;
    QString m_metricName;
    std::vector<OverviewCell> m_cells;
    std::vector<int> m_slots; ///< layer * heads + head -> index into m_cells, -1 if that head has no cell
    std::vector<QImage> m_images; ///< parallel to m_cells
    std::pair<double, double> m_range {0.0, 1.0};
    std::pair<double, double> m_metricRange {0.0, 1.0};
    int m_selectedLayer = -1;
    int m_selectedHead = -1;
    int m_pressedSlot = -1; ///< a click is a press and a release on the same thumbnail
};

} // namespace attn::app
