// SPDX-License-Identifier: GPL-3.0-or-later
#include "metricspanel.h"

#include <QHeaderView>
#include <QLabel>
#include <QSortFilterProxyModel>
#include <QStandardItemModel>
#include <QTableView>
#include <QVBoxLayout>

#include <cmath>
#include <map>

namespace attn::app {

namespace {

enum Column { Layer, Head, Entropy, Sink, Max, Distance, Negative, Lambda, Gate, GateSum, ToSpan, Noise, Count };

QStandardItem* numberItem(double value, int decimals = 4)
{
    auto* item = new QStandardItem(std::isnan(value) ? QStringLiteral("–") : QString::number(value, 'f', decimals));
    // Sort by the number, not the text; NaN (not applicable) sorts last.
    item->setData(std::isnan(value) ? -1e300 : value, Qt::UserRole);
    item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
    item->setEditable(false);
    return item;
}

} // namespace

MetricsPanel::MetricsPanel(QWidget* parent)
    : QWidget(parent)
    , m_model(new QStandardItemModel(0, Count, this))
    , m_proxy(new QSortFilterProxyModel(this))
{
    m_model->setHorizontalHeaderLabels({tr("layer"), tr("head"), tr("entropy"), tr("sink"), tr("max"), tr("distance"),
        tr("neg. mass"), tr("λ"), tr("mean gate"), tr("gate row-sum"), tr("to span"), tr("noise")});
    const QStringList tips = {QString(), QString(), tr("mean row entropy of |w| (nats)"),
        tr("mean attention on the first token (rows ≥ 1)"), tr("mean row maximum"),
        tr("mean attention distance (tokens)"), tr("DIFF: mean negative mass per row of D/(1 − λ)"),
        tr("DIFF: λ of the layer"), tr("CoPE: mean gate"), tr("CoPE: mean row sum of the gates (what the head counts)"),
        tr("attention on the marked span (Table 3)"),
        tr("attention on the context outside the span, first token and question (Table 3)")};
    for (int c = 0; c < Count; ++c)
        m_model->horizontalHeaderItem(c)->setToolTip(tips[c]);
    m_proxy->setSourceModel(m_model);
    m_proxy->setSortRole(Qt::UserRole);
    m_table = new QTableView(this);
    m_table->setModel(m_proxy);
    m_table->setSortingEnabled(true);
    m_table->sortByColumn(Layer, Qt::AscendingOrder); // layer 0 first; QTableView starts descending otherwise
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->verticalHeader()->setVisible(false);
    m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
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
        Q_EMIT headActivated(m_model->item(source.row(), Layer)->data(Qt::UserRole).toInt(),
            m_model->item(source.row(), Head)->data(Qt::UserRole).toInt());
    });
}

void MetricsPanel::setResults(const RunOutput& output, const QString& spanDescription)
{
    m_model->removeRows(0, m_model->rowCount());
    std::map<std::pair<int64_t, int64_t>, SpanAttention> spans;
    for (const HeadSpan& s : output.spans)
        spans[{s.layer, s.head}] = s.span;
    for (const HeadMetrics& m : output.metrics) {
        const auto span = spans.find({m.layer, m.head});
        const double toSpan = span == spans.end() ? kNoMetric : span->second.toSpan;
        const double noise = span == spans.end() ? kNoMetric : span->second.noise;
        m_model->appendRow({numberItem(static_cast<double>(m.layer), 0), numberItem(static_cast<double>(m.head), 0),
            numberItem(m.entropy), numberItem(m.sinkMass), numberItem(m.maxWeight), numberItem(m.meanDistance, 2),
            numberItem(m.negativeMass), numberItem(m.lambda), numberItem(m.meanGate), numberItem(m.gateRowSum, 2),
            numberItem(toSpan), numberItem(noise)});
    }
    // λ > 1 makes 1 − λ negative: D/(1 − λ), which the span numbers use, has the opposite sign of D there.
    QStringList flipped;
    for (const HeadMetrics& m : output.metrics)
        if (m.head == 0 && m.lambda > 1.0)
            flipped << QStringLiteral("L%1 (λ = %2)").arg(m.layer).arg(m.lambda, 0, 'f', 2);
    const QString lambdaNote = flipped.isEmpty()
        ? QString()
        : tr("<br><span style=\"color:#c0392b\">λ &gt; 1 in %1: there 1 − λ &lt; 0, so D/(1 − λ) flips the sign of D and "
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
        m_summary->setText(
            tr("%1 heads over %2 tokens. Select tokens in the token strip to mark the relevant span.")
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
