// SPDX-License-Identifier: GPL-3.0-or-later
// The analysis engine's thread: a queue of jobs (loads, requests, unloads) run in order by one thread that owns every
// Model; "latest wins" per stream through the requests' cancel tokens.
#include "attnscope/analysis_engine.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

namespace attn {

namespace {

/// A file inside a model folder (config.json, a shard) means the folder; a checkpoint file means itself.
std::string modelPath(const std::string& path)
{
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::path picked(path);
    if (fs::is_regular_file(picked, ec) && fs::exists(picked.parent_path() / "config.json", ec))
        return fs::absolute(picked.parent_path(), ec).string();
    const fs::path absolute = fs::absolute(picked, ec);
    return ec ? path : absolute.lexically_normal().string();
}

/// sample_prompt.txt beside the model (bundled models ship one); a prompt, not a data set, so at most 1 MiB.
std::string samplePrompt(const std::string& path)
{
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::path dir = fs::is_directory(path, ec) ? fs::path(path) : fs::path(path).parent_path();
    const fs::path file = dir / "sample_prompt.txt";
    if (!fs::is_regular_file(file, ec) || fs::file_size(file, ec) > (1u << 20))
        return {};
    std::ifstream in(file, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    std::string prompt = text.str();
    while (!prompt.empty() && (prompt.back() == '\n' || prompt.back() == '\r' || prompt.back() == ' '))
        prompt.pop_back();
    return prompt;
}

} // namespace

struct AnalysisEngine::Impl {
    // Shared with callers (guarded by mutex).
    std::mutex mutex;
    std::condition_variable wake;
    /// A queued job, and what to tell its caller if the engine closes before running it (every request and load
    /// ends with exactly one callback, even then).
    struct Job {
        std::function<void()> run;
        std::function<void()> abandon;
    };
    std::deque<Job> jobs;
    bool stopping = false;
    uint64_t nextId = 1;
    struct Live {
        std::string stream;
        CancelToken token;
        uint64_t supersededBy = 0;
        bool prefetch = false;
    };
    std::map<uint64_t, Live> live; ///< requests queued or running

    // The engine thread's own.
    std::map<int, std::unique_ptr<Model>> models;
    std::map<int, std::function<void(int, std::string)>> hashPending; ///< models whose weights hash is not reported
    int nextModelId = 1;
    std::thread thread;

    void post(std::function<void()> run, std::function<void()> abandon = {})
    {
        {
            const std::lock_guard<std::mutex> lock(mutex);
            jobs.push_back({std::move(run), std::move(abandon)});
        }
        wake.notify_one();
    }

    void loop()
    {
        for (;;) {
            Job job;
            {
                std::unique_lock<std::mutex> lock(mutex);
                // While a weights hash is pending, wake now and then to report it.
                const auto ready = [this] { return stopping || !jobs.empty(); };
                if (hashPending.empty())
                    wake.wait(lock, ready);
                else
                    wake.wait_for(lock, std::chrono::milliseconds(200), ready);
                if (stopping)
                    return;
                if (!jobs.empty()) {
                    job = std::move(jobs.front());
                    jobs.pop_front();
                }
            }
            if (job.run)
                job.run();
            reportHashes();
        }
    }

    void reportHashes()
    {
        for (auto it = hashPending.begin(); it != hashPending.end();) {
            auto model = models.find(it->first);
            std::optional<std::string> digest;
            if (model != models.end())
                digest = model->second->weightsHashIfReady();
            if (model == models.end() || digest) {
                if (digest && it->second)
                    it->second(it->first, *digest);
                it = hashPending.erase(it);
            } else {
                ++it;
            }
        }
    }

    void runLoad(uint64_t id, const std::string& path, const LoadOptions& options, const LoadSink& sink)
    {
        const std::string dir = modelPath(path);
        auto model = Model::load(dir, options);
        if (!model) {
            if (sink.failed)
                sink.failed(id, model.status());
            return;
        }
        LoadedModel info;
        info.id = nextModelId++;
        info.path = dir;
        info.name = std::filesystem::path(dir).filename().string();
        info.format = (*model)->format();
        info.device = (*model)->deviceName();
        info.dtype = toString((*model)->dtype());
        info.config = (*model)->config();
        info.parameters = (*model)->parameterCount();
        info.description = (*model)->description();
        info.samplePrompt = samplePrompt(dir);
        info.tokenizer = (*model)->sharedTokenizer();
        models[info.id] = std::move(model.value());
        hashPending[info.id] = sink.hashed;
        if (sink.loaded)
            sink.loaded(id, std::move(info));
    }

