// SPDX-License-Identifier: GPL-3.0-or-later
// MainWindow, second half: turning a run's results into the views (panels, colours, read-out, side plots,
// metrics). Construction and the run flow are in mainwindow.cpp.
#include "mainwindow.h"

#include "attnscope/pooling.h"
#include "colorcontrols.h"
#include "compareview.h"
#include "heatmappanel.h"
#include "kindpicker.h"
#include "mapnames.h"
#include "metricspanel.h"
#include "overviewgrid.h"
#include "sideplots.h"

#include <QActionGroup>
#include <QComboBox>
#include <QEvent>
#include <QGridLayout>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>
#include <QScrollArea>
#include <QScrollBar>
#include <QSpinBox>

#include <algorithm>
#include <cmath>

namespace attn::app {

namespace {

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

/// Settings key of the kind choice: models of one attention and position type offer the same kinds.
QString kindFamily(const ModelConfig& config)
{
    return QString::fromStdString(toString(config.attention) + "-" + toString(config.position));
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
    QStringList names, labels, tips;
    for (MapKind kind : kinds) {
        names << QString::fromStdString(toString(kind));
        labels << kindLabel(kind);
        tips << mapTitle(kind, info->config);
    }
    m_kindPicker->setKinds(names, labels, tips, m_settings.hiddenMapKinds(kindFamily(info->config)));
    m_kindPicker->setCaption(QString());
    for (size_t i = 0; i < kinds.size(); ++i) {
        auto* panel = new HeatmapPanel(m_panelGrid->parentWidget());
        PanelMap waiting;
        waiting.title = tr("%1 (waiting for the run)").arg(kindLabel(kinds[i]));
        waiting.kind = QString::fromStdString(toString(kinds[i]));
        panel->setMap(waiting);
        connect(panel, &HeatmapPanel::cellHovered, this, &MainWindow::onCellHovered);
        connect(panel, &HeatmapPanel::viewChanged, this, [this, panel](double k0, double k1, double q0, double q1) {
            m_lastView = QRectF(QPointF(k0, q0), QPointF(k1, q1));
            for (HeatmapPanel* other : m_panels)
                if (other != panel)
                    other->setView(k0, k1, q0, q1); // synced zoom and pan
        });
        m_panels.push_back(panel);
    }
    applyShownKinds();
}

void MainWindow::applyShownKinds()
{
    if (const ModelInfo* info = currentModel())
        m_settings.setHiddenMapKinds(kindFamily(info->config), m_kindPicker->hiddenKinds());
    m_gridColumns = 0;
    relayoutPanels();
}

void MainWindow::relayoutPanels()
{
    std::vector<HeatmapPanel*> shown;
    for (HeatmapPanel* panel : m_panels) {
        if (m_kindPicker->isShown(panel->map().kind)) {
            shown.push_back(panel);
        } else {
            m_panelGrid->removeWidget(panel);
            panel->hide();
        }
    }
    if (shown.empty())
        return;
    const QSize viewport = m_panelScroll->viewport()->size();
    const bool fit = m_settings.panelLayout() == Settings::PanelLayout::Fit;
    // Fit: every panel in view, as large as the grid allows (11 DIFF+CoPE maps at 1280x800 included). Large:
    // panels of about 420 px in as many columns as fit, scrolled vertically; never wider than the view.
    const int count = static_cast<int>(shown.size());
    const QSize minimum = fit ? QSize(120, 110) : QSize(300, 380);
    const int spacing = m_panelGrid->spacing() + 2;
    const QMargins margins = m_panelGrid->contentsMargins();
    const int width = viewport.width() - margins.left() - margins.right();
    // Never more columns than fit side by side at the minimum panel width: no horizontal scrolling.
    const int widest = std::max(1, (width + spacing) / (minimum.width() + spacing));
    const int height = viewport.height() - margins.top() - margins.bottom();
    int columns = std::min(widest, fit ? fitGridColumns(count, width, height) : std::clamp(width / 420, 1, count));
    // Fit: more columns while the rows would not fit at the minimum panel height (no vertical scrolling either).
    auto rowsFor = [count](int c) { return (count + c - 1) / c; };
    while (fit && columns < widest && rowsFor(columns) * (minimum.height() + spacing) > height + spacing)
        ++columns;
    if (columns == m_gridColumns && fit == m_gridFit)
        return; // a resize that changes nothing here (also ends the scroll-bar-appears-resize loop)
    m_gridColumns = columns;
    m_gridFit = fit;
    for (HeatmapPanel* panel : shown)
        m_panelGrid->removeWidget(panel);
    for (int i = 0; i < count; ++i) {
        HeatmapPanel* panel = shown[static_cast<size_t>(i)];
        panel->setMinimumSize(minimum);
        m_panelGrid->addWidget(panel, i / columns, i % columns);
        panel->show();
    }
    // Rows and columns left over from a larger grid would keep their stretch and squeeze the panels.
    for (int r = 0; r < m_panelGrid->rowCount(); ++r)
        m_panelGrid->setRowStretch(r, r < (count + columns - 1) / columns ? 1 : 0);
    for (int c = 0; c < m_panelGrid->columnCount(); ++c)
        m_panelGrid->setColumnStretch(c, c < columns ? 1 : 0);
    m_panelScroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
}

void MainWindow::setPanelLayout(Settings::PanelLayout layout)
{
    m_settings.setPanelLayout(layout);
    m_gridColumns = 0;
    for (QAction* action : m_layoutGroup->actions())
        action->setChecked(action->data().toInt() == static_cast<int>(layout));
    relayoutPanels();
}

bool MainWindow::eventFilter(QObject* watched, QEvent* event)
{
    if (watched == m_panelScroll->viewport() && event->type() == QEvent::Resize)
        relayoutPanels();
    return QMainWindow::eventFilter(watched, event);
}

void MainWindow::resetZoom()
{
    m_lastView = QRectF();
    for (HeatmapPanel* panel : m_panels)
        panel->resetView();
    m_compare->resetZoom();
}

void MainWindow::setStale(const QString& message)
{
    m_stale->setText(message);
    m_stale->setVisible(!message.isEmpty());
}

QString MainWindow::shownDescription() const
{
    const auto it = m_models.find(m_shownModel);
    if (it == m_models.end() || m_shownRef.layer < 0)
        return tr("Nothing is shown yet.");
    return tr("The maps below still show %1, layer %2, head %3.")
        .arg(it->second.name)
        .arg(m_shownRef.layer)
        .arg(m_shownRef.head);
}

void MainWindow::updateWindowTitle()
{
    const ModelInfo* info = currentModel();
    setWindowTitle(!info      ? QStringLiteral("attnscope")
            : info->connected ? QStringLiteral("%1 — attnscope").arg(info->name)
                              : tr("%1 (disconnected) — attnscope").arg(info->name));
}

void MainWindow::updateLambdaLabel()
{
    // λ is per layer and the last run of this model has every layer's: the label follows the spin box at once.
    const ModelInfo* info = currentModel();
    const auto& lambda = m_lastRun.capture.lambda;
    const size_t layer = static_cast<size_t>(m_layerSpin->value());
    const bool known = info && info->config.isDiff() && m_lastRun.modelId == info->id && layer < lambda.size();
    m_lambdaLabel->setText(known ? QStringLiteral("λ = %1").arg(lambda[layer], 0, 'f', 4) : QString());
    m_lambdaLabel->setToolTip(known ? lambdaWarning(lambda[layer]) : QString());
    m_lambdaLabel->setStyleSheet(
        known && lambda[layer] > 1.0 ? QStringLiteral("color: #c0392b; font-weight: bold") : QString());
}

void MainWindow::clearResultViews(const QString& why)
{
    m_readout->clear();
    m_lambdaLabel->clear();
    m_shownModel = -1;
    m_shownRef = {-1, -1};
    RunOutput empty;
    empty.metricsError = why;
    m_metrics->setResults(empty, QString());
    m_overview->setCells(0, 0, {}, false, QString(), QString());
    m_overviewLegend->clear();
    // The λ and CoPE plots belong to the previous model until this one's run arrives.
    m_lambdaPlot->hide();
    m_copePlot->hide();
    m_plotsNote->setText(why);
    m_plotsNote->show();
}

void MainWindow::onRunFinished(const RunOutput& output)
{
    m_progress->setVisible(false);
    m_cancelButton->setEnabled(false);
    // A head or layer switch on the same model, prompt and span reuses the numbers: the table and the overview grid
    // (every layer x head) are not rebuilt then, only the selection moves (rebuilding them cost ~100 ms of UI time).
    const bool numbersReused = output.metrics.empty() && output.metricsError.isEmpty() && !m_lastRun.metrics.empty();
    if (numbersReused) {
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
    // A head or layer switch on the same model and prompt keeps the zoom, so the same region can be compared.
    const bool keepView = m_shownModel == output.modelId && m_panels.front()->map().rows > 0;
    if (!keepView)
        m_lastView = QRectF(); // new maps, new cell grid: "exact values in view" starts from the whole map
    const int layer = m_layerSpin->value(), head = m_headSpin->value();
    const double lambda = static_cast<size_t>(layer) < output.capture.lambda.size()
        ? output.capture.lambda[static_cast<size_t>(layer)]
        : kNoMetric;
    for (size_t i = 0; i < kinds.size() && i < m_panels.size(); ++i) {
        const AttentionMap* captured = output.capture.find(layer, head, kinds[i]);
        if (!captured) {
            PanelMap missing;
            missing.title = tr("%1: not in this run").arg(kindLabel(kinds[i]));
            missing.kind = QString::fromStdString(toString(kinds[i]));
            m_panels[i]->setMap(missing);
            continue;
        }
        AttentionMap reduced;
        const AttentionMap* map = captured;
        if (captured->rowBlock > 1) {
            // An overview never has more cells than the panel has pixels: reduced here with the same max (signed:
            // largest magnitude) so screen resampling cannot drop a one-token spike.
            const int pixels = std::max(64, std::min(m_panels[i]->width(), m_panels[i]->height()) - 60);
            reduced = poolMap(*captured, pixels, PoolMode::Max, isSignedMap(kinds[i]));
            map = &reduced;
        }
        PanelMap panelMap = panelMapFor(*map, kinds[i], output.tokenDisplay);
        // The panel shows the short kind; the formula and the rest are in its tooltip, layer and head once in the
        // caption above the grid (eleven panels repeating them left no room for the maps).
        panelMap.title = kindLabel(kinds[i]);
        panelMap.details = mapTitle(kinds[i], info->config) + tr("\nlayer %1, head %2").arg(layer).arg(head);
        if (map->rowBlock > 1) {
            panelMap.title += tr(" (pooled)");
            panelMap.details += tr("\nmax-pooled %1×%2, colour range without key block 0 (<bos>)")
                                    .arg(map->rowBlock)
                                    .arg(map->colBlock);
            panelMap.rangeExcludesFirstKey = true;
        }
        if (kinds[i] == MapKind::DN && lambda > 1.0) {
            panelMap.title += QStringLiteral(" ⚠");
            panelMap.details += tr("\n⚠ λ = %1 > 1: sign of D flipped").arg(lambda, 0, 'f', 2);
        }
        m_shown = {map->rowBegin, map->colBegin, map->rowBlock};
        m_panels[i]->setMap(panelMap, keepView);
    }
    m_shownModel = output.modelId;
    m_shownRef = {layer, head};
    m_kindPicker->setCaption(tr("layer %1, head %2").arg(layer).arg(head));
    setStale(QString());
    applyColors();
    updateSidePlots();
    if (numbersReused) {
        m_overview->setSelected(layer, head);
    } else {
        m_metrics->setResults(m_lastRun, spanDescription());
        updateOverview();
    }
    updateExactButton();
    updateLambdaLabel();
    m_status->setText(tr("%1 tokens in %2 ms on %3")
                          .arg(output.capture.tokens.size())
                          .arg(std::lround(output.seconds * 1000))
                          .arg(info->server.isEmpty() ? info->device : tr("%1 of %2").arg(info->device, info->server)));
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
    if (m_shownModel != m_currentModel || m_lastRun.modelId != m_currentModel) {
        m_readout->clear(); // the panels are waiting for this model's run: no numbers of another model
        return;
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
                        .arg(kindLabel(map.kind).toHtmlEscaped(),
                            std::isnan(v) ? tr("masked") : QString::number(v, 'g', 5));
        }
    }
    if (!m_lambdaLabel->text().isEmpty())
        text += QStringLiteral(" &nbsp; ") + m_lambdaLabel->text();
    const size_t layer = static_cast<size_t>(m_shownRef.layer);
    if (layer < m_lastRun.capture.lambda.size() && m_lastRun.capture.lambda[layer] > 1.0)
        text += QStringLiteral(" &nbsp; <span style=\"color:#c0392b\">%1</span>")
                    .arg(lambdaWarning(m_lastRun.capture.lambda[layer]).toHtmlEscaped());
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
    m_plotsNote->setVisible(!diff || !info->config.hasCope());
    m_plotsNote->setText(!diff && !info->config.hasCope()
            ? tr("%1 has softmax attention without CoPE: there is no λ and no CoPE position to plot.").arg(info->name)
            : !diff ? tr("No λ plot: %1 has softmax attention.").arg(info->name)
                    : tr("No CoPE positions plot: %1 has no CoPE.").arg(info->name));
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
    QStringList shown;
    for (int64_t i = m_spanBegin; i < m_spanEnd && i < m_lastRun.tokenDisplay.size(); ++i)
        shown << m_lastRun.tokenDisplay[static_cast<int>(i)];
    // Tokens apart (a word-level vocabulary has no spaces in its tokens), and at most 12 of them.
    constexpr int kShownTokens = 12;
    QString text = QStringList(shown.mid(0, kShownTokens)).join(QStringLiteral(" · "));
    if (shown.size() > kShownTokens)
        text += tr(" … (%1 tokens)").arg(shown.size());
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
    m_overviewLegend->setText(m_overview->legendHtml());
}

} // namespace attn::app
