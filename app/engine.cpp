// SPDX-License-Identifier: GPL-3.0-or-later
#include "engine.h"

#include "attnscope/model.h"
#include "attnscope/pooling.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QThread>
#include <QTimer>

#include <algorithm>
#include <map>
#include <optional>
#include <set>

namespace attn::app {

/// Lives on the engine thread. Every method is called there (RT_ = runs on the engine thread).
class EngineWorker : public QObject {
    Q_OBJECT
public:
    EngineWorker(std::shared_ptr<std::atomic<quint64>> latestRun, std::shared_ptr<std::atomic<bool>> cancel,
        std::shared_ptr<std::atomic<quint64>> cancelledUpTo, std::shared_ptr<std::atomic<quint64>> latestCompare,
        std::shared_ptr<std::atomic<bool>> compareCancel)
        : m_latestRun(std::move(latestRun))
        , m_cancel(std::move(cancel))
        , m_cancelledUpTo(std::move(cancelledUpTo))
        , m_latestCompare(std::move(latestCompare))
        , m_compareCancel(std::move(compareCancel))
    {
    }

    void RT_batch(quint64 requestId, int modelId, const QString& prompt, const std::vector<MapKind>& kinds,
        std::shared_ptr<std::atomic<bool>> cancel)
    {
        auto it = m_models.find(modelId);
        if (it == m_models.end()) {
            Q_EMIT batchDone(requestId, QStringLiteral("the model is no longer loaded"));
            return;
        }
        Model& model = *it->second;
        const std::vector<int64_t> tokens = model.tokenizer().encode(prompt.toStdString());
        QStringList display;
        for (int64_t id : tokens)
            display << QString::fromStdString(model.tokenizer().display(id));
        RunControl control;
        control.cancel = cancel.get();
        // One layer per capture bounds memory at heads x kinds x T^2 floats, whatever the model's depth.
        for (int64_t layer = 0; layer < model.config().nLayers; ++layer) {
            if (cancel->load()) {
                Q_EMIT batchDone(requestId, QStringLiteral("cancelled"));
                return;
            }
            CaptureRequest request {tokens, {}, kinds};
            for (int64_t head = 0; head < model.config().nHeads; ++head)
                request.heads.push_back({layer, head});
            auto result = model.capture(request, control);
            if (!result) {
                Q_EMIT batchDone(requestId, QString::fromStdString(result.message()));
                return;
            }
            Q_EMIT batchLayer(requestId, *result, display);
        }
        Q_EMIT batchDone(requestId, QString());
    }

    void RT_compare(quint64 requestId, const std::vector<int>& modelIds, const QString& prompt, const HeadRef& ref,
        CompareKind kind, MapKind exact)
    {
        if (requestId != m_latestCompare->load())
            return;
        m_compareCancel->store(false);
        RunControl control;
        control.cancel = m_compareCancel.get();
        CompareOutput out;
        out.requestId = requestId;
        out.head = ref;
        out.kind = kind;
        for (int modelId : modelIds) {
            CompareEntry entry;
            entry.modelId = modelId;
            RT_compareOne(modelId, prompt, ref, kind, exact, control, entry);
            out.entries.push_back(std::move(entry));
        }
        Q_EMIT compareFinished(out);
    }

