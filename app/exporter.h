// SPDX-License-Identifier: GPL-3.0-or-later
// Export of views (PNG/PDF/SVG) and map numbers (NPY/CSV), each with a provenance sidecar `<file>.json`.
#pragma once

#include "attnscope/export.h"

#include <QJsonObject>
#include <QString>
#include <QStringList>

#include <optional>

class QWidget;

namespace attn {
struct AttentionMap;
}

namespace attn::app {

/// What a sidecar says for the weights' SHA-256 while it is still being computed (right after a multi-GB load).
QString pendingHashNote();

class HeatmapPanel;

/**
 * Where an exported picture or array came from: core's value (attnscope/export.h), filled from the result that
 * produced the data (MainWindow::resultProvenance, BatchExport), never from what the widgets show now. Every
 * sidecar is core's provenanceJson, the same as the CLI's maps.json; front_end names the app and its Qt.
 */
using Provenance = attn::Provenance;

/// "attnscope VERSION (Qt X.Y.Z)": the front_end of every sidecar the app writes.
std::string appFrontEnd();

/// The sidecar's JSON (core's provenanceJson) as a Qt object, e.g. for an SVG's <desc>.
QJsonObject toJson(const Provenance& provenance);

enum class ImageFormat { Png, Pdf, Svg };
/// Format from the file suffix (case-insensitive); nullopt for anything else.
std::optional<ImageFormat> imageFormatForPath(const QString& path);

struct ImageOptions {
    int width = 0; ///< logical pixels; 0 = the widget's current width
    int height = 0; ///< logical pixels; 0 = the widget's current height
    double dpi = 96.0; ///< PNG: pixels = logical size * dpi / 96, stored as the image's resolution; PDF/SVG: unused
};

struct ExportResult {
    bool ok = false;
    QString message; ///< for a person: what was written, or what failed and where
    QStringList written; ///< every file actually created or replaced (also on partial failure)
};

/**
 * One heatmap panel through QCustomPlot's own export (savePng, savePdf; toPainter into QSvgGenerator for SVG),
 * plus the sidecar `path + ".json"`. Both files are replaced atomically. If either exists and !overwrite, nothing
 * is written and the result names the file.
 */
ExportResult exportPanelImage(HeatmapPanel* panel, const QString& path, const ImageOptions& options,
    const Provenance& provenance, bool overwrite);

/**
 * A whole view (several panels, labels, read-outs) at the requested size. Plots inside are drawn through
 * QCustomPlot::toPainter, so PDF and SVG keep vector axes and text and a high-DPI PNG is sharp rather than an
 * upscaled screen grab. Same sidecar and overwrite rules as exportPanelImage.
 */
ExportResult exportWidgetImage(
    QWidget* view, const QString& path, const ImageOptions& options, const Provenance& provenance, bool overwrite);

/**
 * The numbers of one map: `.npy` (float32 rows x cols, NaN = masked) or `.csv` (core's regionCsv: a header row
 * of the key tokens or token blocks the columns cover, a leading column of the query tokens or blocks, masked
 * cells empty), plus the sidecar. The labels are provenance.tokenDisplay (indices where it is empty); the
 * sidecar also records the map's geometry (region, first query/key, block, shape).
 */
ExportResult exportMapData(
    const attn::AttentionMap& map, const QString& path, const Provenance& provenance, bool overwrite);

/**
 * Text or bytes produced elsewhere (a metrics table from core's metricsCsv/metricsJson) plus the sidecar: same
 * atomic writes and overwrite rule as the other exports.
 */
ExportResult exportBytes(const QByteArray& bytes, const QString& path, const Provenance& provenance, bool overwrite);

/// e.g. "tiny-diff_L3_H1_D.png": model directory name, layer, head, kind; only [A-Za-z0-9._-] survive.
QString suggestedFileName(const Provenance& provenance, const QString& suffix);

} // namespace attn::app
