// SPDX-License-Identifier: GPL-3.0-or-later
// Model::analyze: one forward pass per prompt serves a whole request (the chosen heads' maps, every head's numbers and
// thumbnails, the logits), streamed a layer at a time; the prompt's state is kept so that a head or layer switch on
// the same tokens runs one layer's attention, for the requested heads only.
#include "engine/device.h"
#include "engine/head_slice.h"
#include "engine/memory.h"
#include "engine/model_impl.h"
#include "engine/stats_observer.h"
#include "engine/transformer.h"

#include <chrono>
#include <map>
#include <set>

namespace attn {

namespace engine {
namespace {

/// A map collector as a tile observer: every head's thumbnail beside the chosen heads' maps, from the same tiles.
class CollectorObserver : public TileObserver {
public:
    explicit CollectorObserver(MapCollector c)
        : collector(std::move(c))
    {
    }
    bool wants(MapKind kind) const override { return collector.wants(kind); }
    void add(MapKind kind, const at::Tensor& perHead, int64_t q0) override { collector.add(kind, perHead, q0); }
    int64_t rowAlignment() const override { return collector.rowAlignment(); }
    MapCollector collector;
};

std::vector<int64_t> headRange(int64_t n)
{
    std::vector<int64_t> heads(static_cast<size_t>(n));
    for (int64_t h = 0; h < n; ++h)
        heads[static_cast<size_t>(h)] = h;
    return heads;
}

/// Host maps of a collector, row i labelled with head labels[i], kinds in request order.
void appendMaps(const MapCollector& collector, const std::vector<int64_t>& labels, int64_t layer,
    const std::vector<MapKind>& kinds, std::vector<AttentionMap>& out)
{
    for (size_t row = 0; row < labels.size(); ++row)
        for (MapKind kind : kinds) {
            auto it = collector.results().find(kind);
            if (it != collector.results().end())
                out.push_back(toHostMap(collector, it->second, static_cast<int64_t>(row), {layer, labels[row]}, kind));
        }
}

Status checkSpan(const SpanSpec& span, int64_t n)
{
    if (!span.active())
        return Status::ok();
    if (span.end <= span.begin || span.end > n)
        return Status::error("the span [" + std::to_string(span.begin) + ", " + std::to_string(span.end)
            + ") is not a non-empty range of the " + std::to_string(n) + " tokens");
    if (span.noiseEnd < -1 || span.noiseEnd > n)
        return Status::error(
            "the noise end " + std::to_string(span.noiseEnd) + " must be -1 or in [0, " + std::to_string(n) + "]");
    for (int64_t row : span.queryRows)
        if (row < 0 || row >= n)
            return Status::error(
                "query row " + std::to_string(row) + " lies outside the " + std::to_string(n) + " tokens");
    return Status::ok();
}

/// What one layer of a request collects: the chosen heads' maps and, when asked, every head's numbers.
class LayerJob {
public:
    LayerJob(const AnalysisRequest& request, const ModelConfig& config, int64_t layer, int64_t seqLen,
        std::vector<int64_t> mapHeads, bool stats, double lambda, const at::Device& device)
        : m_request(request)
        , m_layer(layer)
        , m_mapHeads(std::move(mapHeads))
        , m_capture(MapCollector(
              request.region, seqLen, m_mapHeads, m_mapHeads.empty() ? std::vector<MapKind> {} : request.kinds, device))
    {
        if (!stats)
            return;
        const std::vector<int64_t> every = headRange(config.nHeads);
        if (request.thumbnailSize > 0) {
            const MapKind attention = config.isDiff() ? MapKind::D : MapKind::A;
            m_thumbnails = std::make_unique<CollectorObserver>(MapCollector(
                MapRegion::overview(request.thumbnailSize, PoolMode::Max), seqLen, every, {attention}, device));
            m_capture.observers.push_back(m_thumbnails.get());
        }
        if (request.metrics) {
            m_stats = makeHeadStatsObserver(config, seqLen, lambda, request.span);
            m_capture.observers.push_back(m_stats.get());
        }
    }

    LayerCapture& capture() { return m_capture; }

