// SPDX-License-Identifier: GPL-3.0-or-later
// Export of views (PNG/PDF/SVG) and map numbers (NPY/CSV), each with a provenance sidecar `<file>.json`.
#pragma once

#include <QJsonObject>
#include <QString>
#include <QStringList>

#include <limits>
#include <optional>

class QWidget;

namespace attn {
struct AttentionMap;
}

namespace attn::app {

/// What a sidecar says for the weights' SHA-256 while it is still being computed (right after a multi-GB load).
QString pendingHashNote();

class HeatmapPanel;

/// Where an exported picture or array came from; unknown numbers stay -1 / NaN and are written as null.
struct Provenance {
    QString modelPath;
    QString modelSha256;
    QString prompt;
    QStringList tokens;
    int layer = -1;
    int head = -1;
    QString mapKind;
    double lambda = std::numeric_limits<double>::quiet_NaN();
    double colorLow = std::numeric_limits<double>::quiet_NaN();
    double colorHigh = std::numeric_limits<double>::quiet_NaN();
    QString device;
    QString dtype;
};

/// Provenance plus "attnscope_version", "created" (ISO-8601 UTC) and "qt_version". Keys follow the CLI's
/// maps.json manifest ("model": {"path", "sha256"}, "lambda", "device", "dtype").
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
 * The numbers of one map: `.npy` (float32 rows x cols, NaN = masked) or `.csv` (header row of key tokens, a
 * leading column of query tokens, masked cells empty), plus the sidecar. `tokens` may be empty (indices are used).
 */
ExportResult exportMapData(const attn::AttentionMap& map, const QStringList& tokens, const QString& path,
    const Provenance& provenance, bool overwrite);

/**
 * Text or bytes produced elsewhere (a metrics table from core's metricsCsv/metricsJson) plus the sidecar: same
 * atomic writes and overwrite rule as the other exports.
 */
ExportResult exportBytes(const QByteArray& bytes, const QString& path, const Provenance& provenance, bool overwrite);

/// e.g. "tiny-diff_L3_H1_D.png": model directory name, layer, head, kind; only [A-Za-z0-9._-] survive.
QString suggestedFileName(const Provenance& provenance, const QString& suffix);

} // namespace attn::app
