// SPDX-License-Identifier: GPL-3.0-or-later
// AnalysisEngine: one thread, requests in order, "latest wins" per stream through cancel tokens, every request ends
// with exactly one of finished / failed.
#include "attnscope/analysis_engine.h"
#include "model_fixture.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace attn {
namespace {

using namespace std::chrono_literals;
using test::TempDir;

/// Records what one request's sink was told, from the engine thread.
struct Outcome {
    std::mutex mutex;
    std::condition_variable changed;
    bool started = false;
    std::vector<int64_t> layers;
    std::optional<AnalysisSummary> finished;
    std::optional<Status> failed;
    std::function<void()> afterFirstLayer; ///< runs on the engine thread, holding it inside the request
    std::function<void()> afterFirstProgress; ///< the same at the first progress report (a prefetch streams no layer)
    bool progressed = false;

    AnalysisSink sink()
    {
        AnalysisSink s;
        s.started = [this](AnalysisStart) { update([&] { started = true; }); };
        s.layer = [this](LayerResult layer) {
            update([&] { layers.push_back(layer.layer); });
            if (layers.size() == 1 && afterFirstLayer)
                afterFirstLayer();
        };
        s.progress = [this](uint64_t, int64_t, int64_t) {
            if (!progressed && afterFirstProgress) {
                progressed = true;
                afterFirstProgress();
            }
        };
        s.finished = [this](AnalysisSummary summary) { update([&] { finished = std::move(summary); }); };
        s.failed = [this](uint64_t, Status status) { update([&] { failed = std::move(status); }); };
        return s;
    }
    /// Notifies while holding the lock: the waiting test may see the outcome, return and destroy this object (and
    /// its condition variable) as soon as the lock is free, so nothing here may touch it after unlocking (TSan).
    template <typename F> void update(F f)
    {
        const std::lock_guard<std::mutex> lock(mutex);
        f();
        changed.notify_all();
    }
    /// Waits (at most a minute) until pred holds.
    template <typename P> bool waitFor(P pred)
    {
        std::unique_lock<std::mutex> lock(mutex);
        return changed.wait_for(lock, 60s, pred);
    }
    bool waitDone()
    {
        return waitFor([this] { return finished.has_value() || failed.has_value(); });
    }
};

class AnalysisEngineTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        config = test::smallConfig(AttentionKind::Diff, PositionKind::Rope);
        config.nLayers = 8;
        config.maxSeqLen = 256;
        path = test::writeModel(dir, "m", config);
        modelId = loadModel(path);
    }

    int loadModel(const std::string& modelPath)
    {
        std::mutex mutex;
        std::condition_variable done;
        std::optional<LoadedModel> loaded;
        std::optional<Status> failed;
        LoadSink sink;
        sink.loaded = [&](uint64_t, LoadedModel m) {
            const std::lock_guard<std::mutex> lock(mutex);
            loaded = std::move(m);
            done.notify_all();
        };
        sink.failed = [&](uint64_t, Status s) {
            const std::lock_guard<std::mutex> lock(mutex);
            failed = std::move(s);
            done.notify_all();
        };
        engine.load(modelPath, {}, sink);
        std::unique_lock<std::mutex> lock(mutex);
        done.wait_for(lock, 60s, [&] { return loaded || failed; });
        EXPECT_TRUE(loaded) << (failed ? failed->message() : "no answer");
        return loaded ? loaded->id : -1;
    }

    /// Every head of every layer of a long prompt: slow enough to be caught running.
    AnalysisRequest batch(const std::string& stream = "batch") const
    {
        AnalysisRequest r;
        r.stream = stream;
        r.modelId = modelId;
        r.prompt = std::string(250, 'a');
        r.kinds = {MapKind::A1, MapKind::A2, MapKind::D, MapKind::DN};
        for (int64_t l = 0; l < config.nLayers; ++l)
            r.everyHeadOfLayers.push_back(l);
        r.keepPromptState = false;
        return r;
    }

    TempDir dir;
    ModelConfig config;
    std::string path;
    AnalysisEngine engine;
    int modelId = -1;
};

