// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "attnscope/metrics.h"

#include <QAbstractTableModel>
#include <QStringList>

#include <array>
#include <vector>

namespace attn::app {

/**
 * @brief Every layer x head's metrics as a read-only table model. One reset per run, never one signal per row: a
 * 32 x 32 model has 1024 rows, and a QStandardItemModel filled row by row (12k items, a resort and a column fit per
 * row) held the UI thread for ~70 ms.
 */
class HeadMetricsModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { Layer, Head, Entropy, Sink, Max, Distance, Negative, Lambda, Gate, GateSum, ToSpan, Noise, Count };
    /// One head's numbers in column order; NaN = not applicable (shown as "–", sorted last).
    using Row = std::array<double, Count>;
    /// The number behind a cell, for sorting and tests (Qt::DisplayRole is its text).
    static constexpr int ValueRole = Qt::UserRole;

    explicit HeadMetricsModel(QObject* parent = nullptr);
    void setRows(std::vector<Row> rows);

    int rowCount(const QModelIndex& parent = QModelIndex()) const override;
    int columnCount(const QModelIndex& parent = QModelIndex()) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

private:
    std::vector<Row> m_rows;
    QStringList m_titles;
    QStringList m_tips;
};

} // namespace attn::app
