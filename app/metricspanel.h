// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "engine.h"

#include <QWidget>

class QLabel;
class QSortFilterProxyModel;
class QTableView;

namespace attn::app {
class HeadMetricsModel;
}

namespace attn::app {

/**
 * @brief The noise metrics of every layer x head as a sortable table, plus the marked span's attention
 * (to span vs noise, the DIFF paper's Table 3 protocol) per head and averaged over heads and layers.
 */
class MetricsPanel : public QWidget {
    Q_OBJECT
public:
    explicit MetricsPanel(QWidget* parent = nullptr);
    void setResults(const RunOutput& output, const QString& spanDescription);
    /// The summary line ("to span 0.31 · noise 0.02 …"), for tests and export.
    QString summary() const;
    /// The table's rows in run order (HeadMetricsModel::ValueRole holds each cell's number).
    HeadMetricsModel* model() const { return m_model; }

Q_SIGNALS:
    /// A row was double-clicked: show that head.
    void headActivated(int layer, int head);

private:
    HeadMetricsModel* m_model = nullptr;
    QSortFilterProxyModel* m_proxy = nullptr;
    QTableView* m_table = nullptr;
    QLabel* m_summary = nullptr;
};

} // namespace attn::app
