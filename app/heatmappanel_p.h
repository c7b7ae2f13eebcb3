// SPDX-License-Identifier: GPL-3.0-or-later
// HeatmapPanel's private state, shared by its translation units: heatmappanel.cpp (construction, colours, data),
// heatmappanel_labels.cpp (axis labels, title and tooltip), heatmappanel_view.cpp (zoom, pan, aspect) and
// heatmappanel_hover.cpp (cross-hair and hover).
#pragma once

#include "heatmappanel.h"
#include "heatmapticks.h"

#include <QEvent>

#include <optional>
#include <utility>

namespace attn::app {

using panel::RangeEndsTicker;
using panel::TokenTicker;

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
    bool appliedRangeIsShared = false; ///< appliedRange is sharedRange (so an equal shared range needs no refill)
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

} // namespace attn::app
