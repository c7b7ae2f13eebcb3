// SPDX-License-Identifier: GPL-3.0-or-later
#include "metricspanel.h"
#include "headmetricsmodel.h"

#include <QHeaderView>
#include <QLabel>
#include <QSortFilterProxyModel>
#include <QTableView>
#include <QVBoxLayout>

#include <cmath>
#include <map>

namespace attn::app {

MetricsPanel::MetricsPanel(QWidget* parent)
    : QWidget(parent)
    , m_model(new HeadMetricsModel(this))
    , m_proxy(new QSortFilterProxyModel(this))
{
    m_proxy->setSourceModel(m_model);
    m_proxy->setSortRole(HeadMetricsModel::ValueRole);
    m_table = new QTableView(this);
    m_table->setModel(m_proxy);
    m_table->setSortingEnabled(true);
    m_table->sortByColumn(
        HeadMetricsModel::Layer, Qt::AscendingOrder); // layer 0 first; QTableView starts descending otherwise
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->verticalHeader()->setVisible(false);
    m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    // Fixed-decimal numbers: a few rows tell a column's width (measuring all 1024 rows took tens of ms per run).
    m_table->horizontalHeader()->setResizeContentsPrecision(64);
    m_summary = new QLabel(tr("Run a prompt to see the metrics of every head. Select tokens in the token strip to "
                              "mark the relevant span."),
        this);
    m_summary->setWordWrap(true);
    QSizePolicy wrapping(QSizePolicy::Ignored, QSizePolicy::Preferred); // a long span never widens the window
    wrapping.setHeightForWidth(true);
    m_summary->setSizePolicy(wrapping);
    m_summary->setObjectName(QStringLiteral("metricsSummary"));
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_summary);
    layout->addWidget(m_table, 1);
    connect(m_table, &QTableView::doubleClicked, this, [this](const QModelIndex& index) {
        const QModelIndex source = m_proxy->mapToSource(index);
        Q_EMIT headActivated(
            m_model->index(source.row(), HeadMetricsModel::Layer).data(HeadMetricsModel::ValueRole).toInt(),
            m_model->index(source.row(), HeadMetricsModel::Head).data(HeadMetricsModel::ValueRole).toInt());
    });
}

void MetricsPanel::setResults(const RunOutput& output, const QString& spanDescription)
{
    std::map<std::pair<int64_t, int64_t>, SpanAttention> spans;
    for (const HeadSpan& s : output.spans)
        spans[{s.layer, s.head}] = s.span;
    std::vector<HeadMetricsModel::Row> rows;
    rows.reserve(output.metrics.size());
    for (const HeadMetrics& m : output.metrics) {
        const auto span = spans.find({m.layer, m.head});
        const double toSpan = span == spans.end() ? kNoMetric : span->second.toSpan;
        const double noise = span == spans.end() ? kNoMetric : span->second.noise;
        rows.push_back({static_cast<double>(m.layer), static_cast<double>(m.head), m.entropy, m.sinkMass, m.maxWeight,
            m.meanDistance, m.negativeMass, m.lambda, m.meanGate, m.gateRowSum, toSpan, noise});
    }
    m_model->setRows(std::move(rows));
    // λ > 1 makes 1 − λ negative: D/(1 − λ), which the span numbers use, has the opposite sign of D there.
    QStringList flipped;
    for (const HeadMetrics& m : output.metrics)
        if (m.head == 0 && m.lambda > 1.0)
            flipped << QStringLiteral("L%1 (λ = %2)").arg(m.layer).arg(m.lambda, 0, 'f', 2);
    const QString lambdaNote = flipped.isEmpty()
        ? QString()
        : tr("<br><span style=\"color:#c0392b\">λ &gt; 1 in %1: there 1 − λ &lt; 0, so D/(1 − λ) flips the sign of D "
             "and "
             "its to-span/noise numbers can exceed 1 or go negative (mass is normalised by a negative total).</span>")
              .arg(flipped.join(QStringLiteral(", ")));
    if (!output.metricsError.isEmpty()) {
        m_summary->setText(tr("Metrics unavailable: %1").arg(output.metricsError));
    } else if (!output.spans.empty()) {
        const SpanAttention& a = output.spanAverage;
        m_summary->setText(tr("Span %1, mean over heads then layers: <b>to span %2</b> · <b>noise %3</b> · first "
                              "token %4 · rest %5")
                               .arg(spanDescription)
                               .arg(a.toSpan, 0, 'f', 4)
                               .arg(a.noise, 0, 'f', 4)
                               .arg(a.sink, 0, 'f', 4)
                               .arg(a.rest, 0, 'f', 4)
            + lambdaNote);
    } else {
        m_summary->setText(tr("%1 heads over %2 tokens. Select tokens in the token strip to mark the relevant span.")
                               .arg(output.metrics.size())
                               .arg(output.capture.tokens.size())
            + lambdaNote);
    }
}

QString MetricsPanel::summary() const
{
    return m_summary->text();
}

} // namespace attn::app