    void RT_compareOne(int modelId, const QString& prompt, const HeadRef& ref, CompareKind kind, MapKind exact,
        const RunControl& control, CompareEntry& entry)
    {
        auto it = m_models.find(modelId);
        if (it == m_models.end()) {
            entry.error = QStringLiteral("not loaded");
            return;
        }
        Model& model = *it->second;
        const ModelConfig& c = model.config();
        if (ref.layer >= c.nLayers || ref.head >= c.nHeads) {
            entry.error = QStringLiteral("has no layer %1 head %2").arg(ref.layer).arg(ref.head);
            return;
        }
        if (kind == CompareKind::Exact) {
            const std::vector<MapKind> available = availableMapKinds(c, /*includeLogits=*/true);
            if (std::find(available.begin(), available.end(), exact) == available.end()) {
                entry.error
                    = QStringLiteral("has no %1 maps (%2 attention, %3 positions)")
                          .arg(QString::fromStdString(toString(exact)), QString::fromStdString(toString(c.attention)),
                              QString::fromStdString(toString(c.position)));
                return;
            }
        } else if (kind != CompareKind::Attention && !c.hasCope()) {
            entry.error = QStringLiteral("has no CoPE gates or positions");
            return;
        }
        const MapKind attention = c.isDiff() ? MapKind::D : MapKind::A;
        const std::vector<MapKind> gates = !c.hasCope() ? std::vector<MapKind> {}
            : c.isDiff()                                ? std::vector<MapKind> {MapKind::G1, MapKind::G2}
                                                        : std::vector<MapKind> {MapKind::G};
        switch (kind) {
        case CompareKind::Attention:
            entry.kind = c.isDiff() ? MapKind::DN : MapKind::A;
            break;
        case CompareKind::Gates:
            entry.kind = c.isDiff() ? MapKind::G1 : MapKind::G;
            break;
        case CompareKind::Positions:
            entry.kind = c.isDiff() ? MapKind::P1 : MapKind::P;
            break;
        case CompareKind::Exact:
            entry.kind = exact;
            break;
        }
        std::vector<MapKind> kinds {attention, entry.kind};
        kinds.insert(kinds.end(), gates.begin(), gates.end());
        std::sort(kinds.begin(), kinds.end());
        kinds.erase(std::unique(kinds.begin(), kinds.end()), kinds.end());
        entry.tokens = model.tokenizer().encode(prompt.toStdString());
        auto result = model.capture({entry.tokens, {ref}, kinds}, control);
        if (!result) {
            entry.error = QString::fromStdString(result.message());
            return;
        }
        for (int64_t id : entry.tokens)
            entry.tokenDisplay << QString::fromStdString(model.tokenizer().display(id));
        entry.map = *result->find(ref.layer, ref.head, entry.kind);
        std::vector<const AttentionMap*> gateMaps;
        for (MapKind g : gates)
            gateMaps.push_back(result->find(ref.layer, ref.head, g));
        const double lambda = c.isDiff() ? result->lambda[static_cast<size_t>(ref.layer)] : kNoMetric;
        auto metrics
            = computeHeadMetrics(ref.layer, ref.head, *result->find(ref.layer, ref.head, attention), lambda, gateMaps);
        if (metrics)
            entry.metrics = *metrics;
    }

    void RT_load(quint64 requestId, const QString& path, const QString& device, const QString& dtype)
    {
        LoadOptions options;
        auto spec = DeviceSpec::parse(device.toStdString());
        auto type = parseComputeDType(dtype.toStdString());
        if (!spec || !type) {
            Q_EMIT loadFailed(requestId, path, QString::fromStdString(!spec ? spec.message() : type.message()));
            return;
        }
        options.device = *spec;
        options.dtype = *type;
        // A folder, a file inside a model folder (config.json, ...: the folder is meant), or a checkpoint file (.pt).
        QString dir = path;
        const QFileInfo picked(path);
        if (picked.isFile() && QFileInfo::exists(picked.absoluteDir().filePath(QStringLiteral("config.json"))))
            dir = picked.absolutePath();
        auto model = Model::load(dir.toStdString(), options);
        if (!model) {
            Q_EMIT loadFailed(requestId, path, QString::fromStdString(model.message()));
            return;
        }
        ModelInfo info;
        info.id = m_nextModelId++;
        info.path = QFileInfo(dir).absoluteFilePath();
        info.name = QFileInfo(dir).fileName();
        info.config = (*model)->config();
        info.parameters = (*model)->parameterCount();
        info.device = QString::fromStdString((*model)->deviceName());
        info.dtype = QString::fromStdString(toString((*model)->dtype()));
        // The SHA-256 of multi-GB weights is still being computed: it follows with modelHashed, never delaying the
        // load.
        watchHash(info.id);
        info.format = QString::fromStdString((*model)->format());
        for (const auto& [field, value] : (*model)->description())
            info.description.append({QString::fromStdString(field), QString::fromStdString(value)});
        info.tokenizer = (*model)->sharedTokenizer();
        QFile sample(QDir(QFileInfo(dir).isDir() ? dir : QFileInfo(dir).absolutePath())
                         .filePath(QStringLiteral("sample_prompt.txt")));
        if (sample.size() < (1 << 20) && sample.open(QIODevice::ReadOnly)) // a prompt, not a data set
            info.samplePrompt = QString::fromUtf8(sample.readAll()).trimmed();
        m_models[info.id] = std::move(model.value());
        Q_EMIT modelLoaded(requestId, info);
    }

    void RT_unload(int modelId) { m_models.erase(modelId); }

