// SPDX-License-Identifier: GPL-3.0-or-later
// The public Model API: loading with cross-checks, capture and generation. Every entry point catches
// at this boundary, so no exception (c10::Error, bad_alloc, ...) reaches a caller.
#include "attnscope/model.h"

#include "attnscope/fileio.h"
#include "attnscope/model_format.h"
#include "attnscope/model_source.h"
#include "engine/cpu_threads.h"
#include "engine/device.h"
#include "engine/memory.h"
#include "engine/model_impl.h"
#include "engine/transformer.h"
#include "engine/weights.h"

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <mutex>
#include <new>
#include <optional>
#include <set>
#include <thread>

namespace attn {

namespace engine {

Status checkFitsOnEveryDevice(
    const ModelConfig& config, const Placement& placement, ComputeDType dtype, const CaptureRequest& request)
{
    for (const auto& [device, weightBytes] : placement.weightsPerDevice())
        if (Status s = checkFits(config, request, scalarType(dtype), device, weightBytes); !s)
            return s;
    return Status::ok();
}

bool looksLikeOutOfMemory(const std::string& message)
{
    return message.find("out of memory") != std::string::npos || message.find("OutOfMemory") != std::string::npos;
}

Status checkTokens(const ModelConfig& config, const std::vector<int64_t>& tokens)
{
    if (tokens.empty())
        return Status::error("the prompt is empty: there is nothing to run");
    if (static_cast<int64_t>(tokens.size()) > config.maxSeqLen)
        return Status::error("the prompt has " + std::to_string(tokens.size())
            + " tokens, more than this model's max_seq_len of " + std::to_string(config.maxSeqLen) + "; shorten it");
    for (size_t i = 0; i < tokens.size(); ++i)
        if (tokens[i] < 0 || tokens[i] >= config.vocabSize)
            return Status::error("token " + std::to_string(i) + " has id " + std::to_string(tokens[i])
                + ", outside the vocabulary [0, " + std::to_string(config.vocabSize) + ")");
    return Status::ok();
}

Status checkRegion(const CaptureRequest& request)
{
    const int64_t n = static_cast<int64_t>(request.tokens.size());
    const MapRegion& r = request.region;
    const bool keepsMaps = !request.heads.empty() && !request.kinds.empty();
    switch (r.mode) {
    case MapRegion::Mode::Full:
        if (keepsMaps && n > kMaxFullMapTokens)
            return Status::error("full maps of " + std::to_string(n) + " tokens would take "
                + formatBytes(4.0 * static_cast<double>(n) * static_cast<double>(n)) + " each; above "
                + std::to_string(kMaxFullMapTokens) + " tokens ask for an overview (--overview 1024) or a window "
                + "(--window q0:q1,k0:k1)");
        break;
    case MapRegion::Mode::Overview:
        if (r.overviewSize < 1)
            return Status::error("the overview size must be at least 1 cell, not " + std::to_string(r.overviewSize));
        break;
    case MapRegion::Mode::Window:
        if (r.rowBegin < 0 || r.rowBegin >= r.rowEnd || r.rowEnd > n || r.colBegin < 0 || r.colBegin >= r.colEnd
            || r.colEnd > n)
            return Status::error("the window queries " + std::to_string(r.rowBegin) + ":" + std::to_string(r.rowEnd)
                + ", keys " + std::to_string(r.colBegin) + ":" + std::to_string(r.colEnd)
                + " is not a non-empty range inside the " + std::to_string(n) + " tokens (0:" + std::to_string(n)
                + ")");
        break;
    }
    return Status::ok();
}

Status checkRequest(const ModelConfig& config, const CaptureRequest& request)
{
    if (Status s = checkTokens(config, request.tokens); !s)
        return s;
    for (const HeadRef& ref : request.heads) {
        if (ref.layer < 0 || ref.layer >= config.nLayers)
            return Status::error("layer " + std::to_string(ref.layer) + " does not exist (the model has "
                + std::to_string(config.nLayers) + " layers, 0.." + std::to_string(config.nLayers - 1) + ")");
        if (ref.head < 0 || ref.head >= config.nHeads)
            return Status::error("head " + std::to_string(ref.head) + " does not exist (the model has "
                + std::to_string(config.nHeads) + " heads per layer, 0.." + std::to_string(config.nHeads - 1) + ")");
    }
    if (Status s = checkRegion(request); !s)
        return s;
    const std::vector<MapKind> available = availableMapKinds(config, /*includeLogits=*/true);
    for (MapKind kind : request.kinds) {
        if (std::find(available.begin(), available.end(), kind) == available.end()) {
            std::string names;
            for (MapKind k : available)
                names += (names.empty() ? "" : ", ") + toString(k);
            return Status::error("map kind " + toString(kind) + " does not exist for a " + toString(config.attention)
                + " / " + toString(config.position) + " model (it has " + names + ")");
        }
    }
    return Status::ok();
}

AttentionMap toHostMap(
    const MapCollector& collector, const at::Tensor& perHead, int64_t row, const HeadRef& ref, MapKind kind)
{
    const at::Tensor values = perHead.select(0, row).to(at::kCPU).contiguous();
    AttentionMap map;
    map.layer = ref.layer;
    map.head = ref.head;
    map.kind = kind;
    map.rows = values.size(0);
    map.cols = values.size(1);
    map.rowBegin = collector.rowBegin();
    map.colBegin = collector.colBegin();
    map.rowBlock = collector.rowBlock();
    map.colBlock = collector.colBlock();
    map.values.resize(static_cast<size_t>(values.numel()));
    std::memcpy(map.values.data(), values.data_ptr<float>(), map.values.size() * sizeof(float));
    return map;
}

} // namespace engine

Model::Model()
    : m(std::make_unique<Impl>())
{
}

Model::~Model() = default;

Result<std::unique_ptr<Model>> Model::load(const std::string& path, const LoadOptions& options)
{
    const std::string what = "cannot load the model " + path;
    configureCpuThreads(0); // before this thread's first parallel op: OpenMP keeps the count per thread
    auto source = openModelSource(path);
    if (!source)
        return Status::error(what + ": " + source.message());
    auto placement = engine::placeModel(**source, options);
    if (!placement)
        return Status::error(what + ": " + placement.message());

    std::unique_ptr<Model> model(new Model());
    Impl& impl = *model->m;
    ModelSource& src = **source;
    impl.dir = path;
    impl.format = src.format;
    impl.description = src.description;
    impl.config = src.config;
    impl.tokenizer = std::move(src.tokenizer);
    std::set<std::string> used;
    for (const auto& [name, recipe] : src.recipes)
        used.insert(recipe.source);
    for (const StoredTensor& t : src.stored) {
        TensorInfo info;
        info.name = t.name;
        info.dtype = t.dtype;
        info.shape = t.shape;
        impl.tensorInfos.push_back(info);
        if (used.count(t.name))
            impl.parameterCount += t.numel();
    }
    impl.hashJob = std::make_unique<HashJob>(src.weightFiles);
    impl.placement = std::move(*placement);
    impl.device = impl.placement.first();
    impl.dtype = options.dtype;
    const auto& slots = impl.placement.slots;
    if (std::any_of(slots.begin(), slots.end(), [](const at::Device& d) { return d.is_cuda(); })) {
        // Exactness checks compare against fp32 references: TF32 would add ~1e-3 relative error.
        at::globalContext().setAllowTF32CuBLAS(false);
        at::globalContext().setAllowTF32CuDNN(false);
    }
    auto loaded = engine::guarded<bool>(what, impl.placement.name(), [&] {
        c10::InferenceMode guard;
        impl.weights = engine::loadSourceWeights(
            src, [&](const std::string& name) { return impl.placement.deviceOf(name); },
            engine::scalarType(impl.dtype));
        return true;
    });
    if (!loaded)
        return loaded.status();
    return model;
}

const ModelConfig& Model::config() const
{
    return m->config;
}
const Tokenizer& Model::tokenizer() const
{
    return *m->tokenizer;
}
std::shared_ptr<const Tokenizer> Model::sharedTokenizer() const
{
    return m->tokenizer;
}
const std::string& Model::directory() const
{
    return m->dir;
}
const std::vector<TensorInfo>& Model::tensorInfos() const
{
    return m->tensorInfos;
}
int64_t Model::parameterCount() const
{
    return m->parameterCount;
}
const std::string& Model::weightsHash() const
{
    if (m->weightsHash.empty() && m->hashJob) {
        const Result<std::string> digest = m->hashJob->wait();
        m->weightsHash = digest ? *digest : "unavailable: " + digest.message();
    }
    return m->weightsHash;
}
std::optional<std::string> Model::weightsHashIfReady() const
{
    if (!m->weightsHash.empty() || !m->hashJob)
        return weightsHash();
    const std::optional<Result<std::string>> digest = m->hashJob->peek();
    if (!digest)
        return std::nullopt;
    return weightsHash(); // finished: fills the cache without waiting
}

const std::string& Model::format() const
{
    return m->format;
}
const std::vector<std::pair<std::string, std::string>>& Model::description() const
{
    return m->description;
}
std::string Model::deviceName() const
{
    return m->placement.name();
}
const DeviceMap& Model::deviceMap() const
{
    return m->placement.map;
}
ComputeDType Model::dtype() const
{
    return m->dtype;
}

Result<CaptureResult> Model::capture(const CaptureRequest& request, const RunControl& control)
{
    // One engine: a capture is an analysis request that keeps no prompt state, its layers' maps gathered.
    if (request.tokens.empty()) // an analysis request would tokenize its (empty) prompt instead
        return engine::checkTokens(m->config, request.tokens);
    AnalysisRequest analysis;
    analysis.tokens = request.tokens;
    analysis.heads = request.heads;
    analysis.kinds = request.kinds;
    analysis.region = request.region;
    analysis.queryTile = request.queryTile;
    analysis.keepPromptState = false;
    CaptureResult result;
    auto summary = analyze(
        analysis,
        [&](LayerResult layer) {
            for (AttentionMap& map : layer.maps)
                result.maps.push_back(std::move(map));
        },
        control);
    if (!summary)
        return summary.status();
    // In request order (each (layer, head) once), as callers index them.
    auto order = [&](const AttentionMap& map) {
        return std::find(request.heads.begin(), request.heads.end(), HeadRef {map.layer, map.head})
            - request.heads.begin();
    };
    std::stable_sort(result.maps.begin(), result.maps.end(),
        [&](const AttentionMap& a, const AttentionMap& b) { return order(a) < order(b); });
    result.tokens = std::move(summary->tokens);
    result.lambda = std::move(summary->lambda);
    result.lastLogits = std::move(summary->lastLogits);
    return result;
}

Result<MemoryEstimate> Model::estimateMemory(const CaptureRequest& request) const
{
    if (Status s = engine::checkRequest(m->config, request); !s)
        return s;
    // Over several devices, the one with the least room left decides.
    std::optional<MemoryEstimate> tightest;
    for (const auto& [device, weightBytes] : m->placement.weightsPerDevice()) {
        const MemoryEstimate e
            = engine::estimateCapture(m->config, request, engine::scalarType(m->dtype), device, weightBytes);
        auto headroom = [](const MemoryEstimate& x) {
            return x.available < 0 ? std::numeric_limits<int64_t>::max() : x.available - x.deviceBytes();
        };
        if (!tightest || headroom(e) < headroom(*tightest))
            tightest = e;
    }
    return *tightest;
}

Result<std::vector<int64_t>> Model::generate(const std::vector<int64_t>& prompt, int64_t n, const RunControl& control)
{
    if (Status s = engine::checkTokens(m->config, prompt); !s)
        return s;
    if (n < 0)
        return Status::error("the number of tokens to generate must not be negative");
    if (static_cast<int64_t>(prompt.size()) + n > m->config.maxSeqLen)
        return Status::error("the prompt (" + std::to_string(prompt.size()) + " tokens) plus " + std::to_string(n)
            + " new tokens exceeds this model's max_seq_len of " + std::to_string(m->config.maxSeqLen));
    return engine::guarded<std::vector<int64_t>>("generation failed", deviceName(), [&] {
        c10::InferenceMode guard;
        std::vector<int64_t> tokens = prompt;
        std::vector<int64_t> generated;
        const auto eos = m->tokenizer->eosId();
        RunControl perStep; // cancellation is checked per layer; progress is reported per token
        perStep.cancel = control.cancel;
        for (int64_t step = 0; step < n; ++step) {
            const at::Tensor input
                = at::tensor(tokens, at::TensorOptions().dtype(at::kLong)).to(m->device).unsqueeze(0);
            const at::Tensor logits = engine::forward(m->weights, m->config, input, nullptr, perStep);
            const int64_t next = logits.select(0, 0).argmax().item<int64_t>();
            tokens.push_back(next);
            generated.push_back(next);
            if (control.onLayer)
                control.onLayer(step + 1, n);
            if (eos && next == *eos)
                break;
        }
        return generated;
    });
}

} // namespace attn
