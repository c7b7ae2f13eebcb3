// SPDX-License-Identifier: GPL-3.0-or-later
// MainWindow: what the window shows while a run is in flight. A long prompt's run takes minutes on a CPU; until it
// ends nothing of the previous run may pass for its result: the panels are covered, the exact-window button is off,
// and when the run recomputes the metrics (a new prompt, model or span) the Metrics and Overview docks say so instead
// of showing the previous prompt's table, thumbnails and "(this one has N tokens)" line.
#include "busyoverlay.h"
#include "mainwindow.h"
#include "metricspanel.h"
#include "overviewgrid.h"

#include <QLabel>
#include <QPushButton>
#include <QScrollArea>
#include <QSpinBox>

namespace attn::app {

void MainWindow::wireRunInFlight()
{
    auto* cover = new BusyOverlay(m_panelScroll);
    auto heading = [this] {
        const ModelInfo* info = currentModel();
        return tr("Computing layer %1, head %2%3…  Esc cancels.")
            .arg(m_layerSpin->value())
            .arg(m_headSpin->value())
            .arg(info ? tr(" of %1").arg(info->name) : QString());
    };
    connect(m_engine, &Engine::runStarted, this, [this, cover, heading] {
        cover->start(heading());
        m_exactButton->setEnabled(false);
        // Cleared only for a new prompt, model or span: a long prompt's head switch recomputes the same thumbnails.
        if (m_runWithMetrics && m_requestedMetricsKey != m_metricsKey) {
            RunOutput pending;
            pending.metricsError = tr("computing for the new prompt…");
            m_metrics->setResults(pending, QString());
            m_overview->setCells(0, 0, {}, false, QString(), QString());
            m_overviewLegend->setText(tr("Computing every head's thumbnail…"));
        }
    });
    connect(m_engine, &Engine::runProgress, this,
        [this, cover, heading] { cover->start(heading() + QLatin1Char('\n') + m_status->text()); });
    auto settled = [this, cover] {
        cover->finish();
        m_exactButton->setEnabled(true);
    };
    connect(m_engine, &Engine::runFinished, this, settled);
    connect(m_engine, &Engine::runFailed, this, [this, settled] {
        settled();
        // The maps on screen stay, so their metrics and thumbnails come back with them.
        if (m_requestedMetricsKey != m_metricsKey && m_shownModel >= 0 && m_lastRun.modelId == m_shownModel) {
            m_metrics->setResults(m_lastRun, spanDescription());
            updateOverview();
        }
    });
}

} // namespace attn::app
