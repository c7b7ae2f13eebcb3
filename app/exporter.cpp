// SPDX-License-Identifier: GPL-3.0-or-later
#include "exporter.h"

#include "attnscope/export.h"
#include "attnscope/maps.h"
#include "attnscope/npy.h"
#include "heatmappanel.h"

#if defined(QT_NO_KEYWORDS)
#error "exporter.cpp includes qcustomplot.h, which needs Qt keywords: do not define QT_NO_KEYWORDS for this target"
#endif
#include <qcustomplot.h>

#include <QBuffer>
#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <QImage>
#include <QJsonDocument>
#include <QPageLayout>
#include <QPdfWriter>
#include <QRegularExpression>
#include <QSaveFile>
#include <QSvgGenerator>
#include <QTemporaryFile>
#include <QWidget>

#include <algorithm>
#include <cmath>
#include <functional>
#include <variant>

namespace attn::app {

QString pendingHashNote()
{
    return QString::fromUtf8(attn::kPendingWeightsHash);
}

std::string appFrontEnd()
{
    QString version = QCoreApplication::applicationVersion();
#ifdef ATTNSCOPE_VERSION
    if (version.isEmpty())
        version = QStringLiteral(ATTNSCOPE_VERSION); // tests and tools that never set the application version
#endif
    return QStringLiteral("attnscope %1 (Qt %2)").arg(version, QString::fromLatin1(qVersion())).toStdString();
}

namespace {

// QPainter cannot paint devices wider or taller than this (and QImage allocation fails long before); refusing up
// front gives a clear message instead of a null image.
constexpr int kMaxPixels = 32767;

QString sidecarPath(const QString& path)
{
    return path + QStringLiteral(".json");
}

ExportResult failure(const QString& message, QStringList written = {})
{
    return {false, message, std::move(written)};
}

/// Checked before anything is rendered, so a refusal leaves the directory exactly as it was.
std::optional<QString> refusal(const QString& path, bool overwrite)
{
    if (path.isEmpty())
        return QStringLiteral("No file name given.");
    if (QFileInfo(path).isDir())
        return QStringLiteral("%1 is a directory.").arg(QDir::toNativeSeparators(path));
    if (overwrite)
        return std::nullopt;
    for (const QString& file : {path, sidecarPath(path)}) {
        if (QFileInfo::exists(file))
            return QStringLiteral("%1 already exists; not overwritten.").arg(QDir::toNativeSeparators(file));
    }
    return std::nullopt;
}

/// QSaveFile writes a temporary sibling and renames it over the target on commit: a reader never sees a half
/// file, a failed write leaves the old one, and the new file gets normal permissions (unlike a QTemporaryFile).
bool writeAtomic(const QString& path, const QByteArray& bytes, QString* error)
{
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly)) {
        *error = QStringLiteral("Cannot write %1: %2").arg(QDir::toNativeSeparators(path), file.errorString());
        return false;
    }
    if (file.write(bytes) != bytes.size() || !file.commit()) {
        *error = QStringLiteral("Cannot write %1: %2").arg(QDir::toNativeSeparators(path), file.errorString());
        file.cancelWriting(); // no-op after a failed commit; removes the temporary after a failed write
        return false;
    }
    return true;
}

/// QCustomPlot's savePng/savePdf only take a file name and write in place. They render into a temporary sibling
/// (removed by QTemporaryFile whatever happens) whose bytes are then committed atomically.
std::optional<QByteArray> renderViaTemporaryFile(
    const QString& path, const std::function<bool(const QString&)>& render, QString* error)
{
    const QFileInfo info(path);
    QTemporaryFile temporary(info.absolutePath() + QStringLiteral("/.") + info.fileName() + QStringLiteral(".XXXXXX"));
    if (!temporary.open()) {
        *error = QStringLiteral("Cannot create a temporary file in %1: %2")
                     .arg(QDir::toNativeSeparators(info.absolutePath()), temporary.errorString());
        return std::nullopt;
    }
    temporary.close(); // the renderer reopens it by name
    if (!render(temporary.fileName())) {
        *error = QStringLiteral("Rendering %1 failed.").arg(QDir::toNativeSeparators(path));
        return std::nullopt;
    }
    QFile rendered(temporary.fileName());
    if (!rendered.open(QIODevice::ReadOnly)) {
        *error = QStringLiteral("Cannot read back %1: %2").arg(rendered.fileName(), rendered.errorString());
        return std::nullopt;
    }
    return rendered.readAll();
}

