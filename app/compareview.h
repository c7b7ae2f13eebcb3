// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "engine.h"

#include <QWidget>

#include <map>
#include <vector>

class QComboBox;
class QGridLayout;
class QLabel;
class QTableWidget;

namespace attn::app {

class HeatmapPanel;

/**
 * @brief Two models chosen by the user on the same prompt, layer and head: one panel each, a model-minus-model
 * difference map (diverging) when their tokens agree, synced cross-hair and zoom with a read-out of all three at
 * the hovered cell, and the head's metrics with the change from the first model to the second.
 */
class CompareView : public QWidget {
    Q_OBJECT
public:
    explicit CompareView(QWidget* parent = nullptr);
    CompareKind kind() const;
    /// The map kind when kind() is CompareKind::Exact.
    MapKind exactKind() const;
    /// Selects a kind: a family (Attention, Gates, Positions) or CompareKind::Exact with the map kind.
    void setKind(CompareKind kind, MapKind exact = MapKind::A);
    /// The loaded models, in the order they were opened. A new model list keeps the user's choice where it can;
    /// otherwise the two most recently opened are compared.
    void setModels(const std::map<int, ModelInfo>& models, const std::vector<int>& openOrder);
    /// The two models to compare (one, or none, when fewer are loaded), first = the reference of the deltas.
    std::vector<int> selectedModels() const;
    void selectModels(int first, int second);
    void setResults(const CompareOutput& output, const std::map<int, ModelInfo>& models);
    const std::vector<HeatmapPanel*>& panels() const { return m_panels; }
    QTableWidget* metricsTable() const { return m_table; }
    /// The widget holding the comparison's panels (what an image export of this tab shows).
    QWidget* panelsWidget() const { return m_panelsWidget; }
    void resetZoom();

Q_SIGNALS:
    /// The user picked another kind or other models: the owner re-runs the comparison.
    void kindChanged();

protected:
    void resizeEvent(QResizeEvent* event) override;

private:
    /// Caps the panels' height at what their near-square maps use, so the table sits right below them and the spare
    /// height goes below the table (a tall row of three panels left an empty band between maps and table).
    void fitPanelsHeight();
    void clearPanels();
    HeatmapPanel* addPanel();
    void onHover(int row, int col);
    QComboBox* m_kind = nullptr;
    QComboBox* m_first = nullptr;
    QComboBox* m_second = nullptr;
    QLabel* m_heading = nullptr;
    /// Which model is A and which B, above the panels and inside the exported widget (panel titles use the letters).
    QLabel* m_legend = nullptr;
    QLabel* m_note = nullptr;
    QLabel* m_readout = nullptr;
    QWidget* m_panelsWidget = nullptr;
    QGridLayout* m_grid = nullptr;
    QTableWidget* m_table = nullptr;
    std::vector<HeatmapPanel*> m_panels;
    QStringList m_tokens; ///< token labels of the shown maps, for the read-out
    bool m_settingModels = false;
    std::vector<int> m_openOrder; ///< the models the combo boxes list
};

} // namespace attn::app
