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
 * @brief Several models on the same prompt, layer and head: one panel per model, a model-minus-model
 * difference map (diverging) when their tokens agree, synced cross-hair and zoom, and the head's metrics with
 * deltas against the first model.
 */
class CompareView : public QWidget {
    Q_OBJECT
public:
    explicit CompareView(QWidget* parent = nullptr);
    CompareKind kind() const;
    void setResults(const CompareOutput& output, const std::map<int, ModelInfo>& models);
    const std::vector<HeatmapPanel*>& panels() const { return m_panels; }
    QTableWidget* metricsTable() const { return m_table; }

Q_SIGNALS:
    /// The user picked another map kind: the owner re-runs the comparison.
    void kindChanged();

private:
    void clearPanels();
    HeatmapPanel* addPanel();
    QComboBox* m_kind = nullptr;
    QLabel* m_note = nullptr;
    QGridLayout* m_grid = nullptr;
    QTableWidget* m_table = nullptr;
    std::vector<HeatmapPanel*> m_panels;
};

} // namespace attn::app