/// Writes the sidecar of a file already written (core's writeSidecar: the CLI's provenance, the same keys);
/// reports which files exist afterwards if that fails.
ExportResult finish(const QString& path, const Provenance& provenance)
{
    Provenance p = provenance;
    if (p.frontEnd.empty())
        p.frontEnd = appFrontEnd();
    if (const Status s = attn::writeSidecar(QFile::encodeName(path).toStdString(), p); !s)
        return failure(QStringLiteral("%1 was written, but its provenance file was not. %2")
                           .arg(QDir::toNativeSeparators(path), QString::fromStdString(s.message())),
            {path});
    return {true, QStringLiteral("Wrote %1").arg(QDir::toNativeSeparators(path)), {path, sidecarPath(path)}};
}

ExportResult commit(const QString& path, const QByteArray& bytes, const Provenance& provenance)
{
    QString error;
    return writeAtomic(path, bytes, &error) ? finish(path, provenance) : failure(error);
}

/// Everything an image export checks before rendering: overwrite policy, type, size. Returns the format or why not.
std::variant<ImageFormat, QString> checkImage(
    const QString& path, const ImageOptions& options, QSize size, bool overwrite)
{
    if (auto reason = refusal(path, overwrite))
        return *reason;
    const auto format = imageFormatForPath(path);
    if (!format)
        return QStringLiteral("Unsupported image type for %1 (use .png, .pdf or .svg).").arg(path);
    if (!(options.dpi > 0.0) || !std::isfinite(options.dpi))
        return QStringLiteral("Invalid resolution %1 dpi.").arg(options.dpi);
    if (options.width < 0 || options.height < 0 || size.isEmpty())
        return QStringLiteral("Invalid image size %1 x %2.").arg(size.width()).arg(size.height());
    const double scale = *format == ImageFormat::Png ? options.dpi / 96.0 : 1.0;
    if (std::max(size.width(), size.height()) * scale > kMaxPixels)
        return QStringLiteral("%1 x %2 at %3 dpi is too large (at most %4 pixels a side).")
            .arg(QString::number(size.width()), QString::number(size.height()), QString::number(options.dpi),
                QString::number(kMaxPixels));
    return *format;
}

QSize exportSize(const ImageOptions& options, const QWidget* widget)
{
    return {
        options.width > 0 ? options.width : widget->width(), options.height > 0 ? options.height : widget->height()};
}

/// A model is named by its directory: a path to config.json or model.safetensors says nothing on its own.
QString modelName(const QString& modelPath)
{
    if (modelPath.isEmpty())
        return {};
    const QFileInfo model(QDir::cleanPath(modelPath));
    const QString name = model.fileName();
    if (name.endsWith(QLatin1String(".json"), Qt::CaseInsensitive)
        || name.endsWith(QLatin1String(".safetensors"), Qt::CaseInsensitive))
        return model.dir().dirName();
    return name;
}

QString documentTitle(const Provenance& provenance)
{
    QStringList parts {QStringLiteral("attnscope")};
    if (const QString model = modelName(QString::fromStdString(provenance.modelPath)); !model.isEmpty())
        parts << model;
    if (provenance.layer >= 0)
        parts << QStringLiteral("layer %1").arg(provenance.layer);
    if (provenance.head >= 0)
        parts << QStringLiteral("head %1").arg(provenance.head);
    if (!provenance.kind.empty())
        parts << QString::fromStdString(provenance.kind);
    // Qt 6.4's QSvgGenerator writes <title> and <desc> unescaped; look-alikes keep the SVG well-formed whether or
    // not a later Qt escapes them itself.
    QString title = parts.join(QStringLiteral(" · "));
    title.replace(QLatin1Char('&'), QChar(0xFF06)).replace(QLatin1Char('<'), QChar(0xFF1C));
    return title.replace(QLatin1Char('>'), QChar(0xFF1E));
}