TEST_F(AnalysisEngineTest, ANewRequestSupersedesTheQueuedOneOfItsStreamOnly)
{
    // The first may be queued or already running when the third is posted (the engine thread starts it at once);
    // either way it ends cancelled and names the request that superseded it.
    Outcome first, second, other;
    engine.submit(batch(), first.sink());
    engine.submit(batch("elsewhere"), other.sink());
    const uint64_t secondId = engine.submit(batch(), second.sink());
    ASSERT_TRUE(first.waitDone());
    ASSERT_TRUE(second.waitDone());
    ASSERT_TRUE(other.waitDone());
    ASSERT_TRUE(first.failed);
    EXPECT_EQ(first.failed->code(), StatusCode::Cancelled);
    EXPECT_NE(first.failed->message().find("superseded by request " + std::to_string(secondId)), std::string::npos)
        << first.failed->message();
    ASSERT_TRUE(second.finished) << second.failed->message();
    EXPECT_EQ(static_cast<int64_t>(second.layers.size()), config.nLayers);
    EXPECT_TRUE(other.finished) << "another stream is not superseded";
}

TEST_F(AnalysisEngineTest, CancellingABatchAndStartingAnotherStopsTheFirstWithinALayer)
{
    Outcome first, second;
    // The test cancels and starts the second batch while the first is inside its first layer's result.
    first.afterFirstLayer = [&] {
        engine.cancelStream("batch");
        engine.submit(batch(), second.sink());
    };
    engine.submit(batch(), first.sink());
    ASSERT_TRUE(first.waitDone());
    ASSERT_TRUE(second.waitDone());
    ASSERT_TRUE(first.failed) << "the first batch ran to its end";
    EXPECT_EQ(first.failed->code(), StatusCode::Cancelled);
    EXPECT_EQ(first.layers.size(), 1u) << "the first batch ran on after its cancel";
    ASSERT_TRUE(second.finished) << second.failed->message();
    EXPECT_EQ(static_cast<int64_t>(second.layers.size()), config.nLayers);
}

TEST_F(AnalysisEngineTest, ARequestPostedWhileAnotherRunsSupersedesItBetweenLayers)
{
    Outcome first, second;
    std::atomic<uint64_t> secondId {0};
    first.afterFirstLayer = [&] { secondId = engine.submit(batch("run"), second.sink()); };
    engine.submit(batch("run"), first.sink());
    ASSERT_TRUE(first.waitDone());
    ASSERT_TRUE(second.waitDone());
    ASSERT_TRUE(first.failed);
    EXPECT_EQ(first.failed->code(), StatusCode::Cancelled);
    EXPECT_NE(first.failed->message().find("superseded by request " + std::to_string(secondId.load())),
        std::string::npos)
        << "a request superseded while it runs says by which one: " << first.failed->message();
    EXPECT_EQ(first.layers.size(), 1u);
    EXPECT_TRUE(second.finished);
}

TEST_F(AnalysisEngineTest, APrefetchGivesWayToAnyOtherRequestAndNeverSupersedesOne)
{
    AnalysisRequest shown;
    shown.stream = "run";
    shown.modelId = modelId;
    shown.prompt = std::string(250, 'a');
    shown.kinds = {MapKind::D};
    shown.heads = {{0, 0}};
    Outcome pass;
    engine.submit(shown, pass.sink()); // the whole model once: the prompt is kept
    ASSERT_TRUE(pass.waitDone());
    ASSERT_TRUE(pass.finished) << pass.failed->message();

    // A prefetch of every head, caught after its first layer by a request of another stream.
    AnalysisRequest ahead = shown;
    ahead.stream = "prefetch";
    ahead.prefetch = true;
    ahead.heads.clear();
    for (int64_t l = 0; l < config.nLayers; ++l)
        for (int64_t h = 0; h < config.nHeads; ++h)
            ahead.heads.push_back({l, h});
    Outcome prefetch, next;
    std::atomic<uint64_t> nextId {0};
    prefetch.afterFirstProgress = [&] {
        AnalysisRequest other = shown;
        other.heads = {{config.nLayers - 1, 1}};
        nextId = engine.submit(other, next.sink());
    };
    engine.submit(ahead, prefetch.sink());
    ASSERT_TRUE(prefetch.waitDone());
    ASSERT_TRUE(next.waitDone());
    ASSERT_TRUE(prefetch.failed) << "the prefetch ran on past a request of another stream";
    EXPECT_EQ(prefetch.failed->code(), StatusCode::Cancelled);
    EXPECT_NE(prefetch.failed->message().find("superseded by request " + std::to_string(nextId.load())),
        std::string::npos)
        << prefetch.failed->message();
    EXPECT_TRUE(prefetch.layers.empty()) << "a prefetch streams no maps";
    ASSERT_TRUE(next.finished) << next.failed->message();
    EXPECT_EQ(next.finished->layersComputed, 1);

    // The other way round: a prefetch posted while a request runs waits for it.
    Outcome running, late;
    running.afterFirstLayer = [&] { engine.submit(ahead, late.sink()); };
    engine.submit(batch("run"), running.sink());
    ASSERT_TRUE(running.waitDone());
    ASSERT_TRUE(late.waitDone());
    EXPECT_TRUE(running.finished) << "a prefetch superseded a request: " << running.failed->message();
}

