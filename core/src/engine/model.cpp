// SPDX-License-Identifier: GPL-3.0-or-later
// The public Model API: loading with cross-checks, capture and generation. Every entry point catches
// at this boundary, so no exception (c10::Error, bad_alloc, ...) reaches a caller.
#include "attnscope/model.h"

#include "attnscope/fileio.h"
#include "attnscope/model_format.h"
#include "attnscope/model_source.h"
#include "engine/device.h"
#include "engine/memory.h"
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

/// Hashing multi-GB weights must not make opening wait: a thread hashes beside the load, whoever first needs the digest
/// (an export's provenance) waits for what is left of it, and closing the model stops it within one 1 MiB chunk and
/// joins it (a thread left running past the end of main would race OpenSSL's teardown).
class HashJob {
public:
    explicit HashJob(std::vector<std::string> files)
        : m_thread([this, files = std::move(files)] {
            Result<std::string> digest = weightsSha256(files, &m_cancel);
            const std::lock_guard<std::mutex> lock(m_mutex);
            m_result = std::move(digest);
            m_done.notify_all();
        })
    {
    }
    ~HashJob()
    {
        m_cancel = true;
        m_thread.join();
    }
    HashJob(const HashJob&) = delete;
    HashJob& operator=(const HashJob&) = delete;

    std::optional<Result<std::string>> peek()
    {
        const std::lock_guard<std::mutex> lock(m_mutex);
        return m_result;
    }
    Result<std::string> wait()
    {
        std::unique_lock<std::mutex> lock(m_mutex);
        m_done.wait(lock, [this] { return m_result.has_value(); });
        return *m_result;
    }

private:
    std::atomic<bool> m_cancel {false};
    std::mutex m_mutex;
    std::condition_variable m_done;
    std::optional<Result<std::string>> m_result;
    std::thread m_thread; // last: starts once the members it uses exist
};

struct Model::Impl {
    std::string dir;
    ModelConfig config;
    std::shared_ptr<const Tokenizer> tokenizer;
    std::string format;
    std::vector<std::pair<std::string, std::string>> description;
    std::vector<TensorInfo> tensorInfos;
    int64_t parameterCount = 0;
    std::unique_ptr<HashJob> hashJob;
    mutable std::string weightsHash;
    at::Device device = at::Device(at::kCPU);
    ComputeDType dtype = ComputeDType::F32;
    engine::ModelWeights weights;
    int64_t weightBytes = 0; ///< on the compute device
};

namespace {

bool looksLikeOutOfMemory(const std::string& message)
{
    return message.find("out of memory") != std::string::npos || message.find("OutOfMemory") != std::string::npos;
}

/// Runs f, turning every exception into a Status whose message starts with `what`.
template <typename T, typename F> Result<T> guarded(const std::string& what, const std::string& deviceName, F&& f)
{
    try {
        return f();
    } catch (const engine::Cancelled&) {
        return Status::error(what + ": cancelled");
    } catch (const std::bad_alloc&) {
        return Status::error(what + ": out of host memory");
    } catch (const c10::Error& e) {
        const std::string message = e.what_without_backtrace();
        if (looksLikeOutOfMemory(message))
            return Status::error(what + ": out of memory on " + deviceName
                + " (try fewer tokens, bf16, or fewer heads/maps): " + message);
        return Status::error(what + ": " + message);
    } catch (const std::exception& e) {
        return Status::error(what + ": " + e.what());
    }
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
    const engine::MapCollector& collector, const at::Tensor& perHead, int64_t row, const HeadRef& ref, MapKind kind)
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

} // namespace

Model::Model()
    : m(std::make_unique<Impl>())
{
}

Model::~Model() = default;

