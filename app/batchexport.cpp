// SPDX-License-Identifier: GPL-3.0-or-later
#include "batchexport.h"

#include "heatmappanel.h"

#include <QDir>
#include <QFile>
#include <QProgressDialog>
#include <QTimer>

namespace attn::app {

BatchExport::BatchExport(
    Engine* engine, const ModelInfo& model, const QString& prompt, Options options, QWidget* parent)
    : QObject(parent)
    , m_engine(engine)
    , m_model(model)
    , m_prompt(prompt)
    , m_options(std::move(options))
{
    m_total
        = static_cast<int>(model.config.nLayers * model.config.nHeads * static_cast<int64_t>(m_options.kinds.size()));
    m_progress = new QProgressDialog(
        tr("Exporting %1 maps to %2…").arg(m_total).arg(m_options.folder), tr("Cancel"), 0, m_total, parent);
    m_progress->setWindowTitle(tr("Batch export"));
    m_progress->setMinimumDuration(0);
    // The hidden panel renders the images exactly as the view would show them.
    m_panel = new HeatmapPanel(nullptr);
    m_panel->resize(640, 600);
    m_panel->setAttribute(Qt::WA_DontShowOnScreen);
    connect(m_progress, &QProgressDialog::canceled, this, [this] {
        m_engine->cancelBatch();
        finish(false, tr("cancelled after %1 of %2 maps").arg(m_done).arg(m_total), /*cancelled=*/true);
    });
    connect(m_engine, &Engine::batchLayer, this, &BatchExport::onLayer);
    // A batch started right after a load names the weights' SHA-256 once it is known.
    connect(m_engine, &Engine::modelHashed, this, [this](int modelId, const QString& sha256) {
        if (modelId == m_model.id)
            m_model.sha256 = sha256;
    });
    connect(m_engine, &Engine::batchDone, this, [this](quint64 id, const QString& error, bool cancelled) {
        if (id != m_requestId)
            return;
        m_engineDone = true;
        if (!error.isEmpty())
            finish(false, error, cancelled);
        else if (m_queue.empty())
            finish(true, QString());
    });
}

BatchExport::~BatchExport()
{
    delete m_panel;
}

QString BatchExport::numbersFolder(const QString& folder)
{
    return QDir(folder).filePath(QStringLiteral("maps"));
}

void BatchExport::start()
{
    if (!QDir().mkpath(m_options.folder)) {
        finish(false, tr("cannot create the folder %1").arg(m_options.folder));
        return;
    }
    if (m_options.numbers) {
        auto bundle = attn::MapsBundleWriter::begin(
            QFile::encodeName(numbersFolder(m_options.folder)).toStdString(), {/*overwrite=*/false});
        if (!bundle) {
            finish(false, QString::fromStdString(bundle.message()));
            return;
        }
        m_bundle = std::move(*bundle);
    }
    m_requestId = m_engine->batchCapture(m_model.id, m_prompt, m_options.kinds);
}

void BatchExport::onLayer(quint64 requestId, const CaptureResult& layer, const QStringList& tokens)
{
    if (requestId != m_requestId || m_finished)
        return;
    m_lambda = layer.lambda;
    m_tokens = layer.tokens;
    m_display = tokens;
    const bool idle = m_queue.empty();
    for (const AttentionMap& map : layer.maps)
        m_queue.emplace_back(map, tokens);
    if (idle)
        QTimer::singleShot(0, this, &BatchExport::processNext);
}

void BatchExport::processNext()
{
    if (m_finished || m_queue.empty())
        return;
    const auto [map, tokens] = std::move(m_queue.front());
    m_queue.pop_front();
    Provenance p = provenanceOf(&map, tokens);
    if (m_bundle) {
        if (const Status s = m_bundle->add(map); !s)
            return finish(false, QString::fromStdString(s.message()));
        m_stagedNumbers << QDir(numbersFolder(m_options.folder))
                               .filePath(QString::fromStdString(attn::MapsBundleWriter::fileName(map)));
    }
    if (m_options.images) {
        PanelMap panelMap;
        panelMap.kind = QString::fromStdString(p.kind);
        panelMap.title = QStringLiteral("L%1 H%2 %3").arg(p.layer).arg(p.head).arg(panelMap.kind);
        panelMap.rows = static_cast<int>(map.rows);
        panelMap.cols = static_cast<int>(map.cols);
        panelMap.values = map.values;
        panelMap.isSigned = isSignedMap(map.kind);
        panelMap.tokens = tokens;
        m_panel->setMap(panelMap);
        std::tie(p.colorLow, p.colorHigh) = m_panel->colorRange();
        p.colorScale = panelMap.isSigned ? "diverging" : "sequential";
        ImageOptions options;
        options.dpi = m_options.dpi;
        const QString base = QDir(m_options.folder).filePath(suggestedFileName(p, QString()));
        const ExportResult r
            = exportPanelImage(m_panel, base + QStringLiteral(".png"), options, p, /*overwrite=*/false);
        m_written << r.written;
        if (!r.ok)
            return finish(false, r.message);
    }
    m_progress->setValue(++m_done);
    if (!m_queue.empty())
        QTimer::singleShot(0, this, &BatchExport::processNext); // one map per event-loop turn: the UI stays live
    else if (m_engineDone)
        finish(true, QString());
}

Provenance BatchExport::provenanceOf(const AttentionMap* map, const QStringList& tokens) const
{
    Provenance p;
    p.modelPath = m_model.path.toStdString();
    p.modelName = m_model.name.toStdString();
    p.modelFormat = m_model.format.toStdString();
    p.weightsSha256 = m_model.sha256.isEmpty() ? std::string(attn::kPendingWeightsHash) : m_model.sha256.toStdString();
    p.attention = toString(m_model.config.attention);
    p.position = toString(m_model.config.position);
    p.device = m_model.device.toStdString();
    p.dtype = m_model.dtype.toStdString();
    p.prompt = m_prompt.toStdString();
    p.tokens = m_tokens;
    for (const QString& token : tokens)
        p.tokenDisplay.push_back(token.toStdString());
    p.lambdaPerLayer = m_lambda;
    p.requestId = m_requestId;
    p.region = "full";
    p.frontEnd = appFrontEnd();
    if (map)
        describeMap(p, *map);
    return p;
}

void BatchExport::finish(bool ok, const QString& why, bool cancelled)
{
    if (m_finished)
        return;
    m_finished = true;
    QString message = why;
    if (ok && m_bundle) {
        // The numbers appear in one step, complete, with the manifest naming every file.
        if (const Status s = m_bundle->commit(provenanceOf(nullptr, m_display)); !s) {
            ok = false;
            message = QString::fromStdString(s.message());
        } else {
            m_written << m_stagedNumbers << numbersFolder(m_options.folder) + QStringLiteral("/maps.json");
        }
    }
    m_bundle.reset(); // after a cancel or failure: removes the staged numbers
    if (!ok)
        m_engine->cancelBatch();
    m_queue.clear();
    m_progress->reset();
    m_progress->deleteLater();
    Q_EMIT finished(
        ok, cancelled, ok ? tr("exported %1 files to %2").arg(m_written.size()).arg(m_options.folder) : message);
}

} // namespace attn::app