    /// Polls the models whose weights hash is still running (on this thread, between requests) and reports each once.
    void watchHash(int modelId)
    {
        m_hashPending.insert(modelId);
        if (!m_hashTimer) {
            m_hashTimer = new QTimer(this);
            m_hashTimer->setInterval(200);
            connect(m_hashTimer, &QTimer::timeout, this, [this] {
                for (auto it = m_hashPending.begin(); it != m_hashPending.end();) {
                    auto model = m_models.find(*it);
                    std::optional<std::string> digest;
                    if (model != m_models.end())
                        digest = model->second->weightsHashIfReady();
                    if (model == m_models.end() || digest) {
                        if (digest)
                            Q_EMIT modelHashed(*it, QString::fromStdString(*digest));
                        it = m_hashPending.erase(it);
                    } else {
                        ++it;
                    }
                }
                if (m_hashPending.empty())
                    m_hashTimer->stop();
            });
        }
        m_hashTimer->start();
    }

    void RT_run(quint64 requestId, int modelId, const QString& prompt, const std::vector<HeadRef>& heads,
        const std::vector<MapKind>& kinds, const MetricsRequest& metricsRequest, const MapRegion& region)
    {
        if (requestId != m_latestRun->load())
            return; // superseded while queued: skip without running
        auto it = m_models.find(modelId);
        if (it == m_models.end()) {
            Q_EMIT runFailed(requestId, QStringLiteral("the model is no longer loaded"));
            return;
        }
        Model& model = *it->second;
        m_cancel->store(false);
        // A Cancel pressed while this run was still queued must not be lost by the reset above.
        if (m_cancelledUpTo->load() >= requestId) {
            Q_EMIT runFailed(requestId, QStringLiteral("cancelled"));
            return;
        }
        Q_EMIT runStarted(requestId);
        QElapsedTimer timer;
        timer.start();
        RunControl control;
        control.cancel = m_cancel.get();
        control.onLayer = [this, requestId](int64_t done, int64_t total) {
            Q_EMIT runProgress(requestId, static_cast<int>(done), static_cast<int>(total));
        };
        CaptureRequest request {model.tokenizer().encode(prompt.toStdString()), heads, kinds};
        if (region.mode == MapRegion::Mode::Window)
            request.region = region;
        else if (static_cast<int64_t>(request.tokens.size()) > kLongPromptTokens)
            request.region = MapRegion::overview(kLongPromptOverview, PoolMode::Max);
        auto result = model.capture(request, control);
        if (!result) {
            Q_EMIT runFailed(requestId, QString::fromStdString(result.message()));
            return;
        }
        RunOutput output;
        output.requestId = requestId;
        output.modelId = modelId;
        output.prompt = prompt;
        for (int64_t id : result->tokens)
            output.tokenDisplay << QString::fromStdString(model.tokenizer().display(id));
        output.capture = std::move(result.value());
        if (metricsRequest.enabled)
            RT_metrics(model, request.tokens, metricsRequest, control, output);
        output.seconds = timer.nsecsElapsed() / 1e9;
        Q_EMIT runFinished(output);
    }