Result<std::unique_ptr<Model>> Model::load(const std::string& path, const LoadOptions& options)
{
    const std::string what = "cannot load the model " + path;
    auto source = openModelSource(path);
    if (!source)
        return Status::error(what + ": " + source.message());
    auto device = engine::resolveDevice(options.device);
    if (!device)
        return Status::error(what + ": " + device.message());

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
    impl.weightBytes = src.storedBytes();
    impl.hashJob = std::make_unique<HashJob>(src.weightFiles);
    impl.device = *device;
    impl.dtype = options.dtype;
    if (impl.device.is_cuda()) {
        // Exactness checks compare against fp32 references: TF32 would add ~1e-3 relative error.
        at::globalContext().setAllowTF32CuBLAS(false);
        at::globalContext().setAllowTF32CuDNN(false);
    }
    auto loaded = guarded<bool>(what, engine::deviceName(impl.device), [&] {
        c10::InferenceMode guard;
        impl.weights = engine::loadSourceWeights(src, impl.device, engine::scalarType(impl.dtype));
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
    return engine::deviceName(m->device);
}
ComputeDType Model::dtype() const
{
    return m->dtype;
}

Result<CaptureResult> Model::capture(const CaptureRequest& request, const RunControl& control)
{
    if (Status s = checkRequest(m->config, request); !s)
        return s;
    if (Status s = engine::checkFits(m->config, request, engine::scalarType(m->dtype), m->device, m->weightBytes); !s)
        return s;
    const std::string what = "running " + std::to_string(request.tokens.size()) + " tokens failed";
    return guarded<CaptureResult>(what, deviceName(), [&] {
        c10::InferenceMode guard; // thread-local: created on the calling (worker) thread, per call
        engine::ForwardCapture capture;
        capture.queryTile = request.queryTile;
        const int64_t seqLen = static_cast<int64_t>(request.tokens.size());
        std::map<int64_t, std::vector<int64_t>> headsByLayer; // unique, in request order
        for (const HeadRef& ref : request.heads) {
            std::vector<int64_t>& heads = headsByLayer[ref.layer];
            if (std::find(heads.begin(), heads.end(), ref.head) == heads.end())
                heads.push_back(ref.head);
        }
        if (!request.kinds.empty())
            for (const auto& [layer, heads] : headsByLayer)
                capture.layers.emplace(layer,
                    engine::LayerCapture(
                        engine::MapCollector(request.region, seqLen, heads, request.kinds, m->device)));
        const at::Tensor tokens
            = at::tensor(request.tokens, at::TensorOptions().dtype(at::kLong)).to(m->device).unsqueeze(0);
        const at::Tensor logits = engine::forward(m->weights, m->config, tokens, &capture, control);

        CaptureResult result;
        result.tokens = request.tokens;
        if (m->config.isDiff())
            for (int64_t layer = 0; layer < m->config.nLayers; ++layer)
                result.lambda.push_back(engine::diffLambda(m->weights.layers[static_cast<size_t>(layer)], layer)
                                            .to(engine::scalarType(m->dtype))
                                            .item<double>());
        for (const HeadRef& ref : request.heads) { // in request order, each (layer, head) once
            auto layerIt = capture.layers.find(ref.layer);
            if (layerIt == capture.layers.end())
                continue;
            const engine::MapCollector& collector = layerIt->second.collector;
            const auto row
                = std::find(collector.heads().begin(), collector.heads().end(), ref.head) - collector.heads().begin();
            for (MapKind kind : request.kinds) {
                auto it = collector.results().find(kind);
                if (it != collector.results().end() && !result.find(ref.layer, ref.head, kind))
                    result.maps.push_back(toHostMap(collector, it->second, row, ref, kind));
            }
        }
        const at::Tensor last = logits.select(0, 0).to(at::kCPU).contiguous();
        result.lastLogits.assign(last.data_ptr<float>(), last.data_ptr<float>() + last.numel());
        return result;
    });
}

Result<MemoryEstimate> Model::estimateMemory(const CaptureRequest& request) const
{
    if (Status s = checkRequest(m->config, request); !s)
        return s;
    return engine::estimateCapture(m->config, request, engine::scalarType(m->dtype), m->device, m->weightBytes);
}

Result<std::vector<int64_t>> Model::generate(const std::vector<int64_t>& prompt, int64_t n, const RunControl& control)
{
    if (Status s = checkTokens(m->config, prompt); !s)
        return s;
    if (n < 0)
        return Status::error("the number of tokens to generate must not be negative");
    if (static_cast<int64_t>(prompt.size()) + n > m->config.maxSeqLen)
        return Status::error("the prompt (" + std::to_string(prompt.size()) + " tokens) plus " + std::to_string(n)
            + " new tokens exceeds this model's max_seq_len of " + std::to_string(m->config.maxSeqLen));
    return guarded<std::vector<int64_t>>("generation failed", deviceName(), [&] {
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