    void runRequest(const AnalysisRequest& request, const AnalysisSink& sink)
    {
        CancelToken token;
        uint64_t supersededBy = 0;
        bool cancelledBeforeStart = false;
        {
            // Read the flag with the reason, under the lock that submit() holds while it sets both: read after
            // unlocking, a request superseded in between would say "cancelled" without naming the newer request.
            const std::lock_guard<std::mutex> lock(mutex);
            const Live& entry = live.at(request.id);
            token = entry.token;
            supersededBy = entry.supersededBy;
            cancelledBeforeStart = token.cancelled();
        }
        auto fail = [&](Status status) {
            if (sink.failed)
                sink.failed(request.id, std::move(status));
        };
        auto model = models.find(request.modelId);
        if (cancelledBeforeStart) {
            fail(Status::cancelled(
                supersededBy ? "superseded by request " + std::to_string(supersededBy) : std::string("cancelled")));
        } else if (model == models.end()) {
            fail(Status::error(StatusCode::Invalid, "model " + std::to_string(request.modelId) + " is not loaded"));
        } else {
            Model& m = *model->second;
            AnalysisRequest tokenized = request;
            if (tokenized.tokens.empty())
                tokenized.tokens = m.tokenizer().encode(request.prompt);
            if (sink.started) {
                AnalysisStart start;
                start.requestId = request.id;
                start.layersTotal = m.config().nLayers;
                start.tokens = tokenized.tokens;
                for (int64_t id : tokenized.tokens)
                    start.tokenDisplay.push_back(m.tokenizer().display(id));
                sink.started(std::move(start));
            }
            RunControl control;
            control.cancel = token.flag();
            if (sink.progress)
                control.onLayer = [&](int64_t done, int64_t total) { sink.progress(request.id, done, total); };
            auto summary = m.analyze(tokenized, sink.layer, control);
            if (!summary && summary.status().code() == StatusCode::Cancelled) {
                // A request superseded while it ran says by which one, as a queued one does.
                const std::lock_guard<std::mutex> lock(mutex);
                supersededBy = live.at(request.id).supersededBy;
            }
            if (!summary && supersededBy && summary.status().code() == StatusCode::Cancelled)
                fail(Status::cancelled("superseded by request " + std::to_string(supersededBy)));
            else if (!summary)
                fail(summary.status());
            else if (sink.finished)
                sink.finished(std::move(summary.value()));
        }
        const std::lock_guard<std::mutex> lock(mutex);
        live.erase(request.id);
    }
};

AnalysisEngine::AnalysisEngine()
    : m(std::make_unique<Impl>())
{
    m->thread = std::thread([impl = m.get()] { impl->loop(); });
}

AnalysisEngine::~AnalysisEngine()
{
    std::deque<Impl::Job> abandoned;
    {
        const std::lock_guard<std::mutex> lock(m->mutex);
        m->stopping = true;
        for (auto& [id, entry] : m->live)
            entry.token.cancel(); // the running request stops within a layer; queued ones never start
        abandoned.swap(m->jobs);
    }
    m->wake.notify_one();
    m->thread.join();
    // Queued requests and loads still end with `failed` (cancelled), here, once the engine thread is gone.
    for (Impl::Job& job : abandoned)
        if (job.abandon)
            job.abandon();
}

uint64_t AnalysisEngine::load(const std::string& path, const LoadOptions& options, LoadSink sink)
{
    uint64_t id = 0;
    {
        const std::lock_guard<std::mutex> lock(m->mutex);
        id = m->nextId++;
    }
    auto shared = std::make_shared<LoadSink>(std::move(sink));
    m->post([impl = m.get(), id, path, options, shared] { impl->runLoad(id, path, options, *shared); },
        [id, shared] {
            if (shared->failed)
                shared->failed(id, Status::cancelled("the engine closed before the model was loaded"));
        });
    return id;
}

void AnalysisEngine::unload(int modelId)
{
    m->post([impl = m.get(), modelId] {
        impl->models.erase(modelId);
        impl->hashPending.erase(modelId);
    });
}

uint64_t AnalysisEngine::submit(AnalysisRequest request, AnalysisSink sink)
{
    {
        const std::lock_guard<std::mutex> lock(m->mutex);
        request.id = m->nextId++;
        // Latest wins within a stream; a prefetch also gives way to any request that is not one (what the user
        // asked for now comes before what they might ask for next).
        for (auto& [id, entry] : m->live)
            if ((entry.stream == request.stream || (entry.prefetch && !request.prefetch)) && !entry.token.cancelled()) {
                entry.supersededBy = request.id;
                entry.token.cancel();
            }
        m->live[request.id] = Impl::Live {request.stream, CancelToken(), 0, request.prefetch};
    }
    const uint64_t id = request.id;
    auto shared = std::make_shared<AnalysisSink>(std::move(sink));
    m->post([impl = m.get(), request = std::move(request), shared] { impl->runRequest(request, *shared); },
        [id, shared] {
            if (shared->failed)
                shared->failed(id, Status::cancelled("the engine closed before the request started"));
        });
    return id;
}

void AnalysisEngine::cancel(uint64_t requestId)
{
    const std::lock_guard<std::mutex> lock(m->mutex);
    auto it = m->live.find(requestId);
    if (it != m->live.end())
        it->second.token.cancel();
}

void AnalysisEngine::cancelStream(const std::string& stream)
{
    const std::lock_guard<std::mutex> lock(m->mutex);
    for (auto& [id, entry] : m->live)
        if (entry.stream == stream)
            entry.token.cancel();
}

} // namespace attn
