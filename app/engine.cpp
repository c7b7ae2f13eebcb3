// SPDX-License-Identifier: GPL-3.0-or-later
#include "engine.h"

#include "engine_p.h"

#include <QFileInfo>
#include <QPointer>

#include <algorithm>
#include <cmath>
#include <map>

namespace attn::app {

namespace detail {

QString qstr(const std::string& text)
{
    return QString::fromStdString(text);
}

QStringList displayList(const std::vector<std::string>& tokens)
{
    QStringList list;
    list.reserve(static_cast<int>(tokens.size()));
    for (const std::string& token : tokens)
        list << qstr(token);
    return list;
}

ModelInfo toModelInfo(const LoadedModel& loaded)
{
    ModelInfo info;
    info.id = loaded.id;
    info.path = qstr(loaded.path);
    info.name = qstr(loaded.name);
    info.config = loaded.config;
    info.parameters = loaded.parameters;
    info.device = qstr(loaded.device);
    info.dtype = qstr(loaded.dtype);
    info.format = qstr(loaded.format);
    for (const auto& [field, value] : loaded.description)
        info.description.append({qstr(field), qstr(value)});
    info.samplePrompt = qstr(loaded.samplePrompt);
    info.tokenizer = loaded.tokenizer;
    return info;
}

} // namespace detail

using detail::displayList;
using detail::qstr;
using detail::toModelInfo;

namespace {

/// What a compare slot asks of one model: the kind its column shows, or why it has nothing to show.
struct CompareChoice {
    MapKind kind = MapKind::A;
    QString error;
};

CompareChoice chooseCompareKind(const ModelConfig& c, const HeadRef& ref, CompareKind kind, MapKind exact)
{
    CompareChoice choice;
    if (ref.layer >= c.nLayers || ref.head >= c.nHeads) {
        choice.error = QStringLiteral("has no layer %1 head %2").arg(ref.layer).arg(ref.head);
        return choice;
    }
    switch (kind) {
    case CompareKind::Attention:
        choice.kind = c.isDiff() ? MapKind::DN : MapKind::A;
        break;
    case CompareKind::Gates:
    case CompareKind::Positions:
        if (!c.hasCope())
            choice.error = QStringLiteral("has no CoPE gates or positions");
        else if (kind == CompareKind::Gates)
            choice.kind = c.isDiff() ? MapKind::G1 : MapKind::G;
        else
            choice.kind = c.isDiff() ? MapKind::P1 : MapKind::P;
        break;
    case CompareKind::Exact: {
        const std::vector<MapKind> available = availableMapKinds(c, /*includeLogits=*/true);
        if (std::find(available.begin(), available.end(), exact) == available.end())
            choice.error = QStringLiteral("has no %1 maps (%2 attention, %3 positions)")
                               .arg(qstr(toString(exact)), qstr(toString(c.attention)), qstr(toString(c.position)));
        choice.kind = exact;
        break;
    }
    }
    return choice;
}

} // namespace

/// The entries of one compare as they arrive, one per slot.
struct Engine::Compare {
    quint64 id = 0;
    CompareOutput output;
    size_t pending = 0;
};

Engine::Engine(QObject* parent)
    : QObject(parent)
    , m_core(std::make_unique<AnalysisEngine>())
{
    qRegisterMetaType<attn::app::ModelInfo>();
    qRegisterMetaType<attn::app::RunOutput>();
    qRegisterMetaType<attn::app::CompareOutput>();
    qRegisterMetaType<attn::CaptureResult>();
    qRegisterMetaType<attn::app::ServerListing>();
    startRemote();
    initPrefetch();
}

Engine::~Engine()
{
    m_core.reset(); // cancels what runs, joins the engine thread: no callback outlives this object
    stopRemote(); // the same for every server connection
}

quint64 Engine::loadModel(const QString& path, const QString& device, const QString& dtype)
{
    LoadOptions options;
    auto spec = parseDeviceList(device.toStdString()); // "cuda:0,cuda:1" spreads the layers over both
    auto type = parseComputeDType(dtype.toStdString());
    LoadSink sink;
    // Every callback runs on the engine's thread: hand values over to this (UI) thread, queued.
    sink.loaded = [this](uint64_t id, LoadedModel loaded) {
        QMetaObject::invokeMethod(
            this,
            [this, id, info = toModelInfo(loaded)] {
                m_configs[info.id] = info.config;
                m_tokenizers[info.id] = info.tokenizer;
                Q_EMIT modelLoaded(id, info);
            },
            Qt::QueuedConnection);
    };
    sink.failed = [this, path](uint64_t id, Status status) {
        QMetaObject::invokeMethod(
            this, [this, id, path, message = qstr(status.message())] { Q_EMIT loadFailed(id, path, message); },
            Qt::QueuedConnection);
    };
    sink.hashed = [this](int modelId, std::string sha256) {
        QMetaObject::invokeMethod(
            this, [this, modelId, sha = qstr(sha256)] { Q_EMIT modelHashed(modelId, sha); }, Qt::QueuedConnection);
    };
    if (!spec || !type) {
        const QString message = qstr(!spec ? spec.message() : type.message());
        // Nothing reaches the engine: request id 0 stands for a load refused before it was made.
        QMetaObject::invokeMethod(
            this, [this, path, message] { Q_EMIT loadFailed(0, path, message); }, Qt::QueuedConnection);
        return 0;
    }
    options.device = spec->front();
    if (spec->size() > 1)
        options.devices = *spec;
    options.dtype = *type;
    return m_core->load(path.toStdString(), options, std::move(sink));
}

void Engine::unloadModel(int modelId)
{
    m_configs.erase(modelId);
    m_tokenizers.erase(modelId);
    if (m_lastEncoded.modelId == modelId)
        m_lastEncoded = EncodedPrompt();
    if (unloadRemote(modelId))
        return;
    m_core->unload(modelId);
}

const std::vector<int64_t>& Engine::encodeCached(int modelId, const Tokenizer& tokenizer, const std::string& prompt)
{
    if (m_lastEncoded.modelId != modelId || m_lastEncoded.prompt != prompt) {
        m_lastEncoded.tokens = tokenizer.encode(prompt);
        m_lastEncoded.modelId = modelId;
        m_lastEncoded.prompt = prompt;
    }
    return m_lastEncoded.tokens;
}

quint64 Engine::run(int modelId, const QString& prompt, const std::vector<HeadRef>& heads,
    const std::vector<MapKind>& kinds, const MetricsRequest& metrics, const MapRegion& region)
{
    AnalysisRequest request;
    request.stream = "run";
    request.modelId = modelId;
    request.prompt = prompt.toStdString();
    request.heads = heads;
    request.kinds = kinds;
    request.region = region;
    const auto tokenizer = m_tokenizers.find(modelId);
    const bool localTokens = tokenizer != m_tokenizers.end() && tokenizer->second;
    if (localTokens) {
        request.tokens = encodeCached(modelId, *tokenizer->second, request.prompt);
        // The client chooses the region: above kLongPromptTokens a full map is more cells than a screen has pixels
        // (and N^2 floats of memory), so the panels get device-pooled overviews unless a window was asked for.
        if (region.mode != MapRegion::Mode::Window && static_cast<int64_t>(request.tokens.size()) > kLongPromptTokens)
            request.region = MapRegion::overview(kLongPromptOverview, PoolMode::Max);
    }
    request.metrics = metrics.enabled;
    request.thumbnailSize = metrics.enabled ? kThumbnailSize : 0;
    if (metrics.spanBegin >= 0) {
        request.span.begin = metrics.spanBegin;
        request.span.end = metrics.spanEnd;
        request.span.noiseEnd = metrics.noiseEnd;
        request.span.queryRows = metrics.queryRows;
    }
    dropPlannedPrefetch(); // it would now guess from the head this run replaces
    auto shown = std::make_shared<const AnalysisRequest>(request); // what to prefetch around once it is shown
    auto output = std::make_shared<RunOutput>();
    output->modelId = modelId;
    output->prompt = prompt; // provenance names the text this run tokenized, not the editor's current text
    AnalysisSink sink;
    sink.started = [this](AnalysisStart start) {
        QMetaObject::invokeMethod(
            this,
            [this, id = start.requestId] {
                if (id == m_latestRun)
                    Q_EMIT runStarted(id);
            },
            Qt::QueuedConnection);
    };
    sink.progress = [this](uint64_t id, int64_t done, int64_t total) {
        QMetaObject::invokeMethod(
            this,
            [this, id, done, total] {
                if (id == m_latestRun)
                    Q_EMIT runProgress(id, static_cast<int>(done), static_cast<int>(total));
            },
            Qt::QueuedConnection);
    };
    // Layers arrive on the engine thread; the run reaches the UI whole, once the summary is in.
    sink.layer = [output](LayerResult layer) {
        for (AttentionMap& map : layer.maps)
            output->capture.maps.push_back(std::move(map));
        for (HeadMetrics& m : layer.metrics)
            output->metrics.push_back(m);
        for (HeadSpan& span : layer.spans)
            output->spans.push_back(span);
        for (AttentionMap& thumbnail : layer.thumbnails)
            output->thumbnails.push_back(std::move(thumbnail));
    };
    sink.finished = [this, output, shown](AnalysisSummary summary) {
        output->requestId = summary.requestId;
        output->capture.tokens = std::move(summary.tokens);
        output->capture.lambda = std::move(summary.lambda);
        output->capture.lastLogits = std::move(summary.lastLogits);
        output->tokenDisplay = displayList(summary.tokenDisplay);
        output->spanAverage = summary.spanAverage;
        output->seconds = summary.seconds;
        QMetaObject::invokeMethod(
            this,
            [this, output, shown] { // the shared output, not a copy of its maps (4 MiB for a 1024² overview)
                if (output->requestId != m_latestRun)
                    return;
                Q_EMIT runFinished(*output);
                if (output->requestId != m_latestRun)
                    return; // the window started another run from its handler
                planPrefetch(*shown);
            },
            Qt::QueuedConnection);
    };
    sink.failed = [this](uint64_t id, Status status) {
        QMetaObject::invokeMethod(
            this,
            [this, id, message = qstr(status.message()), cancelled = status.isCancelled()] {
                if (id == m_latestRun)
                    Q_EMIT runFailed(id, message, cancelled);
            },
            Qt::QueuedConnection);
    };
    m_latestRun = submit(std::move(request), std::move(sink), /*overviewIfLong=*/!localTokens);
    return m_latestRun;
}

quint64 Engine::compare(
    const std::vector<int>& modelIds, const QString& prompt, const HeadRef& head, CompareKind kind, MapKind exact)
{
    // One stream per slot, so that the slots of one compare do not supersede each other; slots a shorter compare no
    // longer uses are cancelled.
    for (size_t slot = modelIds.size(); slot < m_compareSlots; ++slot)
        cancelStream("compare/" + std::to_string(slot));
    m_compareSlots = modelIds.size();
    auto compare = std::make_shared<Compare>();
    compare->id = ++m_latestCompare; // the compare's own counter: its entries carry engine request ids
    compare->output.requestId = compare->id;
    compare->output.head = head;
    compare->output.kind = kind;
    compare->output.entries.resize(modelIds.size());
    compare->pending = modelIds.size();
    m_compare = compare;
    for (size_t slot = 0; slot < modelIds.size(); ++slot) {
        CompareEntry& entry = compare->output.entries[slot];
        entry.modelId = modelIds[slot];
        AnalysisRequest request;
        request.stream = "compare/" + std::to_string(slot);
        request.modelId = modelIds[slot];
        request.prompt = prompt.toStdString();
        request.heads = {head};
        request.metrics = true; // every head's numbers in the same pass; kept when the run had the same prompt
        auto config = m_configs.find(modelIds[slot]);
        const CompareChoice choice = config == m_configs.end()
            ? CompareChoice {MapKind::A, QStringLiteral("not loaded")}
            : chooseCompareKind(config->second, head, kind, exact);
        entry.kind = choice.kind;
        if (!choice.error.isEmpty()) {
            entry.error = choice.error;
            cancelStream(request.stream);
            QMetaObject::invokeMethod(
                this, [this, compareId = compare->id, slot, e = entry] { finishCompareEntry(compareId, slot, e); },
                Qt::QueuedConnection);
            continue;
        }
        request.kinds = {choice.kind};
        auto state = std::make_shared<CompareEntry>(entry);
        AnalysisSink sink;
        const quint64 compareId = compare->id;
        sink.layer = [state, head](LayerResult layer) {
            for (AttentionMap& map : layer.maps)
                if (map.layer == head.layer && map.head == head.head && map.kind == state->kind)
                    state->map = std::move(map);
            if (layer.layer == head.layer)
                for (const HeadMetrics& m : layer.metrics)
                    if (m.head == head.head)
                        state->metrics = m;
        };
        sink.finished = [this, state, compareId, slot](AnalysisSummary summary) {
            state->tokens = std::move(summary.tokens);
            state->tokenDisplay = displayList(summary.tokenDisplay);
            QMetaObject::invokeMethod(
                this, [this, compareId, slot, e = *state] { finishCompareEntry(compareId, slot, e); },
                Qt::QueuedConnection);
        };
        sink.failed = [this, state, compareId, slot](uint64_t, Status status) {
            state->error = qstr(status.message());
            QMetaObject::invokeMethod(
                this, [this, compareId, slot, e = *state] { finishCompareEntry(compareId, slot, e); },
                Qt::QueuedConnection);
        };
        submit(std::move(request), std::move(sink));
    }
    if (modelIds.empty())
        QMetaObject::invokeMethod(
            this, [this, out = compare->output] { Q_EMIT compareFinished(out); }, Qt::QueuedConnection);
    return compare->id;
}

void Engine::finishCompareEntry(quint64 compareId, size_t slot, CompareEntry entry)
{
    if (!m_compare || m_compare->id != compareId || slot >= m_compare->output.entries.size())
        return; // a newer compare replaced this one
    m_compare->output.entries[slot] = std::move(entry);
    if (--m_compare->pending == 0 && compareId == m_latestCompare)
        Q_EMIT compareFinished(m_compare->output);
}

quint64 Engine::batchCapture(int modelId, const QString& prompt, const std::vector<MapKind>& kinds)
{
    AnalysisRequest request;
    request.stream = "batch";
    request.modelId = modelId;
    request.prompt = prompt.toStdString();
    request.kinds = kinds;
    if (auto config = m_configs.find(modelId); config != m_configs.end())
        for (int64_t layer = 0; layer < config->second.nLayers; ++layer)
            request.everyHeadOfLayers.push_back(layer);
    auto tokens = std::make_shared<AnalysisStart>();
    AnalysisSink sink;
    sink.started = [tokens](AnalysisStart start) { *tokens = std::move(start); };
    // One pass; each layer's maps leave as soon as the layer has run, so memory stays at one layer's maps.
    auto lambdas = std::make_shared<std::vector<double>>(); // every layer's λ so far (DIFF), for the provenance
    sink.layer = [this, tokens, lambdas](LayerResult layer) {
        CaptureResult part;
        part.tokens = tokens->tokens;
        part.maps = std::move(layer.maps);
        if (!std::isnan(layer.lambda)) {
            if (lambdas->size() <= static_cast<size_t>(layer.layer))
                lambdas->resize(static_cast<size_t>(layer.layer) + 1, kNoMetric);
            (*lambdas)[static_cast<size_t>(layer.layer)] = layer.lambda;
        }
        part.lambda = *lambdas;
        QMetaObject::invokeMethod(
            this,
            [this, id = layer.requestId, part = std::move(part), display = displayList(tokens->tokenDisplay)] {
                Q_EMIT batchLayer(id, part, display);
            },
            Qt::QueuedConnection);
    };
    sink.finished = [this](AnalysisSummary summary) {
        QMetaObject::invokeMethod(
            this, [this, id = summary.requestId] { Q_EMIT batchDone(id, QString(), false); }, Qt::QueuedConnection);
    };
    sink.failed = [this](uint64_t id, Status status) {
        QMetaObject::invokeMethod(
            this,
            [this, id, message = qstr(status.message()), cancelled = status.isCancelled()] {
                Q_EMIT batchDone(id, message, cancelled);
            },
            Qt::QueuedConnection);
    };
    m_latestBatch = submit(std::move(request), std::move(sink));
    return m_latestBatch;
}

void Engine::cancelBatch()
{
    cancelStream("batch");
}

void Engine::cancel()
{
    dropPlannedPrefetch();
    cancelStream("run");
}

} // namespace attn::app
