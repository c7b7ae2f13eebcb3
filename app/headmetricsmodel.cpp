// SPDX-License-Identifier: GPL-3.0-or-later
#include "headmetricsmodel.h"

#include <cmath>

namespace attn::app {

namespace {

int decimalsOf(int column)
{
    switch (column) {
    case HeadMetricsModel::Layer:
    case HeadMetricsModel::Head:
        return 0;
    case HeadMetricsModel::Distance:
    case HeadMetricsModel::GateSum:
        return 2;
    default:
        return 4;
    }
}

} // namespace

HeadMetricsModel::HeadMetricsModel(QObject* parent)
    : QAbstractTableModel(parent)
    , m_titles {tr("layer"), tr("head"), tr("entropy"), tr("sink"), tr("max"), tr("distance"), tr("neg. mass"), tr("λ"),
          tr("mean gate"), tr("gate row-sum"), tr("to span"), tr("noise")}
    , m_tips {QString(), QString(), tr("mean row entropy of |w| (nats)"),
          tr("mean attention on the first token (rows ≥ 1)"), tr("mean row maximum"),
          tr("mean attention distance (tokens)"), tr("DIFF: mean negative mass per row of D/(1 − λ)"),
          tr("DIFF: λ of the layer"), tr("CoPE: mean gate"),
          tr("CoPE: mean row sum of the gates (what the head counts)"), tr("attention on the marked span (Table 3)"),
          tr("attention on the context outside the span, first token and question (Table 3)")}
{
}

void HeadMetricsModel::setRows(std::vector<Row> rows)
{
    beginResetModel();
    m_rows = std::move(rows);
    endResetModel();
}

int HeadMetricsModel::rowCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : static_cast<int>(m_rows.size());
}

int HeadMetricsModel::columnCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : Count;
}

QVariant HeadMetricsModel::data(const QModelIndex& index, int role) const
{
    if (!index.isValid() || index.row() >= rowCount() || index.column() >= Count)
        return {};
    const double value = m_rows[static_cast<size_t>(index.row())][static_cast<size_t>(index.column())];
    switch (role) {
    case Qt::DisplayRole:
        return std::isnan(value) ? QStringLiteral("–") : QString::number(value, 'f', decimalsOf(index.column()));
    case ValueRole:
        return std::isnan(value) ? -1e300 : value; // sort by the number; not applicable sorts last
    case Qt::TextAlignmentRole:
        return QVariant::fromValue(Qt::Alignment(Qt::AlignRight | Qt::AlignVCenter));
    default:
        return {};
    }
}

QVariant HeadMetricsModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || section < 0 || section >= Count)
        return QAbstractTableModel::headerData(section, orientation, role);
    if (role == Qt::DisplayRole)
        return m_titles[section];
    if (role == Qt::ToolTipRole && !m_tips[section].isEmpty())
        return m_tips[section];
    return {};
}

} // namespace attn::app