    /// The maps (labelled with the model's head numbers) and, when collected, the numbers, into `out`.
    void finish(LayerResult& out, PromptState::LayerStats* keep) const
    {
        appendMaps(m_capture.collector, m_mapHeads, m_layer, m_request.kinds, out.maps);
        PromptState::LayerStats stats;
        if (m_thumbnails)
            appendMaps(m_thumbnails->collector, m_thumbnails->collector.heads(), m_layer,
                m_thumbnails->collector.kinds(), stats.thumbnails);
        if (m_stats) {
            stats.metrics = m_stats->metrics(m_layer);
            for (const SpanAttention& span : m_stats->spans())
                stats.spans.push_back({m_layer, static_cast<int64_t>(stats.spans.size()), span});
        }
        if (m_thumbnails || m_stats) {
            out.metrics = stats.metrics;
            out.spans = stats.spans;
            out.thumbnails = stats.thumbnails;
            if (keep)
                *keep = std::move(stats);
        }
    }

private:
    const AnalysisRequest& m_request;
    int64_t m_layer;
    std::vector<int64_t> m_mapHeads;
    LayerCapture m_capture;
    std::unique_ptr<CollectorObserver> m_thumbnails;
    std::unique_ptr<HeadStatsObserver> m_stats;
};

/// Kept numbers into a result, as far as the request asks for them.
void attachStats(const PromptState::LayerStats& stats, const AnalysisRequest& request, LayerResult& out)
{
    if (request.metrics) {
        out.metrics = stats.metrics;
        out.spans = stats.spans;
    }
    if (request.thumbnailSize > 0)
        out.thumbnails = stats.thumbnails;
}

/// Interactive requests keep their maps for a later switch; a batch of every head (export) would only churn the cache
/// with copies of maps nobody shows.
bool cachesMaps(const AnalysisRequest& request)
{
    return request.keepPromptState && request.everyHeadOfLayers.empty();
}

/// The asked heads' maps in request order (by head, then kind): those computed now as they came, the others copied from
/// the cache. Computed maps are kept in the cache for a later request; a prefetch returns nothing.
std::vector<AttentionMap> withCachedMaps(std::vector<AttentionMap> computed, const std::vector<int64_t>& asked,
    int64_t layer, const AnalysisRequest& request, MapCache& cache)
{
    if (request.prefetch) {
        for (const AttentionMap& map : computed)
            cache.put(map, request.region);
        return {};
    }
    // Cached maps are copied out before the computed ones go in, so that these cannot evict them.
    std::vector<AttentionMap> out;
    std::vector<size_t> fresh;
    for (int64_t head : asked)
        for (MapKind kind : request.kinds) {
            auto it = std::find_if(computed.begin(), computed.end(),
                [&](const AttentionMap& map) { return map.head == head && map.kind == kind; });
            if (it != computed.end()) {
                fresh.push_back(out.size());
                out.push_back(std::move(*it));
            } else if (const AttentionMap* kept = cache.find(layer, head, kind, request.region)) {
                out.push_back(*kept);
            }
        }
    if (cachesMaps(request))
        for (size_t i : fresh)
            cache.put(out[i], request.region);
    return out;
}

} // namespace
} // namespace engine

void Model::forgetPrompt()
{
    m->prompt.clear();
}

void Model::forgetKeptMaps()
{
    m->prompt.maps.clear();
}

Result<AnalysisSummary> Model::analyze(
    const AnalysisRequest& request, const std::function<void(LayerResult)>& onLayer, const RunControl& control)
{
    const auto started = std::chrono::steady_clock::now();
    const ModelConfig& c = m->config;
    const std::vector<int64_t> tokens = request.tokens.empty() ? m->tokenizer->encode(request.prompt) : request.tokens;
    const int64_t n = static_cast<int64_t>(tokens.size());
    CaptureRequest check {tokens, request.heads, request.kinds, request.region, request.queryTile};
    for (int64_t layer : request.everyHeadOfLayers) {
        if (layer < 0 || layer >= c.nLayers)
            return Status::error("layer " + std::to_string(layer) + " does not exist (the model has "
                + std::to_string(c.nLayers) + " layers)");
        for (int64_t head = 0; head < c.nHeads; ++head)
            check.heads.push_back({layer, head});
    }
    if (Status s = engine::checkRequest(c, check); !s)
        return s;
    if (request.thumbnailSize < 0)
        return Status::error("the thumbnail size must not be negative");
    if (Status s = engine::checkSpan(request.span, n); !s)
        return s;
    engine::PromptState& state = m->prompt;
    const bool reuse = state.tokens == tokens;
    if (request.prefetch && !reuse)
        return Status::error(StatusCode::Refused,
            "a prefetch runs only on the prompt the model keeps; these " + std::to_string(n)
                + " tokens have not been run (or another prompt ran since)");
    if (!reuse)
        if (Status s = engine::checkFitsOnEveryDevice(c, m->placement, m->dtype, check); !s)
            return s;

    const std::string what = "running " + std::to_string(n) + " tokens failed";
    return engine::guarded<AnalysisSummary>(what, deviceName(), [&] {
        using namespace engine;
        c10::InferenceMode guard; // thread-local: created on the calling thread, per call
        const at::ScalarType dtype = scalarType(m->dtype);
        const bool wantStats = request.metrics || request.thumbnailSize > 0;
        const bool statsKept = wantStats && reuse && state.statsCover(request, c.nLayers);
        const bool computeStats = wantStats && !statsKept;

        std::map<int64_t, std::vector<int64_t>> mapHeads; // by layer: unique heads in request order
        if (!request.kinds.empty())
            for (const HeadRef& ref : check.heads) {
                std::vector<int64_t>& heads = mapHeads[ref.layer];
                if (std::find(heads.begin(), heads.end(), ref.head) == heads.end())
                    heads.push_back(ref.head);
            }
        std::vector<double> lambda;
        if (c.isDiff())
            for (int64_t layer = 0; layer < c.nLayers; ++layer)
                lambda.push_back(
                    diffLambda(m->weights.layers[static_cast<size_t>(layer)], layer).to(dtype).item<double>());
        auto layerLambda = [&](int64_t layer) { return c.isDiff() ? lambda[static_cast<size_t>(layer)] : kNoMetric; };
        auto headsAt = [&](int64_t layer) {
            auto it = mapHeads.find(layer);
            return it == mapHeads.end() ? std::vector<int64_t> {} : it->second;
        };
        auto newResult = [&](int64_t layer) {
            LayerResult result;
            result.requestId = request.id;
            result.layer = layer;
            result.lambda = layerLambda(layer);
            return result;
        };
        const ForwardSetup setup = forwardSetup(m->weights, c, 1, n, request.queryTile);
        std::map<int64_t, PromptState::LayerStats> newStats;
        int64_t computed = 0;

        if (!reuse) {
            // The whole model once: every layer runs (maps and numbers are taken from its tiles as they pass), its
            // input is kept within the budget, and the result of each layer leaves as soon as it is done.
            state.clear();
            const int64_t bytesPerInput = n * c.dModel * static_cast<int64_t>(c10::elementSize(dtype));
            state.stride = request.keepPromptState ? checkpointStride(c.nLayers, bytesPerInput, kPromptStateBudgetBytes)
                                                   : c.nLayers + 1; // nothing kept
            state.layerInputs.assign(static_cast<size_t>(c.nLayers), at::Tensor());
            state.scores.assign(static_cast<size_t>(c.nLayers), KeptScores());
            int64_t scoresBytes = 0;
            at::Tensor x = embed(
                m->weights, c, at::tensor(tokens, at::TensorOptions().dtype(at::kLong)).to(m->device).unsqueeze(0));
            for (int64_t layer = 0; layer < c.nLayers; ++layer) {
                // On the layer's own device, so a kept input sits where it is used (and spreads with the layers).
                const at::Device device = layerDevice(m->weights.layers[static_cast<size_t>(layer)]);
                x = x.to(device);
                if (layer % state.stride == 0 && request.keepPromptState)
                    state.layerInputs[static_cast<size_t>(layer)] = x;
                const std::vector<int64_t> heads = headsAt(layer);
                if (heads.empty() && !wantStats) {
                    x = runLayer(m->weights, c, x, layer, setup, nullptr, control.cancel);
                } else {
                    LayerJob job(request, c, layer, n, heads, wantStats, layerLambda(layer), device);
                    KeptScores& scores = state.scores[static_cast<size_t>(layer)];
                    if (request.keepPromptState && scoresBytes < kKeptScoresBudgetBytes)
                        job.capture().keepScores = &scores;
                    x = runLayer(m->weights, c, x, layer, setup, &job.capture(), control.cancel);
                    scoresBytes += scores.bytes();
                    if (scoresBytes > kKeptScoresBudgetBytes)
                        scores = KeptScores(); // over the budget: this layer's switches project again
                    LayerResult result = newResult(layer);
                    job.finish(result, wantStats ? &newStats[layer] : nullptr);
                    result.maps = withCachedMaps(std::move(result.maps), heads, layer, request, state.maps);
                    if (onLayer)
                        onLayer(std::move(result));
                }
                if (control.onLayer)
                    control.onLayer(layer + 1, c.nLayers);
            }
            const at::Tensor logits = finalLogits(m->weights, c, x, /*allPositions=*/false).select(0, 0).to(at::kCPU);
            state.lastLogits.assign(logits.data_ptr<float>(), logits.data_ptr<float>() + logits.numel());
            if (request.keepPromptState)
                state.tokens = tokens; // only a finished pass is kept: a cancelled one leaves nothing to reuse
            computed = c.nLayers;
        } else {
            // The same tokens: only the layers with maps to return (or numbers not yet kept) run, from their kept
            // input, and only their attention; with few heads asked, only those heads.
            std::set<int64_t> layers;
            for (const auto& [layer, heads] : mapHeads)
                layers.insert(layer);
            for (int64_t layer = 0; layer < c.nLayers; ++layer)
                if (computeStats || statsKept)
                    layers.insert(layer);
            const int64_t total = static_cast<int64_t>(std::count_if(
                layers.begin(), layers.end(), [&](int64_t l) { return computeStats || mapHeads.count(l); }));
            for (int64_t layer : layers) {
                // Heads whose maps are cached (shown before, or prefetched) cost a copy; only the others run.
                const std::vector<int64_t> asked = headsAt(layer);
                std::vector<int64_t> heads;
                for (int64_t head : asked)
                    if (!state.maps.hasAll(layer, head, request.kinds, request.region))
                        heads.push_back(head);
                LayerResult result = newResult(layer);
                const LayerWeights& stored = m->weights.layers[static_cast<size_t>(layer)];
                const KeptScores& scores = state.scores[static_cast<size_t>(layer)]; // the pass sized it nLayers
                if ((!heads.empty() || computeStats) && scores.kept()) {
                    // The layer's queries and keys are kept (on the layer's device): only the asked heads' score tiles
                    // run.
                    const at::Device device = scores.q.device();
                    if (computeStats) {
                        LayerJob job(request, c, layer, n, heads, computeStats, layerLambda(layer), device);
                        captureKeptAttention(
                            scores, stored, c, layer, headRange(c.nHeads), setup, job.capture(), control.cancel);
                        job.finish(result, &newStats[layer]);
                    } else {
                        LayerCapture capture(MapCollector(
                            request.region, n, headRange(static_cast<int64_t>(heads.size())), request.kinds, device));
                        captureKeptAttention(scores, stored, c, layer, heads, setup, capture, control.cancel);
                        appendMaps(capture.collector, heads, layer, request.kinds, result.maps);
                    }
                    ++computed;
                    if (control.onLayer)
                        control.onLayer(computed, total);
                } else if (!heads.empty() || computeStats) {
                    const size_t kept = static_cast<size_t>(layer / state.stride * state.stride);
                    at::Tensor x = state.layerInputs[kept];
                    for (int64_t l = static_cast<int64_t>(kept); l < layer; ++l) // from the nearest kept input
                        x = runLayer(m->weights, c, x, l, setup, nullptr, control.cancel);
                    const at::Device device = layerDevice(stored);
                    // One head's slice costs d_head projection rows instead of the layer's H x d_head; numbers of every
                    // head, or many heads, take the whole layer's attention once.
                    if (computeStats || static_cast<int64_t>(heads.size()) * 4 > c.nHeads) {
                        LayerJob job(request, c, layer, n, heads, computeStats, layerLambda(layer), device);
                        captureLayerAttention(stored, dtype, c, x, layer, setup, job.capture(), control.cancel);
                        job.finish(result, computeStats ? &newStats[layer] : nullptr);
                    } else {
                        for (int64_t head : heads) {
                            const SlicedHead slice = sliceHead(c, stored, head);
                            LayerCapture capture(MapCollector(request.region, n, {0}, request.kinds, device));
                            captureLayerAttention(
                                slice.weights, dtype, slice.config, x, layer, setup, capture, control.cancel);
                            appendMaps(capture.collector, {head}, layer, request.kinds, result.maps);
                        }
                    }
                    ++computed;
                    if (control.onLayer)
                        control.onLayer(computed, total);
                }
                result.maps = withCachedMaps(std::move(result.maps), asked, layer, request, state.maps);
                if (statsKept)
                    attachStats(state.stats.at(layer), request, result);
                if (onLayer && !request.prefetch)
                    onLayer(std::move(result));
            }
        }
        if (computeStats) {
            state.stats = std::move(newStats);
            state.statsHaveMetrics = request.metrics;
            state.statsSpan = request.span;
            state.statsThumbnailSize = request.thumbnailSize;
        }

        AnalysisSummary summary;
        summary.requestId = request.id;
        summary.modelId = request.modelId;
        summary.tokens = tokens;
        for (int64_t id : tokens)
            summary.tokenDisplay.push_back(m->tokenizer->display(id));
        summary.lambda = lambda;
        summary.lastLogits = state.lastLogits;
        if (request.metrics && request.span.active()) {
            std::map<int64_t, std::vector<SpanAttention>> byLayer;
            for (const auto& [layer, stats] : state.stats)
                for (const HeadSpan& span : stats.spans)
                    byLayer[layer].push_back(span.span);
            if (auto average = paperAverage(byLayer))
                summary.spanAverage = *average;
        }
        summary.layersComputed = computed;
        summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        return summary;
    });
}

} // namespace attn
