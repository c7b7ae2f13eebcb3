// SPDX-License-Identifier: GPL-3.0-or-later
#include "sideplots.h"

#include "attnscope/config.h"

#include <qcustomplot.h>

#include <QVBoxLayout>

namespace attn::app {

namespace {

QCustomPlot* makePlot(QWidget* owner, const QString& title)
{
    auto* layout = new QVBoxLayout(owner);
    layout->setContentsMargins(0, 0, 0, 0);
    auto* plot = new QCustomPlot(owner);
    plot->plotLayout()->insertRow(0);
    plot->plotLayout()->addElement(
        0, 0, new QCPTextElement(plot, title, QFont(owner->font().family(), 9, QFont::Bold)));
    plot->setMinimumHeight(170);
    layout->addWidget(plot);
    return plot;
}

/// QCustomPlot does not follow the palette by itself (style.md §3.13): background, axes, ticks, labels, legend.
void applyPalette(QCustomPlot* plot, const QPalette& palette)
{
    const QColor text = palette.color(QPalette::WindowText);
    plot->setBackground(palette.brush(QPalette::Window));
    for (QCPAxis* axis : {plot->xAxis, plot->yAxis}) {
        axis->setBasePen(QPen(text));
        axis->setTickPen(QPen(text));
        axis->setSubTickPen(QPen(text));
        axis->setTickLabelColor(text);
        axis->setLabelColor(text);
    }
    plot->legend->setBrush(palette.brush(QPalette::Base));
    plot->legend->setTextColor(palette.color(QPalette::Text));
    plot->legend->setBorderPen(QPen(text));
    if (auto* title = qobject_cast<QCPTextElement*>(plot->plotLayout()->element(0, 0)))
        title->setTextColor(text);
    plot->replot(QCustomPlot::rpQueuedReplot);
}

} // namespace

void LambdaPlot::changeEvent(QEvent* event)
{
    if (event->type() == QEvent::PaletteChange)
        applyPalette(m_plot, palette());
    QWidget::changeEvent(event);
}

void CopePositionPlot::changeEvent(QEvent* event)
{
    if (event->type() == QEvent::PaletteChange)
        applyPalette(m_plot, palette());
    QWidget::changeEvent(event);
}

LambdaPlot::LambdaPlot(QWidget* parent)
    : QWidget(parent)
    , m_plot(makePlot(this, tr("λ per layer (bars) and λ_init (line)")))
{
    m_plot->xAxis->setLabel(tr("layer"));
    m_plot->yAxis->setLabel(tr("λ"));
    // Layers are integers: one tick per layer (or every few), never -0.5 or 0.5.
    QSharedPointer<QCPAxisTickerFixed> layers(new QCPAxisTickerFixed);
    layers->setTickStep(1.0);
    layers->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
    m_plot->xAxis->setTicker(layers);
    applyPalette(m_plot, palette());
}

void LambdaPlot::setLambdas(const std::vector<double>& lambda, int currentLayer)
{
    m_plot->clearPlottables();
    QVector<double> layers, values, selected, selectedValue, init;
    for (size_t i = 0; i < lambda.size(); ++i) {
        layers << static_cast<double>(i);
        values << lambda[i];
        init << lambdaInit(static_cast<int64_t>(i));
        if (static_cast<int>(i) == currentLayer) {
            selected << static_cast<double>(i);
            selectedValue << lambda[i];
        }
    }
    auto* bars = new QCPBars(m_plot->xAxis, m_plot->yAxis);
    bars->setData(layers, values);
    bars->setWidth(0.7);
    bars->setBrush(QColor(0x4c, 0x72, 0xb0, 160));
    bars->setPen(Qt::NoPen);
    auto* current = new QCPBars(m_plot->xAxis, m_plot->yAxis);
    current->setData(selected, selectedValue);
    current->setWidth(0.7);
    current->setBrush(QColor(0xdd, 0x84, 0x52));
    current->setPen(Qt::NoPen);
    auto* line = m_plot->addGraph();
    line->setData(layers, init);
    line->setPen(QPen(palette().color(QPalette::WindowText), 1.5, Qt::DashLine));
    m_plot->xAxis->setRange(-0.6, std::max<double>(1.0, static_cast<double>(lambda.size()) - 0.4));
    double low = 0.0, high = 1.0;
    for (double v : values + init) {
        low = std::min(low, v);
        high = std::max(high, v);
    }
    m_plot->yAxis->setRange(low - 0.05, high + 0.05);
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

CopePositionPlot::CopePositionPlot(QWidget* parent)
    : QWidget(parent)
    , m_plot(makePlot(this, tr("CoPE positions of the keys seen by the query")))
{
    m_plot->xAxis->setLabel(tr("key"));
    m_plot->yAxis->setLabel(tr("position p"));
    m_plot->legend->setVisible(true);
    // The legend sits above the plot, not over the curves.
    auto* legendRow = new QCPLayoutGrid;
    m_plot->plotLayout()->insertRow(1);
    m_plot->plotLayout()->addElement(1, 0, legendRow);
    legendRow->addElement(0, 0, m_plot->legend);
    m_plot->legend->setFillOrder(QCPLayoutGrid::foColumnsFirst);
    m_plot->plotLayout()->setRowStretchFactor(1, 0.001);
    // Title, legend and rotated token labels take ~120 px: at the shared 170 px the curves had 50 px and their
    // y ticks (0 2 4 … 10) ran into each other.
    m_plot->setMinimumHeight(260);
    m_plot->yAxis->ticker()->setTickCount(4);
    applyPalette(m_plot, palette());
}

void CopePositionPlot::setRow(int row, const QStringList& tokens, const std::vector<Series>& series)
{
    m_plot->clearGraphs();
    static const QColor colors[] = {QColor(0x4c, 0x72, 0xb0), QColor(0xdd, 0x84, 0x52)};
    double high = 1.0;
    for (size_t s = 0; s < series.size(); ++s) {
        QVector<double> keys, values;
        for (size_t j = 0; j < series[s].positions.size(); ++j) {
            keys << static_cast<double>(j);
            values << series[s].positions[j];
            high = std::max(high, series[s].positions[j]);
        }
        QCPGraph* graph = m_plot->addGraph();
        graph->setName(series[s].name);
        graph->setData(keys, values);
        graph->setLineStyle(QCPGraph::lsStepCenter);
        graph->setPen(QPen(colors[s % 2], 1.6));
        graph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 4));
    }
    // Token labels for short rows; numeric ticks beyond (a text ticker draws every label it holds).
    if (row >= 0 && row < 48 && row < tokens.size()) {
        QSharedPointer<QCPAxisTickerText> ticker(new QCPAxisTickerText);
        for (int j = 0; j <= row; ++j)
            ticker->addTick(j, tokens[j]);
        m_plot->xAxis->setTicker(ticker);
        m_plot->xAxis->setTickLabelRotation(-60);
        // One label per token overlaps beyond what the axis width holds: keep every k-th.
        const int room = std::max(1, m_plot->axisRect()->width() / (m_plot->xAxis->tickLabelFont().pointSize() + 8));
        const int step = std::max(1, (row + 1 + room - 1) / room);
        ticker->clear();
        for (int j = 0; j <= row; j += step)
            ticker->addTick(j, tokens[j]);
    } else {
        QSharedPointer<QCPAxisTickerFixed> integers(new QCPAxisTickerFixed);
        integers->setTickStep(1.0);
        integers->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
        m_plot->xAxis->setTicker(integers);
        m_plot->xAxis->setTickLabelRotation(0);
    }
    const QString query = row >= 0 && row < tokens.size() ? tokens[row] : QString();
    if (auto* title = qobject_cast<QCPTextElement*>(m_plot->plotLayout()->element(0, 0)))
        title->setText(tr("CoPE positions seen by query %1 “%2”").arg(row).arg(query));
    m_plot->xAxis->setRange(-0.5, std::max(0, row) + 0.5);
    m_plot->yAxis->setRange(0.0, high * 1.08);
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

} // namespace attn::app
