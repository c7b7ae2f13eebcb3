// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "mapmath.h"

#include <QRectF>
#include <QStringList>
#include <QWidget>

#include <memory>
#include <vector>

class QCustomPlot;
class QCPColorMap;
class QCPRange;

namespace attn::app {

/** @brief The data one panel shows: a rows x cols map (row = query), NaN where masked. */
struct PanelMap {
    QString title; ///< one short line, e.g. "D" (elided to the panel; only the first line of several is shown)
    QString details; ///< tooltip lines under the title: the formula, layer and head, pooling, warnings
    QString kind; ///< map kind name, e.g. "D"
    int rows = 0;
    int cols = 0;
    std::vector<float> values; ///< row-major, size rows*cols
    bool isSigned = false; ///< diverging scale centred on 0
    QStringList tokens; ///< axis labels, one per row (and per column unless keyTokens is set)
    QStringList keyTokens; ///< column labels when they differ from the rows' (a window of the map)
    /// The colour range ignores key column 0 (the <bos> sink), whose few bright cells would otherwise wash the rest
    /// of a long prompt's overview out; those cells then show saturated. Said in the title by the caller.
    bool rangeExcludesFirstKey = false;
};

/**
 * @brief One heatmap (QCustomPlot colour map + colour scale), query tokens down the vertical axis (first
 * token at the top, done by filling rows in reverse), key tokens along the horizontal axis with labels that
 * thin out on zoom. Emits hover and view-range changes so a parent can sync panels.
 */
class HeatmapPanel : public QWidget {
    Q_OBJECT
public:
    explicit HeatmapPanel(QWidget* parent = nullptr);
    ~HeatmapPanel() override;

    /// keepView: keep the zoom when the new map has the same size (a head or layer switch on the same prompt).
    void setMap(const PanelMap& map, bool keepView = false);
    /// Shows the whole map again (double-click does the same) and emits viewChanged so synced panels follow.
    void resetView();
    /// Visible ranges in token coordinates: x = keys, y = query rows (row 0 = first token).
    QRectF viewRange() const;
    const PanelMap& map() const;
    void setColorOptions(const ColorOptions& options);
    /// Range shared by several panels (used when ColorOptions::sharedRange is on); ignored otherwise.
    void setSharedRange(double low, double high);
    /// Draws the cross-hair at a cell (row, col in token indices); -1 hides it. Repaints only the overlay layer.
    void setCrosshair(int row, int col);
    /// Shows the key/query ranges in token coordinates (for synced zoom/pan); does not re-emit viewChanged.
    void setView(double keyLow, double keyHigh, double queryLow, double queryHigh);
    /// The plot, for export (savePng/savePdf/toPainter).
    QCustomPlot* plot() const;
    /// The colour range currently applied (after percentile clamp / symmetrisation).
    std::pair<double, double> colorRange() const;

Q_SIGNALS:
    /// Token indices under the mouse; (-1, -1) when the mouse leaves or is over a masked/outside cell.
    void cellHovered(int row, int col);
    /// The user zoomed or panned: the visible key and query ranges in token coordinates.
    void viewChanged(double keyLow, double keyHigh, double queryLow, double queryHigh);

protected:
    void changeEvent(QEvent* event) override;
    bool eventFilter(QObject* watched, QEvent* event) override;
    void resizeEvent(QResizeEvent* event) override;

private:
    struct Private;
    std::unique_ptr<Private> d;
};

} // namespace attn::app