/// Compact provenance JSON safe inside XML text: <, > and & only occur in JSON strings, where \uXXXX escapes
/// mean the same characters to any JSON reader.
QString jsonForXml(const Provenance& provenance)
{
    QString json = QString::fromUtf8(QJsonDocument(toJson(provenance)).toJson(QJsonDocument::Compact));
    json.replace(QLatin1Char('&'), QStringLiteral("\\u0026")).replace(QLatin1Char('<'), QStringLiteral("\\u003c"));
    return json.replace(QLatin1Char('>'), QStringLiteral("\\u003e"));
}

QString creator()
{
    return QStringLiteral("attnscope %1").arg(QCoreApplication::applicationVersion());
}

/// SVG of anything that paints itself onto a QCPPainter; the provenance also goes into the file's <desc>.
QByteArray renderSvg(
    int width, int height, int logicalDpi, const Provenance& provenance, const std::function<void(QCPPainter&)>& draw)
{
    QBuffer buffer;
    buffer.open(QIODevice::WriteOnly);
    QSvgGenerator generator;
    generator.setOutputDevice(&buffer);
    generator.setSize(QSize(width, height));
    generator.setViewBox(QRect(0, 0, width, height));
    // The on-screen dpi: fonts are sized from it, so text keeps its on-screen proportions to the layout.
    generator.setResolution(logicalDpi);
    generator.setTitle(documentTitle(provenance));
    generator.setDescription(jsonForXml(provenance));
    QCPPainter painter;
    if (!painter.begin(&generator))
        return {};
    // As savePdf does: vectorised mode makes QCustomPlot embed colour maps as oversampled images, and caching
    // (pixmaps of labels) would turn text into bitmaps.
    painter.setMode(QCPPainter::pmVectorized);
    painter.setMode(QCPPainter::pmNoCaching);
    draw(painter);
    painter.end();
    return buffer.data();
}

/// Paints a widget tree onto `painter` (already scaled to the widget's logical coordinates). Plots go through
/// toPainter instead of QWidget::render, which would only copy their screen-resolution paint buffers.
void renderTree(QWidget* widget, QCPPainter& painter, bool root)
{
    if (auto* plot = qobject_cast<QCustomPlot*>(widget)) {
        plot->toPainter(&painter, plot->width(), plot->height());
        return;
    }
    widget->render(&painter, QPoint(), QRegion(), root ? QWidget::DrawWindowBackground : QWidget::RenderFlags());
    for (QObject* object : widget->children()) {
        auto* child = qobject_cast<QWidget*>(object);
        if (!child || child->isWindow() || !child->isVisibleTo(widget))
            continue;
        painter.save();
        painter.translate(child->pos());
        painter.setClipRect(QRect(QPoint(), child->size()), Qt::IntersectClip);
        renderTree(child, painter, false);
        painter.restore();
    }
}

} // namespace

QJsonObject toJson(const Provenance& provenance)
{
    Provenance p = provenance;
    if (p.frontEnd.empty())
        p.frontEnd = appFrontEnd();
    return QJsonDocument::fromJson(QByteArray::fromStdString(attn::provenanceJson(p))).object();
}

std::optional<ImageFormat> imageFormatForPath(const QString& path)
{
    const QString suffix = QFileInfo(path).suffix().toLower();
    if (suffix == QLatin1String("png"))
        return ImageFormat::Png;
    if (suffix == QLatin1String("pdf"))
        return ImageFormat::Pdf;
    if (suffix == QLatin1String("svg"))
        return ImageFormat::Svg;
    return std::nullopt;
}