TEST_F(AnalysisEngineTest, ACancelBeforeTheStartMeansTheRequestNeverStarts)
{
    Outcome running, queued;
    engine.submit(batch("a"), running.sink());
    const uint64_t id = engine.submit(batch("b"), queued.sink());
    engine.cancel(id);
    ASSERT_TRUE(queued.waitDone());
    EXPECT_FALSE(queued.started);
    ASSERT_TRUE(queued.failed);
    EXPECT_EQ(queued.failed->code(), StatusCode::Cancelled);
    ASSERT_TRUE(running.waitDone());
    EXPECT_TRUE(running.finished);
}

TEST_F(AnalysisEngineTest, FailuresAreReportedOnceWithTheirCode)
{
    Outcome missing;
    AnalysisRequest r = batch();
    r.modelId = 999;
    engine.submit(r, missing.sink());
    ASSERT_TRUE(missing.waitDone());
    ASSERT_TRUE(missing.failed);
    EXPECT_EQ(missing.failed->code(), StatusCode::Invalid);
    EXPECT_NE(missing.failed->message().find("999"), std::string::npos);

    Outcome bad;
    r = batch();
    r.heads = {{config.nLayers, 0}};
    engine.submit(r, bad.sink());
    ASSERT_TRUE(bad.waitDone());
    ASSERT_TRUE(bad.failed);
    EXPECT_NE(bad.failed->message().find("layer " + std::to_string(config.nLayers)), std::string::npos);
    EXPECT_FALSE(bad.finished);

    // A model that cannot load fails its load, and the engine goes on serving the others.
    std::optional<Status> loadError;
    std::mutex mutex;
    std::condition_variable done;
    LoadSink sink;
    sink.failed = [&](uint64_t, Status s) {
        const std::lock_guard<std::mutex> lock(mutex);
        loadError = std::move(s);
        done.notify_all();
    };
    engine.load(dir.file("nothing-here"), {}, sink);
    {
        std::unique_lock<std::mutex> lock(mutex);
        ASSERT_TRUE(done.wait_for(lock, 60s, [&] { return loadError.has_value(); }));
    }
    EXPECT_NE(loadError->message().find("nothing-here"), std::string::npos) << loadError->message();
    Outcome after;
    engine.submit(batch(), after.sink());
    ASSERT_TRUE(after.waitDone());
    EXPECT_TRUE(after.finished);
}

TEST_F(AnalysisEngineTest, ClosingTheEngineStopsARunningRequestPromptly)
{
    auto closing = std::make_unique<AnalysisEngine>();
    Outcome running;
    LoadSink sink;
    std::atomic<int> id {-1};
    sink.loaded = [&](uint64_t, LoadedModel m) { id = m.id; };
    closing->load(path, {}, sink);
    for (int i = 0; i < 600 && id < 0; ++i)
        std::this_thread::sleep_for(100ms);
    ASSERT_GE(id.load(), 0);
    AnalysisRequest r = batch();
    r.modelId = id;
    closing->submit(r, running.sink());
    ASSERT_TRUE(running.waitFor([&] { return running.started; }));
    // Queued behind the running one (another stream, so not superseded): it never starts, and still ends.
    Outcome queued;
    r.stream = "other";
    closing->submit(r, queued.sink());
    const auto t0 = std::chrono::steady_clock::now();
    closing.reset();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
    // The engine thread is joined: every callback has run. Each request ended exactly once.
    EXPECT_TRUE(running.finished.has_value() != running.failed.has_value());
    ASSERT_TRUE(queued.failed) << "a request queued when the engine closes still ends";
    EXPECT_FALSE(queued.finished);
    EXPECT_EQ(queued.failed->code(), StatusCode::Cancelled);
    if (!queued.started) { // the usual case; it starts only if the first one ended before the close
        EXPECT_NE(queued.failed->message().find("closed"), std::string::npos) << queued.failed->message();
    }
}

} // namespace
} // namespace attn