    /// One capture of every head's attention (A or D) and gates, reduced to numbers here.
    void RT_metrics(Model& model, const std::vector<int64_t>& tokens, const MetricsRequest& metricsRequest,
        const RunControl& control, RunOutput& output)
    {
        const ModelConfig& config = model.config();
        const MapKind attention = config.isDiff() ? MapKind::D : MapKind::A;
        std::vector<MapKind> kinds {attention};
        if (config.hasCope())
            for (MapKind k :
                config.isDiff() ? std::vector<MapKind> {MapKind::G1, MapKind::G2} : std::vector<MapKind> {MapKind::G})
                kinds.push_back(k);
        CaptureRequest request {tokens, {}, kinds};
        for (int64_t layer = 0; layer < config.nLayers; ++layer)
            for (int64_t head = 0; head < config.nHeads; ++head)
                request.heads.push_back({layer, head});
        if (static_cast<int64_t>(tokens.size()) > kLongPromptTokens) {
            // Full maps of every head would be layers x heads x N^2 floats: pool the thumbnails on the device
            // instead, and say why the table is empty.
            request.kinds = {attention};
            request.region = MapRegion::overview(kThumbnailSize, PoolMode::Max);
            auto pooled = model.capture(request, control);
            if (!pooled) {
                output.metricsError = QString::fromStdString(pooled.message());
                return;
            }
            for (const HeadRef& ref : request.heads)
                if (const AttentionMap* map = pooled->find(ref.layer, ref.head, attention))
                    output.thumbnails.push_back(*map);
            output.metricsError = QStringLiteral("per-head metrics need every head's full map: computed for prompts "
                                                 "of up to %1 tokens (this one has %2)")
                                      .arg(kLongPromptTokens)
                                      .arg(tokens.size());
            return;
        }
        auto all = model.capture(request, control);
        if (!all) {
            output.metricsError = QString::fromStdString(all.message());
            return;
        }
        std::map<int64_t, std::vector<SpanAttention>> byLayer;
        for (const HeadRef& ref : request.heads) {
            const double lambda = config.isDiff() ? all->lambda[static_cast<size_t>(ref.layer)] : kNoMetric;
            const AttentionMap* map = all->find(ref.layer, ref.head, attention);
            std::vector<const AttentionMap*> gates;
            for (size_t i = 1; i < kinds.size(); ++i)
                gates.push_back(all->find(ref.layer, ref.head, kinds[i]));
            auto metrics = computeHeadMetrics(ref.layer, ref.head, *map, lambda, gates);
            if (!metrics) {
                output.metricsError = QString::fromStdString(metrics.message());
                return;
            }
            output.metrics.push_back(*metrics);
            output.thumbnails.push_back(poolMap(*map, kThumbnailSize, PoolMode::Max, config.isDiff()));
            if (metricsRequest.spanBegin >= 0) {
                auto span = spanAttention(*map, lambda, metricsRequest.queryRows, metricsRequest.spanBegin,
                    metricsRequest.spanEnd, metricsRequest.noiseEnd);
                if (!span) {
                    output.metricsError = QString::fromStdString(span.message());
                    return;
                }
                output.spans.push_back({ref.layer, ref.head, *span});
                byLayer[ref.layer].push_back(*span);
            }
        }
        if (!byLayer.empty())
            if (auto average = paperAverage(byLayer))
                output.spanAverage = *average;
    }

Q_SIGNALS:
    void modelLoaded(quint64 requestId, const attn::app::ModelInfo& info);
    void modelHashed(int modelId, const QString& sha256);
    void loadFailed(quint64 requestId, const QString& path, const QString& message);
    void runStarted(quint64 requestId);
    void runProgress(quint64 requestId, int layersDone, int layersTotal);
    void runFinished(const attn::app::RunOutput& output);
    void runFailed(quint64 requestId, const QString& message);
    void compareFinished(const attn::app::CompareOutput& output);
    void batchLayer(quint64 requestId, const attn::CaptureResult& layer, const QStringList& tokens);
    void batchDone(quint64 requestId, const QString& error);

private:
    std::map<int, std::unique_ptr<Model>> m_models;
    std::set<int> m_hashPending; ///< loaded models whose weights hash has not been reported yet
    QTimer* m_hashTimer = nullptr;
    int m_nextModelId = 1;
    std::shared_ptr<std::atomic<quint64>> m_latestRun;
    std::shared_ptr<std::atomic<bool>> m_cancel;
    std::shared_ptr<std::atomic<quint64>> m_cancelledUpTo;
    std::shared_ptr<std::atomic<quint64>> m_latestCompare;
    std::shared_ptr<std::atomic<bool>> m_compareCancel;
};

Engine::Engine(QObject* parent)
    : QObject(parent)
    , m_latestRunShared(std::make_shared<std::atomic<quint64>>(0))
    , m_cancel(std::make_shared<std::atomic<bool>>(false))
    , m_cancelledUpTo(std::make_shared<std::atomic<quint64>>(0))
    , m_latestCompareShared(std::make_shared<std::atomic<quint64>>(0))
    , m_compareCancel(std::make_shared<std::atomic<bool>>(false))
    , m_batchCancel(std::make_shared<std::atomic<bool>>(false))
{
    qRegisterMetaType<attn::app::ModelInfo>();
    qRegisterMetaType<attn::app::RunOutput>();
    qRegisterMetaType<attn::app::CompareOutput>();
    qRegisterMetaType<attn::CaptureResult>();
    m_thread = new QThread(this);
    m_thread->setObjectName(QStringLiteral("attnscope-engine"));
    m_worker = new EngineWorker(m_latestRunShared, m_cancel, m_cancelledUpTo, m_latestCompareShared, m_compareCancel);
    m_worker->moveToThread(m_thread);
    connect(m_thread, &QThread::finished, m_worker, &QObject::deleteLater);

    // Worker signals arrive queued on the UI thread; superseded runs are dropped here.
    connect(m_worker, &EngineWorker::modelLoaded, this, &Engine::modelLoaded);
    connect(m_worker, &EngineWorker::modelHashed, this, &Engine::modelHashed);
    connect(m_worker, &EngineWorker::loadFailed, this, &Engine::loadFailed);
    connect(m_worker, &EngineWorker::runStarted, this, [this](quint64 id) {
        if (id == m_latestRun)
            Q_EMIT runStarted(id);
    });
    connect(m_worker, &EngineWorker::runProgress, this, [this](quint64 id, int done, int total) {
        if (id == m_latestRun)
            Q_EMIT runProgress(id, done, total);
    });
    connect(m_worker, &EngineWorker::runFinished, this, [this](const RunOutput& output) {
        if (output.requestId == m_latestRun)
            Q_EMIT runFinished(output);
    });
    connect(m_worker, &EngineWorker::runFailed, this, [this](quint64 id, const QString& message) {
        if (id == m_latestRun)
            Q_EMIT runFailed(id, message);
    });
    connect(m_worker, &EngineWorker::compareFinished, this, [this](const CompareOutput& output) {
        if (output.requestId == m_latestCompare)
            Q_EMIT compareFinished(output);
    });
    connect(m_worker, &EngineWorker::batchLayer, this, &Engine::batchLayer);
    connect(m_worker, &EngineWorker::batchDone, this, &Engine::batchDone);
    m_thread->start();
}

Engine::~Engine()
{
    m_cancel->store(true);
    m_compareCancel->store(true);
    m_batchCancel->store(true);
    m_latestRunShared->store(0); // queued runs are skipped
    m_latestCompareShared->store(0);
    m_thread->quit();
    m_thread->wait();
}

quint64 Engine::loadModel(const QString& path, const QString& device, const QString& dtype)
{
    const quint64 id = m_nextRequest++;
    QMetaObject::invokeMethod(
        m_worker, [w = m_worker, id, path, device, dtype] { w->RT_load(id, path, device, dtype); },
        Qt::QueuedConnection);
    return id;
}

void Engine::unloadModel(int modelId)
{
    QMetaObject::invokeMethod(
        m_worker, [w = m_worker, modelId] { w->RT_unload(modelId); }, Qt::QueuedConnection);
}

quint64 Engine::run(int modelId, const QString& prompt, const std::vector<HeadRef>& heads,
    const std::vector<MapKind>& kinds, const MetricsRequest& metrics, const MapRegion& region)
{
    const quint64 id = m_nextRequest++;
    m_latestRun = id;
    m_latestRunShared->store(id);
    m_cancel->store(true); // the run in flight (if any) stops at its next layer boundary
    QMetaObject::invokeMethod(
        m_worker,
        [w = m_worker, id, modelId, prompt, heads, kinds, metrics, region] {
            w->RT_run(id, modelId, prompt, heads, kinds, metrics, region);
        },
        Qt::QueuedConnection);
    return id;
}

quint64 Engine::compare(
    const std::vector<int>& modelIds, const QString& prompt, const HeadRef& head, CompareKind kind, MapKind exact)
{
    const quint64 id = m_nextRequest++;
    m_latestCompare = id;
    m_latestCompareShared->store(id);
    m_compareCancel->store(true);
    QMetaObject::invokeMethod(
        m_worker,
        [w = m_worker, id, modelIds, prompt, head, kind, exact] {
            w->RT_compare(id, modelIds, prompt, head, kind, exact);
        },
        Qt::QueuedConnection);
    return id;
}

quint64 Engine::batchCapture(int modelId, const QString& prompt, const std::vector<MapKind>& kinds)
{
    const quint64 id = m_nextRequest++;
    m_batchCancel->store(false);
    QMetaObject::invokeMethod(
        m_worker,
        [w = m_worker, id, modelId, prompt, kinds, cancel = m_batchCancel] {
            w->RT_batch(id, modelId, prompt, kinds, cancel);
        },
        Qt::QueuedConnection);
    return id;
}

void Engine::cancelBatch()
{
    m_batchCancel->store(true);
}

void Engine::cancel()
{
    m_cancelledUpTo->store(m_latestRun); // also covers the latest run if it has not started yet
    m_cancel->store(true);
}

} // namespace attn::app

#include "engine.moc"