ExportResult exportPanelImage(
    HeatmapPanel* panel, const QString& path, const ImageOptions& options, const Provenance& provenance, bool overwrite)
{
    if (!panel || !panel->plot())
        return failure(QStringLiteral("Nothing to export."));
    QCustomPlot* plot = panel->plot();
    const QSize size = exportSize(options, plot);
    const auto checked = checkImage(path, options, size, overwrite);
    if (const auto* reason = std::get_if<QString>(&checked))
        return failure(*reason);
    const int width = size.width();
    const int height = size.height();
    const double scale = options.dpi / 96.0;

    QString error;
    std::optional<QByteArray> bytes;
    switch (std::get<ImageFormat>(checked)) {
    case ImageFormat::Png:
        bytes = renderViaTemporaryFile(
            path,
            [&](const QString& file) {
                return plot->savePng(
                    file, width, height, scale, /*quality=*/-1, qRound(options.dpi), QCP::ruDotsPerInch);
            },
            &error);
        break;
    case ImageFormat::Pdf:
        bytes = renderViaTemporaryFile(
            path,
            [&](const QString& file) {
                return plot->savePdf(file, width, height, QCP::epAllowCosmetic, creator(), documentTitle(provenance));
            },
            &error);
        break;
    case ImageFormat::Svg:
        bytes = renderSvg(width, height, plot->logicalDpiX(), provenance,
            [&](QCPPainter& painter) { plot->toPainter(&painter, width, height); });
        if (bytes->isEmpty()) {
            bytes.reset();
            error = QStringLiteral("Rendering %1 failed.").arg(QDir::toNativeSeparators(path));
        }
        break;
    }
    // toPainter lays the plot out for the export size and leaves it so; re-lay it out for the screen, or hover
    // and zoom would map pixels with the export geometry until the next replot.
    plot->replot(QCustomPlot::rpQueuedReplot);
    if (!bytes)
        return failure(error);
    return commit(path, *bytes, provenance);
}

ExportResult exportWidgetImage(
    QWidget* view, const QString& path, const ImageOptions& options, const Provenance& provenance, bool overwrite)
{
    if (!view || view->width() <= 0 || view->height() <= 0)
        return failure(QStringLiteral("Nothing to export."));
    const QSize size = exportSize(options, view);
    const auto checked = checkImage(path, options, size, overwrite);
    if (const auto* reason = std::get_if<QString>(&checked))
        return failure(*reason);
    const int width = size.width();
    const int height = size.height();
    const double scale = options.dpi / 96.0;

    // The view keeps its on-screen layout; a requested size different from it stretches the drawing to fit.
    const auto draw = [&](QCPPainter& painter, double deviceWidth, double deviceHeight) {
        painter.scale(deviceWidth / view->width(), deviceHeight / view->height());
        renderTree(view, painter, /*root=*/true);
    };
    QByteArray bytes;
    switch (std::get<ImageFormat>(checked)) {
    case ImageFormat::Png: {
        QImage image(qRound(width * scale), qRound(height * scale), QImage::Format_ARGB32_Premultiplied);
        if (image.isNull())
            return failure(
                QStringLiteral("Not enough memory for a %1 x %2 image.").arg(image.width()).arg(image.height()));
        image.fill(view->palette().color(QPalette::Window));
        // Fonts are sized from the device's dpi: paint at the screen's, or text would grow with the export dpi on
        // top of the painter scale. The requested dpi is only the file's metadata.
        image.setDotsPerMeterX(qRound(view->logicalDpiX() / 0.0254));
        image.setDotsPerMeterY(qRound(view->logicalDpiY() / 0.0254));
        {
            QCPPainter painter(&image);
            // Without it QCustomPlot keeps 1-px cosmetic pens, which turn hairline at 2x (as in its own savePng).
            painter.setMode(QCPPainter::pmNonCosmetic, scale > 1.0);
            draw(painter, image.width(), image.height());
        }
        image.setDotsPerMeterX(qRound(options.dpi / 0.0254));
        image.setDotsPerMeterY(qRound(options.dpi / 0.0254));
        QBuffer buffer(&bytes);
        buffer.open(QIODevice::WriteOnly);
        if (!image.save(&buffer, "PNG"))
            return failure(QStringLiteral("Encoding %1 failed.").arg(QDir::toNativeSeparators(path)));
        break;
    }
    case ImageFormat::Pdf: {
        QBuffer buffer(&bytes);
        buffer.open(QIODevice::WriteOnly);
        QPdfWriter writer(&buffer);
        writer.setCreator(creator());
        writer.setTitle(documentTitle(provenance));
        // The screen's dpi, as QCustomPlot::savePdf's QPrinter::ScreenResolution: fonts keep their on-screen size
        // relative to the layout. A PDF is vector, so the requested dpi has nothing to change.
        writer.setResolution(view->logicalDpiX());
        // One logical pixel per point, as QCustomPlot::savePdf does, so a panel and a view export match in size.
        writer.setPageLayout(
            QPageLayout(QPageSize(QSizeF(width, height), QPageSize::Point, QString(), QPageSize::ExactMatch),
                QPageLayout::Portrait, QMarginsF()));
        QCPPainter painter;
        if (!painter.begin(&writer))
            return failure(QStringLiteral("Cannot start a PDF for %1.").arg(QDir::toNativeSeparators(path)));
        painter.setMode(QCPPainter::pmVectorized);
        painter.setMode(QCPPainter::pmNoCaching);
        draw(painter, writer.width(), writer.height());
        painter.end();
        break;
    }
    case ImageFormat::Svg:
        bytes = renderSvg(
            width, height, view->logicalDpiX(), provenance, [&](QCPPainter& painter) { draw(painter, width, height); });
        if (bytes.isEmpty())
            return failure(QStringLiteral("Rendering %1 failed.").arg(QDir::toNativeSeparators(path)));
        break;
    }
    return commit(path, bytes, provenance);
}

