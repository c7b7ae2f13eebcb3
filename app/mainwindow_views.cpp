// SPDX-License-Identifier: GPL-3.0-or-later
// MainWindow, second half: turning a run's results into the views (panels, colours, read-out, side plots,
// metrics). Construction and the run flow are in mainwindow.cpp.
#include "mainwindow.h"

#include "colorcontrols.h"
#include "heatmappanel.h"
#include "metricspanel.h"
#include "overviewgrid.h"
#include "sideplots.h"

#include <QComboBox>
#include <QGridLayout>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>

#include <algorithm>
#include <cmath>

namespace attn::app {

namespace {

QString mapTitle(MapKind kind)
{
    switch (kind) {
    case MapKind::A:
        return QStringLiteral("A  attention");
    case MapKind::A1:
        return QStringLiteral("A1 = softmax(Q1K1ᵀ/√d)");
    case MapKind::A2:
        return QStringLiteral("A2 = softmax(Q2K2ᵀ/√d)");
    case MapKind::LA2:
        return QStringLiteral("λ·A2");
    case MapKind::D:
        return QStringLiteral("D = A1 − λ·A2");
    case MapKind::DN:
        return QStringLiteral("D / (1 − λ)");
    case MapKind::G:
        return QStringLiteral("G  CoPE gates");
    case MapKind::P:
        return QStringLiteral("P  CoPE positions");
    case MapKind::B:
        return QStringLiteral("B  position logits");
    case MapKind::G1:
        return QStringLiteral("G1  gates, group 1");
    case MapKind::P1:
        return QStringLiteral("P1  positions, group 1");
    case MapKind::B1:
        return QStringLiteral("B1  position logits, group 1");
    case MapKind::G2:
        return QStringLiteral("G2  gates, group 2");
    case MapKind::P2:
        return QStringLiteral("P2  positions, group 2");
    case MapKind::B2:
        return QStringLiteral("B2  position logits, group 2");
    case MapKind::S:
        return QStringLiteral("S  logits");
    case MapKind::S1:
        return QStringLiteral("S1  logits, group 1");
    case MapKind::S2:
        return QStringLiteral("S2  logits, group 2");
    }
    return QString::fromStdString(toString(kind));
}

/// Display order: the attention maps first (what a user came to see), then CoPE's gates/positions/logits.
std::vector<MapKind> displayKinds(const ModelConfig& config)
{
    std::vector<MapKind> kinds = availableMapKinds(config, /*includeLogits=*/false);
    std::stable_partition(kinds.begin(), kinds.end(), [](MapKind k) {
        return k == MapKind::A || k == MapKind::A1 || k == MapKind::A2 || k == MapKind::LA2 || k == MapKind::D
            || k == MapKind::DN;
    });
    return kinds;
}

} // namespace

void MainWindow::rebuildPanels()
{
    for (HeatmapPanel* panel : m_panels)
        panel->deleteLater();
    m_panels.clear();
    m_activePanel = nullptr;
    const ModelInfo* info = currentModel();
    if (!info)
        return;
    const std::vector<MapKind> kinds = displayKinds(info->config);
    const int columns = kinds.size() > 4 ? 3 : 2;
    for (size_t i = 0; i < kinds.size(); ++i) {
        auto* panel = new HeatmapPanel(m_panelGrid->parentWidget());
        panel->setMinimumSize(340, 320);
        m_panelGrid->addWidget(panel, static_cast<int>(i) / columns, static_cast<int>(i) % columns);
        connect(panel, &HeatmapPanel::cellHovered, this, &MainWindow::onCellHovered);
        connect(panel, &HeatmapPanel::viewChanged, this, [this, panel](double k0, double k1, double q0, double q1) {
            m_lastView = QRectF(QPointF(k0, q0), QPointF(k1, q1));
            for (HeatmapPanel* other : m_panels)
                if (other != panel)
                    other->setView(k0, k1, q0, q1); // synced zoom and pan
        });
        m_panels.push_back(panel);
    }
}

void MainWindow::onRunFinished(const RunOutput& output)
{
    m_progress->setVisible(false);
    m_cancelButton->setEnabled(false);
    if (output.metrics.empty() && output.metricsError.isEmpty() && !m_lastRun.metrics.empty()) {
        // This run reused the metrics of the previous one (same model, prompt and span).
        RunOutput merged = output;
        merged.metrics = std::move(m_lastRun.metrics);
        merged.spans = std::move(m_lastRun.spans);
        merged.spanAverage = m_lastRun.spanAverage;
        merged.thumbnails = std::move(m_lastRun.thumbnails);
        m_lastRun = std::move(merged);
    } else {
        m_lastRun = output;
        m_metricsKey = m_requestedMetricsKey;
    }
    const ModelInfo* info = currentModel();
    if (!info || output.modelId != info->id)
        return;
    const std::vector<MapKind> kinds = displayKinds(info->config);
    m_lastView = QRectF(); // new maps, new cell grid: "exact values in view" starts from the whole map
    for (size_t i = 0; i < kinds.size() && i < m_panels.size(); ++i) {
        const AttentionMap* map = output.capture.find(m_layerSpin->value(), m_headSpin->value(), kinds[i]);
        if (!map)
            continue;
        PanelMap panelMap = panelMapFor(*map, kinds[i], output.tokenDisplay);
        panelMap.title = mapTitle(kinds[i]);
        if (map->rowBlock > 1)
            panelMap.title += tr(" · max-pooled %1×%2").arg(map->rowBlock).arg(map->colBlock);
        m_shown = {map->rowBegin, map->colBegin, map->rowBlock};
        m_panels[i]->setMap(panelMap);
    }
    applyColors();
    updateSidePlots();
    m_metrics->setResults(m_lastRun, spanDescription());
    updateOverview();
    updateExactButton();
    const auto& lambda = output.capture.lambda;
    const size_t layer = static_cast<size_t>(m_layerSpin->value());
    m_lambdaLabel->setText(layer < lambda.size() ? QStringLiteral("λ = %1").arg(lambda[layer], 0, 'f', 4) : QString());
    m_status->setText(tr("%1 tokens in %2 ms on %3")
                          .arg(output.capture.tokens.size())
                          .arg(std::lround(output.seconds * 1000))
                          .arg(info->device));
    Q_EMIT mapsShown();
}

void MainWindow::onCellHovered(int row, int col)
{
    if (auto* hovered = qobject_cast<HeatmapPanel*>(sender()))
        m_activePanel = hovered;
    for (HeatmapPanel* panel : m_panels)
        panel->setCrosshair(row, col);
    if (row >= 0 && row != m_queryRow) {
        m_queryRow = row; // the position plot follows the hovered query
        updateSidePlots();
    }
    const auto& tokens = m_lastRun.tokenDisplay;
    const int n = static_cast<int>(tokens.size());
    const int block = static_cast<int>(m_shown.block);
    const int query = static_cast<int>(m_shown.rowBegin) + row * block;
    const int key = static_cast<int>(m_shown.colBegin) + col * block;
    if (row < 0 || col < 0 || query >= n || key >= n) {
        m_readout->clear();
        return;
    }
    QString text = block == 1 ? tr("query <b>%1</b> [%2] → key <b>%3</b> [%4]")
                                    .arg(tokens[query].toHtmlEscaped())
                                    .arg(query)
                                    .arg(tokens[key].toHtmlEscaped())
                                    .arg(key)
                              : tr("queries [%1, %2) → keys [%3, %4), max over the block")
                                    .arg(query)
                                    .arg(std::min(n, query + block))
                                    .arg(key)
                                    .arg(std::min(n, key + block));
    for (HeatmapPanel* panel : m_panels) {
        const PanelMap& map = panel->map();
        if (map.rows > row && map.cols > col) {
            const float v = map.values[static_cast<size_t>(row) * map.cols + col];
            text += QStringLiteral(" &nbsp; %1 = %2")
                        .arg(map.kind, std::isnan(v) ? tr("masked") : QString::number(v, 'g', 5));
        }
    }
    if (!m_lambdaLabel->text().isEmpty())
        text += QStringLiteral(" &nbsp; ") + m_lambdaLabel->text();
    m_readout->setText(text);
}

void MainWindow::applyColors()
{
    const ColorOptions options = m_colors->options();
    // With a shared range, probability-like panels share one range and signed panels another (a single
    // range across both would centre D's diverging scale on the wrong value).
    std::vector<float> sequential, signedValues;
    if (options.sharedRange)
        for (HeatmapPanel* panel : m_panels) {
            const PanelMap& map = panel->map();
            auto& bucket = map.isSigned ? signedValues : sequential;
            bucket.insert(bucket.end(), map.values.begin(), map.values.end());
        }
    const auto seqRange = colorRange(sequential, false, options);
    const auto signedRange = colorRange(signedValues, true, options);
    for (HeatmapPanel* panel : m_panels) {
        if (options.sharedRange) {
            const auto& r = panel->map().isSigned ? signedRange : seqRange;
            panel->setSharedRange(r.first, r.second);
        }
        panel->setColorOptions(options);
    }
}

void MainWindow::updateSidePlots()
{
    const ModelInfo* info = currentModel();
    if (!info || m_lastRun.capture.tokens.empty())
        return;
    const bool diff = info->config.isDiff();
    m_lambdaPlot->setVisible(diff);
    if (diff)
        m_lambdaPlot->setLambdas(m_lastRun.capture.lambda, m_layerSpin->value());
    m_copePlot->setVisible(info->config.hasCope());
    if (!info->config.hasCope())
        return;
    const int64_t n = static_cast<int64_t>(m_lastRun.capture.tokens.size());
    const int64_t row = m_queryRow >= 0 && m_queryRow < n ? m_queryRow : n - 1;
    std::vector<CopePositionPlot::Series> series;
    const std::vector<std::pair<MapKind, QString>> kinds = diff
        ? std::vector<std::pair<MapKind, QString>> {{MapKind::P1, tr("P1 (group 1)")},
            {MapKind::P2, tr("P2 (group 2)")}}
        : std::vector<std::pair<MapKind, QString>> {{MapKind::P, tr("P")}};
    for (const auto& [kind, name] : kinds)
        if (const AttentionMap* map = m_lastRun.capture.find(m_layerSpin->value(), m_headSpin->value(), kind)) {
            CopePositionPlot::Series s {name, {}};
            for (int64_t j = 0; j <= row; ++j)
                s.positions.push_back(map->at(row, j));
            series.push_back(std::move(s));
        }
    m_copePlot->setRow(static_cast<int>(row), m_lastRun.tokenDisplay, series);
}

QString MainWindow::spanDescription() const
{
    if (m_spanBegin < 0)
        return QString();
    QString text;
    for (int64_t i = m_spanBegin; i < m_spanEnd && i < m_lastRun.tokenDisplay.size(); ++i)
        text += m_lastRun.tokenDisplay[static_cast<int>(i)];
    return tr("tokens %1–%2 “%3”").arg(m_spanBegin).arg(m_spanEnd - 1).arg(text.toHtmlEscaped());
}

void MainWindow::updateOverview()
{
    const ModelInfo* info = currentModel();
    if (!info || m_lastRun.thumbnails.empty())
        return;
    std::map<std::pair<int64_t, int64_t>, SpanAttention> spans;
    for (const HeadSpan& s : m_lastRun.spans)
        spans[{s.layer, s.head}] = s.span;
    const int metric = m_overviewMetric->currentIndex();
    std::vector<OverviewCell> cells;
    for (size_t i = 0; i < m_lastRun.thumbnails.size(); ++i) {
        if (i >= m_lastRun.metrics.size()) { // a long prompt: thumbnails without metrics, so no frames
            const AttentionMap& t = m_lastRun.thumbnails[i];
            cells.push_back({static_cast<int>(t.layer), static_cast<int>(t.head), t, kNoMetric});
            continue;
        }
        const HeadMetrics& m = m_lastRun.metrics[i];
        const auto span = spans.find({m.layer, m.head});
        const double values[] = {m.entropy, m.sinkMass, m.maxWeight, m.meanDistance, m.negativeMass, m.meanGate,
            span == spans.end() ? kNoMetric : span->second.toSpan,
            span == spans.end() ? kNoMetric : span->second.noise};
        cells.push_back({static_cast<int>(m.layer), static_cast<int>(m.head), m_lastRun.thumbnails[i],
            values[std::clamp(metric, 0, 7)]});
    }
    m_overview->setCells(static_cast<int>(info->config.nLayers), static_cast<int>(info->config.nHeads),
        std::move(cells), info->config.isDiff(), info->config.isDiff() ? QStringLiteral("D") : QStringLiteral("A"),
        m_overviewMetric->currentText());
    m_overview->setSelected(m_layerSpin->value(), m_headSpin->value());
}

} // namespace attn::app
