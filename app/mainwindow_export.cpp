// SPDX-License-Identifier: GPL-3.0-or-later
// MainWindow, exports: the view, one panel, one panel's numbers, the metrics table. Every export carries a
// provenance sidecar (exporter.h) and nothing is overwritten without the user saying so.
#include "mainwindow.h"

#include "attnscope/metrics.h"
#include "batchexport.h"
#include "compareview.h"
#include "exporter.h"
#include "heatmappanel.h"
#include "mapnames.h"

#include <QDateTime>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QGridLayout>
#include <QInputDialog>
#include <QLabel>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QRegularExpression>
#include <QSpinBox>
#include <QTabWidget>

#include <cmath>

namespace attn::app {

const AttentionMap* MainWindow::shownMap(MapKind kind) const
{
    // The panels show m_shownRef of m_lastRun only when that result is the shown model's.
    if (m_shownModel < 0 || m_shownModel != m_lastRun.modelId || m_shownRef.layer < 0)
        return nullptr;
    return m_lastRun.capture.find(m_shownRef.layer, m_shownRef.head, kind);
}

Provenance MainWindow::resultProvenance(const AttentionMap* map) const
{
    const RunOutput& run = m_lastRun;
    Provenance p;
    if (auto it = m_models.find(run.modelId); it != m_models.end()) {
        const ModelInfo& info = it->second;
        p.modelPath = info.path.toStdString();
        p.modelName = info.name.toStdString();
        p.modelFormat = info.format.toStdString();
        p.weightsSha256 = info.sha256.isEmpty() ? std::string(kPendingWeightsHash) : info.sha256.toStdString();
        p.attention = toString(info.config.attention);
        p.position = toString(info.config.position);
        p.device = info.device.toStdString();
        p.dtype = info.dtype.toStdString();
    }
    p.requestId = run.requestId;
    p.prompt = run.prompt.toStdString();
    p.tokens = run.capture.tokens;
    for (const QString& token : run.tokenDisplay)
        p.tokenDisplay.push_back(token.toStdString());
    p.lambdaPerLayer = run.capture.lambda;
    if (m_shownModel == run.modelId) {
        p.layer = m_shownRef.layer;
        p.head = m_shownRef.head;
    }
    if (map)
        describeMap(p, *map);
    if (p.layer >= 0 && static_cast<size_t>(p.layer) < run.capture.lambda.size())
        p.lambda = run.capture.lambda[static_cast<size_t>(p.layer)];
    p.frontEnd = appFrontEnd();
    return p;
}

Provenance MainWindow::provenance(const HeatmapPanel* panel) const
{
    if (!panel)
        return resultProvenance(nullptr);
    const auto kind = parseMapKind(panel->map().kind.toStdString());
    Provenance p = resultProvenance(kind ? shownMap(*kind) : nullptr);
    if (p.kind.empty())
        p.kind = panel->map().kind.toStdString();
    p.colorScale = panel->map().isSigned ? "diverging" : "sequential";
    std::tie(p.colorLow, p.colorHigh) = panel->colorRange();
    return p;
}

QString MainWindow::askExportPath(const QString& title, const QString& suggested, const QString& filters)
{
    // Qt's own overwrite question covers only the chosen file; ours also covers the sidecar next to it.
    const QString folder = m_settings.lastFolder();
    const QString start = folder.isEmpty() ? suggested : QDir(folder).filePath(suggested);
    QString chosenFilter;
    QString path
        = QFileDialog::getSaveFileName(this, title, start, filters, &chosenFilter, QFileDialog::DontConfirmOverwrite);
    if (path.isEmpty())
        return QString();
    // The dialog adds no extension for the chosen filter (a bare name + "PDF document" failed as an unknown image
    // type): take it from the filter's "(*.pdf)" when the name has none of the filter's extensions.
    const QRegularExpression pattern(QStringLiteral("\\*\\.(\\w+)"));
    QStringList extensions;
    for (auto it = pattern.globalMatch(chosenFilter); it.hasNext();)
        extensions << it.next().captured(1).toLower();
    if (!extensions.isEmpty() && !extensions.contains(QFileInfo(path).suffix().toLower()))
        path += QLatin1Char('.') + extensions.front();
    m_settings.setLastFolder(QFileInfo(path).absolutePath());
    QStringList existing;
    for (const QString& candidate : {path, path + QStringLiteral(".json")})
        if (QFileInfo::exists(candidate))
            existing << candidate;
    if (!existing.isEmpty()
        && QMessageBox::question(this, tr("Replace files?"),
               tr("These files exist and would be replaced:\n%1").arg(existing.join(QLatin1Char('\n'))))
            != QMessageBox::Yes)
        return QString();
    return path;
}

void MainWindow::reportExport(const ExportResult& result)
{
    if (result.ok)
        m_status->setText(tr("exported %1").arg(result.written.join(QStringLiteral(", "))));
    else
        showError(tr("Export failed"), result.message);
}

bool MainWindow::exportViewTo(const QString& path, int dpi)
{
    // What the current tab shows: the comparison on the Compare tab, the panels on the Maps tab.
    const bool compare = m_tabs->currentWidget() == m_compare;
    QWidget* view = compare ? m_compare->panelsWidget() : m_panelGrid->parentWidget();
    Provenance p = provenance(nullptr);
    if (compare) {
        // The comparison is not the Maps tab's result: name only what the Compare view itself says (its models and
        // panels). Its prompt, tokens and head are not carried by CompareOutput yet, so they are left out rather
        // than taken from the Maps tab or the editor.
        p = Provenance {};
        p.frontEnd = appFrontEnd();
        QStringList names, paths;
        for (HeatmapPanel* panel : m_compare->panels())
            names << panel->map().title;
        for (int id : m_compare->selectedModels()) {
            if (auto it = m_models.find(id); it != m_models.end())
                paths << it->second.path;
        }
        p.modelPath = paths.join(QStringLiteral(" | ")).toStdString();
        p.kind = tr("comparison: %1").arg(names.join(QStringLiteral(" | "))).toStdString();
    }
    ImageOptions options;
    options.dpi = dpi;
    const ExportResult result = exportWidgetImage(view, path, options, p, /*overwrite=*/true);
    reportExport(result);
    return result.ok;
}

void MainWindow::exportView()
{
    const bool compare = m_tabs->currentWidget() == m_compare;
    if (compare ? m_compare->panels().empty() : m_panels.empty())
        return;
    const Provenance p = provenance(nullptr);
    const QString path = askExportPath(tr("Export the view"), suggestedFileName(p, QStringLiteral("png")),
        tr("PNG image (*.png);;PDF document (*.pdf);;SVG drawing (*.svg)"));
    if (path.isEmpty())
        return;
    int dpi = 96;
    if (imageFormatForPath(path) == ImageFormat::Png) {
        bool ok = false;
        dpi = QInputDialog::getInt(this, tr("Resolution"), tr("Dots per inch:"), 192, 72, 600, 24, &ok);
        if (!ok)
            return;
    }
    exportViewTo(path, dpi);
}

void MainWindow::exportPanel()
{
    HeatmapPanel* panel = m_activePanel ? m_activePanel : (m_panels.empty() ? nullptr : m_panels.front());
    if (!panel)
        return;
    const Provenance p = provenance(panel);
    const QString path
        = askExportPath(tr("Export the panel %1").arg(panel->map().kind), suggestedFileName(p, QStringLiteral("png")),
            tr("PNG image (*.png);;PDF document (*.pdf);;SVG drawing (*.svg)"));
    if (path.isEmpty())
        return;
    ImageOptions options;
    options.dpi = 192;
    reportExport(exportPanelImage(panel, path, options, p, /*overwrite=*/true));
}

bool MainWindow::exportMapDataTo(MapKind kind, const QString& path)
{
    const AttentionMap* map = shownMap(kind);
    if (!map) {
        showError(tr("Export failed"), tr("The maps on screen have no %1 map to export.").arg(kindLabel(kind)));
        return false;
    }
    const ExportResult result = exportMapData(*map, path, resultProvenance(map), /*overwrite=*/true);
    reportExport(result);
    return result.ok;
}

void MainWindow::exportPanelData()
{
    HeatmapPanel* panel = m_activePanel ? m_activePanel : (m_panels.empty() ? nullptr : m_panels.front());
    if (!panel)
        return;
    const auto kind = parseMapKind(panel->map().kind.toStdString());
    if (!kind || !shownMap(*kind))
        return;
    const QString path = askExportPath(tr("Export the numbers of %1").arg(panel->map().kind),
        suggestedFileName(provenance(panel), QStringLiteral("npy")), tr("NumPy array (*.npy);;CSV table (*.csv)"));
    if (!path.isEmpty())
        exportMapDataTo(*kind, path);
}

void MainWindow::exportMetrics()
{
    if (m_lastRun.metrics.empty())
        return;
    Provenance p = resultProvenance(nullptr);
    p.layer = -1; // every layer and head
    p.head = -1;
    p.kind = "metrics";
    p.lambda = kNoMetric;
    const QString path = askExportPath(
        tr("Export the metrics"), suggestedFileName(p, QStringLiteral("csv")), tr("CSV table (*.csv);;JSON (*.json)"));
    if (path.isEmpty())
        return;
    const bool json = path.endsWith(QStringLiteral(".json"), Qt::CaseInsensitive);
    const std::string text = json ? metricsJson(m_lastRun.metrics) : metricsCsv(m_lastRun.metrics);
    reportExport(exportBytes(QByteArray::fromStdString(text), path, p, /*overwrite=*/true));
}

QString MainWindow::startBatchExport(const QString& parent, bool images, bool numbers)
{
    const ModelInfo* info = currentModel();
    if (!info)
        return QString();
    // A new, timestamped subfolder: a batch writes thousands of files and must never land on old ones.
    // A remote model's name says where it lives ("name @ host:port"): the folder takes the name on the server.
    const QString name = info->server.isEmpty() ? info->name : QFileInfo(info->path).fileName();
    const QString folder = QDir(parent).filePath(
        QStringLiteral("%1_%2").arg(name, QDateTime::currentDateTime().toString(QStringLiteral("yyyyMMdd-hhmmss"))));
    BatchExport::Options options;
    options.folder = folder;
    options.kinds = availableMapKinds(info->config, /*includeLogits=*/false);
    options.images = images;
    options.numbers = numbers;
    auto* batch = new BatchExport(m_engine, *info, m_prompt->toPlainText(), options, this);
    connect(batch, &BatchExport::finished, this, [this, batch](bool ok, bool cancelled, const QString& message) {
        m_status->setText(message);
        if (!ok && !cancelled)
            showError(tr("Batch export failed"), message);
        batch->deleteLater();
        Q_EMIT batchExportFinished(ok, message);
    });
    batch->start();
    return folder;
}

void MainWindow::batchExport()
{
    if (!currentModel())
        return;
    const QString parent = QFileDialog::getExistingDirectory(
        this, tr("Batch export: choose a folder (a new subfolder is made)"), m_settings.lastFolder());
    if (parent.isEmpty())
        return;
    m_settings.setLastFolder(parent);
    QMessageBox box(QMessageBox::Question, tr("Batch export"),
        tr("Export every layer × head × map kind, each file with a provenance sidecar."), QMessageBox::NoButton, this);
    QPushButton* both = box.addButton(tr("PNG Images and .npy Numbers"), QMessageBox::AcceptRole);
    QPushButton* numbers = box.addButton(tr(".npy Numbers Only"), QMessageBox::AcceptRole);
    box.addButton(QMessageBox::Cancel);
    box.setDefaultButton(both);
    box.exec();
    if (box.clickedButton() != both && box.clickedButton() != numbers)
        return;
    startBatchExport(parent, /*images=*/box.clickedButton() == both, /*numbers=*/true);
}

} // namespace attn::app