ExportResult exportBytes(const QByteArray& bytes, const QString& path, const Provenance& provenance, bool overwrite)
{
    if (auto reason = refusal(path, overwrite))
        return failure(*reason);
    return commit(path, bytes, provenance);
}

ExportResult exportMapData(
    const attn::AttentionMap& map, const QString& path, const Provenance& provenance, bool overwrite)
{
    if (auto reason = refusal(path, overwrite))
        return failure(*reason);
    if (map.rows <= 0 || map.cols <= 0 || map.values.size() != static_cast<size_t>(map.rows * map.cols))
        return failure(QStringLiteral("The map has no data (or its size does not match its shape)."));
    // The sidecar describes this array: its own layer, head, kind and cells, whatever the caller filled in.
    Provenance p = provenance;
    p.layer = map.layer;
    p.head = map.head;
    p.kind = toString(map.kind);
    attn::AttentionMap geometry = map;
    geometry.values.clear();
    p.regionOf = std::move(geometry);

    const QString suffix = QFileInfo(path).suffix().toLower();
    if (suffix == QLatin1String("npy")) {
        // The core writer is atomic itself (temporary sibling + rename).
        const Status status
            = attn::writeNpyFloat32(QFile::encodeName(path).toStdString(), map.values.data(), {map.rows, map.cols});
        return status ? finish(path, p) : failure(QString::fromStdString(status.message()));
    }
    if (suffix == QLatin1String("csv")) // core's CSV, labelled with the tokens or blocks the cells cover
        return commit(path, QByteArray::fromStdString(attn::regionCsv(map, p.tokenDisplay)), p);
    return failure(QStringLiteral("Unsupported data type for %1 (use .npy or .csv).").arg(path));
}

QString suggestedFileName(const Provenance& provenance, const QString& suffix)
{
    const auto sanitise = [](QString text) {
        // One underscore per run of spaces, brackets, non-ASCII...; no leading dot (a hidden file), no dangling '_'.
        static const QRegularExpression disallowed(QStringLiteral("[^A-Za-z0-9._-]+"));
        static const QRegularExpression edges(QStringLiteral("^[._]+|_+$"));
        return text.replace(disallowed, QStringLiteral("_")).remove(edges);
    };

    const QString model = sanitise(modelName(QString::fromStdString(provenance.modelPath)));
    QStringList parts {model.isEmpty() ? QStringLiteral("attnscope") : model};
    if (provenance.layer >= 0)
        parts << QStringLiteral("L%1").arg(provenance.layer);
    if (provenance.head >= 0)
        parts << QStringLiteral("H%1").arg(provenance.head);
    if (const QString kind = sanitise(QString::fromStdString(provenance.kind)); !kind.isEmpty())
        parts << kind;
    QString ext = sanitise(suffix);
    return ext.isEmpty() ? parts.join(QLatin1Char('_')) : parts.join(QLatin1Char('_')) + QLatin1Char('.') + ext;
}

} // namespace attn::app
