// SPDX-License-Identifier: GPL-3.0-or-later
// HeadStatsCollector (issue #14): head metrics and span numbers computed from query tiles equal
// computeHeadMetrics() / spanAttention() on the full maps, for softmax and DIFF maps (lambda below and above 1),
// CoPE gates, every tile height, zero-mass rows and a one-token map, and for maps the real engine captured.
#include "attnscope/metrics.h"
#include "attnscope/model.h"
#include "engine/head_stats.h"
#include "model_fixture.h"

#include <ATen/Parallel.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <stdexcept>

using namespace attn;
using namespace attn::engine;
using namespace attn::test;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

/// Causal softmax rows of random logits, [H, N, N]; masked cells hold junk (NaN, inf, numbers) as tiles may.
at::Tensor randomSoftmax(int64_t heads, int64_t n, double temperature)
{
    const at::Tensor logits = at::randn({heads, n, n}, at::kDouble) * temperature;
    const at::Tensor future = at::ones({n, n}, at::kBool).triu(1);
    return at::softmax(logits.masked_fill(future, -INFINITY), -1).to(at::kFloat);
}

at::Tensor withJunkInMaskedCells(const at::Tensor& maps)
{
    const int64_t n = maps.size(-1);
    const at::Tensor future = at::ones({n, n}, at::kBool).triu(1);
    at::Tensor junk = at::randn(maps.sizes(), at::kFloat) * 50;
    junk.select(-1, n - 1).fill_(NAN);
    if (n > 2)
        junk.select(-1, n - 2).fill_(INFINITY);
    return at::where(future, junk, maps);
}

AttentionMap hostMap(const at::Tensor& maps, int64_t head, MapKind kind)
{
    const at::Tensor m = maps.select(0, head).contiguous();
    AttentionMap out;
    out.kind = kind;
    out.rows = out.cols = m.size(0);
    out.values.assign(m.data_ptr<float>(), m.data_ptr<float>() + m.numel());
    return out;
}

/// Feeds [H, N, N] maps as tiles of `tile` rows, [1, H, t, q0 + t], in the order given.
template <typename Add> void feedTiles(const at::Tensor& maps, int64_t tile, Add&& add, bool reverse = false)
{
    const int64_t n = maps.size(-1);
    std::vector<int64_t> starts;
    for (int64_t q0 = 0; q0 < n; q0 += tile)
        starts.push_back(q0);
    if (reverse)
        std::reverse(starts.begin(), starts.end());
    for (int64_t q0 : starts) {
        const int64_t q1 = std::min(n, q0 + tile);
        add(maps.narrow(1, q0, q1 - q0).narrow(2, 0, q1).unsqueeze(0), q0);
    }
}

void expectClose(double got, double expected, const std::string& what)
{
    if (std::isnan(expected)) {
        EXPECT_TRUE(std::isnan(got)) << what << ": got " << got << ", expected NaN";
        return;
    }
    EXPECT_NEAR(got, expected, 1e-6 * std::fabs(expected) + 1e-12) << what;
}

void expectSameMetrics(const HeadMetrics& got, const HeadMetrics& expected, const std::string& what)
{
    EXPECT_EQ(got.layer, expected.layer) << what;
    EXPECT_EQ(got.head, expected.head) << what;
    expectClose(got.entropy, expected.entropy, what + " entropy");
    expectClose(got.sinkMass, expected.sinkMass, what + " sinkMass");
    expectClose(got.maxWeight, expected.maxWeight, what + " maxWeight");
    expectClose(got.meanDistance, expected.meanDistance, what + " meanDistance");
    expectClose(got.negativeMass, expected.negativeMass, what + " negativeMass");
    expectClose(got.lambda, expected.lambda, what + " lambda");
    expectClose(got.meanGate, expected.meanGate, what + " meanGate");
    expectClose(got.gateRowSum, expected.gateRowSum, what + " gateRowSum");
}

void expectSameSpan(const SpanAttention& got, const SpanAttention& expected, const std::string& what)
{
    expectClose(got.toSpan, expected.toSpan, what + " toSpan");
    expectClose(got.noise, expected.noise, what + " noise");
    expectClose(got.sink, expected.sink, what + " sink");
    expectClose(got.rest, expected.rest, what + " rest");
    EXPECT_EQ(got.rows, expected.rows) << what;
}

/// What one head's maps look like on the host.
struct HostHead {
    AttentionMap attention;
    std::vector<AttentionMap> gates;
};

/// Runs the collector over `attention` (and `gates`) in tiles of `tile` rows and compares every head with
/// computeHeadMetrics() (and spanAttention() for each query) of the same maps.
void checkAgainstHost(const at::Tensor& attention, MapKind kind, double lambda, const std::vector<at::Tensor>& gates,
    int64_t tile, const std::vector<SpanQuery>& queries, const std::string& what, bool reverse = false)
{
    const int64_t heads = attention.size(0), n = attention.size(-1);
    const std::vector<MapKind> gateKinds
        = gates.size() == 2 ? std::vector<MapKind> {MapKind::G1, MapKind::G2} : std::vector<MapKind> {MapKind::G};
    std::vector<HostHead> host(static_cast<size_t>(heads));
    for (int64_t h = 0; h < heads; ++h) {
        host[static_cast<size_t>(h)].attention = hostMap(attention, h, kind);
        for (size_t g = 0; g < gates.size(); ++g)
            host[static_cast<size_t>(h)].gates.push_back(hostMap(gates[g], h, gateKinds[g]));
    }
    // One collector for the metrics, one per span query (the engine would ask one of each).
    std::vector<std::optional<SpanQuery>> spans {std::nullopt};
    for (const SpanQuery& q : queries)
        spans.push_back(q);
    for (const auto& span : spans) {
        HeadStatsCollector stats(n, heads, kind, lambda, static_cast<int64_t>(gates.size()), span);
        feedTiles(
            attention, tile, [&](const at::Tensor& t, int64_t q0) { stats.addAttention(t, q0); }, reverse);
        for (size_t g = 0; g < gates.size(); ++g)
            feedTiles(
                gates[g], tile,
                [&](const at::Tensor& t, int64_t q0) { stats.addGates(static_cast<int64_t>(g), t, q0); }, reverse);
        ASSERT_TRUE(stats.complete()) << what;
        if (!span) {
            const std::vector<HeadMetrics> got = stats.metrics(3);
            ASSERT_EQ(got.size(), static_cast<size_t>(heads)) << what;
            for (int64_t h = 0; h < heads; ++h) {
                std::vector<const AttentionMap*> gatePointers;
                for (const AttentionMap& g : host[static_cast<size_t>(h)].gates)
                    gatePointers.push_back(&g);
                auto expected = computeHeadMetrics(3, h, host[static_cast<size_t>(h)].attention, lambda, gatePointers);
                ASSERT_TRUE(expected) << expected.message();
                expectSameMetrics(got[static_cast<size_t>(h)], *expected, what + " head " + std::to_string(h));
            }
            EXPECT_TRUE(stats.spans().empty());
            continue;
        }
        const std::vector<SpanAttention> got = stats.spans();
        ASSERT_EQ(got.size(), static_cast<size_t>(heads)) << what;
        for (int64_t h = 0; h < heads; ++h) {
            auto expected = spanAttention(host[static_cast<size_t>(h)].attention, lambda, span->queryRows,
                span->spanBegin, span->spanEnd, span->noiseEnd);
            ASSERT_TRUE(expected) << expected.message();
            expectSameSpan(got[static_cast<size_t>(h)], *expected,
                what + " span [" + std::to_string(span->spanBegin) + ", " + std::to_string(span->spanEnd) + ") head "
                    + std::to_string(h));
        }
    }
}

std::vector<SpanQuery> spanQueries(int64_t n)
{
    return {
        {{}, n / 3, n / 2, n - 4}, // the last token; question starts 4 tokens before the end
        {{n - 1, n / 2, n / 2, 2, 0}, 1, n / 2 + 1, -1}, // duplicates, rows before and inside the span, no question
        {{n - 1, n - 2}, 0, 3, 0}, // the span holds token 0, so there is no sink; noise ends at 0
    };
}

} // namespace

TEST(HeadStats, SoftmaxMapsMatchTheHostForEveryTileHeight)
{
    at::manual_seed(1);
    const int64_t n = 37;
    at::Tensor maps = at::cat({randomSoftmax(2, n, 1.0), randomSoftmax(1, n, 6.0), at::zeros({1, n, n})});
    maps.select(0, 0).select(0, 5).zero_(); // rows with no mass: left out of entropy and distance
    maps.select(0, 1).select(0, 11).zero_();
    maps = withJunkInMaskedCells(maps);
    for (int64_t tile : std::vector<int64_t> {1, 7, 16, n})
        checkAgainstHost(maps, MapKind::A, kNaN, {}, tile, spanQueries(n), "A tile " + std::to_string(tile));
    checkAgainstHost(maps, MapKind::A1, kNaN, {}, 5, {}, "A1 tiles in reverse order", /*reverse=*/true);
}

TEST(HeadStats, DiffMapsMatchTheHostForLambdaBelowAndAboveOne)
{
    at::manual_seed(2);
    const int64_t n = 29;
    for (double lambda : {0.35, 0.8, 1.6, -0.2}) {
        const at::Tensor a1 = randomSoftmax(3, n, 2.0), a2 = randomSoftmax(3, n, 2.0);
        const at::Tensor d = withJunkInMaskedCells(a1 - static_cast<float>(lambda) * a2);
        const at::Tensor dn = withJunkInMaskedCells((a1 - static_cast<float>(lambda) * a2) / (1.0 - lambda));
        for (int64_t tile : std::vector<int64_t> {1, 7, n}) {
            const std::string what = "lambda " + std::to_string(lambda) + " tile " + std::to_string(tile);
            checkAgainstHost(d, MapKind::D, lambda, {}, tile, spanQueries(n), "D " + what);
            checkAgainstHost(dn, MapKind::DN, lambda, {}, tile, spanQueries(n), "DN " + what);
        }
    }
}

TEST(HeadStats, CopeGatesMatchTheHost)
{
    at::manual_seed(3);
    const int64_t n = 23;
    auto gates = [&] { return withJunkInMaskedCells(at::sigmoid(at::randn({2, n, n}) * 3)); };
    const at::Tensor a = withJunkInMaskedCells(randomSoftmax(2, n, 1.5));
    const at::Tensor d = withJunkInMaskedCells(randomSoftmax(2, n, 1.5) - 0.6f * randomSoftmax(2, n, 1.5));
    for (int64_t tile : std::vector<int64_t> {1, 7, n}) {
        checkAgainstHost(a, MapKind::A, kNaN, {gates()}, tile, {}, "softmax+CoPE tile " + std::to_string(tile));
        checkAgainstHost(d, MapKind::D, 0.6, {gates(), gates()}, tile, {}, "diff+CoPE tile " + std::to_string(tile));
    }
}

TEST(HeadStats, OneTokenMapHasNoSinkMass)
{
    const at::Tensor a = at::ones({2, 1, 1});
    checkAgainstHost(a, MapKind::A, kNaN, {}, 1, {{{}, 0, 1, -1}}, "1 token");
    HeadStatsCollector stats(1, 2, MapKind::A, kNaN, 0);
    stats.addAttention(a.unsqueeze(0), 0);
    const auto metrics = stats.metrics(0);
    EXPECT_TRUE(std::isnan(metrics[0].sinkMass));
    EXPECT_EQ(metrics[1].entropy, 0.0);
}

TEST(HeadStats, HalfPrecisionTilesAreReducedInFloat)
{
    at::manual_seed(4);
    const int64_t n = 31;
    // The host sees what the tile holds: the bf16 values, widened.
    const at::Tensor bf16 = withJunkInMaskedCells(randomSoftmax(2, n, 2.0)).to(at::kBFloat16);
    HeadStatsCollector stats(n, 2, MapKind::A, kNaN, 0);
    feedTiles(bf16, 8, [&](const at::Tensor& t, int64_t q0) { stats.addAttention(t, q0); });
    const auto got = stats.metrics(0);
    const at::Tensor widened = bf16.to(at::kFloat);
    for (int64_t h = 0; h < 2; ++h) {
        auto expected = computeHeadMetrics(0, h, hostMap(widened, h, MapKind::A), kNaN, {});
        ASSERT_TRUE(expected) << expected.message();
        expectSameMetrics(got[static_cast<size_t>(h)], *expected, "bf16 head " + std::to_string(h));
    }
}

TEST(HeadStats, BadInputIsRefusedSayingWhy)
{
    auto message = [](auto&& f) {
        try {
            f();
        } catch (const std::exception& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    EXPECT_NE(message([] { HeadStatsCollector(4, 2, MapKind::D, 1.0, 0); }).find("lambda = 1"), std::string::npos);
    EXPECT_NE(message([] { HeadStatsCollector(4, 2, MapKind::G, kNaN, 0); }).find("got G"), std::string::npos);
    EXPECT_NE(message([] { HeadStatsCollector(4, 2, MapKind::A, kNaN, 3); }).find("at most two"), std::string::npos);
    EXPECT_NE(message([] {
        HeadStatsCollector(4, 2, MapKind::A, kNaN, 0, SpanQuery {{}, 2, 2, -1});
    }).find("empty"),
        std::string::npos);
    EXPECT_NE(message([] {
        HeadStatsCollector(4, 2, MapKind::A, kNaN, 0, SpanQuery {{4}, 0, 2, -1});
    }).find("query row 4"),
        std::string::npos);

    const at::Tensor a = randomSoftmax(2, 6, 1.0).unsqueeze(0);
    {
        HeadStatsCollector stats(6, 2, MapKind::D, kNaN, 0);
        EXPECT_NE(message([&] { stats.addAttention(a, 0); }).find("needs the layer's lambda"), std::string::npos);
    }
    HeadStatsCollector stats(6, 2, MapKind::A, kNaN, 0);
    EXPECT_NE(message([&] { stats.addAttention(a.narrow(2, 0, 3), 0); }).find("does not cover"), std::string::npos);
    EXPECT_NE(message([&] { stats.addAttention(a.narrow(1, 0, 1), 0); }).find("expected 2"), std::string::npos);
    stats.addAttention(a.narrow(2, 0, 3).narrow(3, 0, 3), 0);
    EXPECT_NE(message([&] { stats.addAttention(a.narrow(2, 2, 2).narrow(3, 0, 4), 2); }).find("row 2 was added twice"),
        std::string::npos);
    EXPECT_FALSE(stats.complete());
    EXPECT_NE(message([&] { stats.metrics(0); }).find("row 3 was never added"), std::string::npos);

    at::Tensor broken = a.clone();
    broken[0][1][4][2] = NAN; // visible: row 4 sees key 2
    HeadStatsCollector nanStats(6, 2, MapKind::A, kNaN, 0);
    nanStats.addAttention(broken, 0);
    EXPECT_NE(
        message([&] { nanStats.metrics(0); }).find("head 1: the A map has a non-finite value"), std::string::npos);
}

namespace {

/// Captures every head's full maps of a small model at a tile height, then checks the collector on the
/// captured maps cut into tiles against computeHeadMetrics() of the same maps.
void checkCapturedModel(AttentionKind attention, PositionKind position)
{
    TempDir dir;
    auto loaded = Model::load(writeModel(dir, "m", smallConfig(attention, position), 7), {});
    ASSERT_TRUE(loaded) << loaded.message();
    Model& model = **loaded;
    const ModelConfig& c = model.config();
    const bool diff = attention == AttentionKind::Diff;
    CaptureRequest request;
    request.tokens = model.tokenizer().encode("the cat sat on the mat; where did the cat sit?");
    const auto n = static_cast<int64_t>(request.tokens.size());
    const MapKind kind = diff ? MapKind::D : MapKind::A;
    std::vector<MapKind> gateKinds;
    if (c.hasCope())
        gateKinds = diff ? std::vector<MapKind> {MapKind::G1, MapKind::G2} : std::vector<MapKind> {MapKind::G};
    request.kinds = {kind};
    request.kinds.insert(request.kinds.end(), gateKinds.begin(), gateKinds.end());
    for (int64_t layer = 0; layer < c.nLayers; ++layer)
        for (int64_t head = 0; head < c.nHeads; ++head)
            request.heads.push_back({layer, head});
    request.queryTile = 5;
    auto captured = model.capture(request);
    ASSERT_TRUE(captured) << captured.message();

    auto stack = [&](int64_t layer, MapKind k) {
        std::vector<at::Tensor> heads;
        for (int64_t head = 0; head < c.nHeads; ++head) {
            const AttentionMap* map = captured->find(layer, head, k);
            EXPECT_NE(map, nullptr);
            heads.push_back(at::tensor(map->values, at::kFloat).view({n, n}));
        }
        return at::stack(heads);
    };
    for (int64_t layer = 0; layer < c.nLayers; ++layer) {
        const double lambda = diff ? captured->lambda[static_cast<size_t>(layer)] : kNaN;
        std::vector<at::Tensor> gates;
        for (MapKind g : gateKinds)
            gates.push_back(stack(layer, g));
        for (int64_t tile : std::vector<int64_t> {1, 7, n})
            checkAgainstHost(stack(layer, kind), kind, lambda, gates, tile, spanQueries(n),
                attentionPositionName(attention, position) + " layer " + std::to_string(layer) + " tile "
                    + std::to_string(tile));
    }
}

} // namespace

TEST(HeadStats, CapturedSoftmaxCopeModelMatchesTheHost)
{
    checkCapturedModel(AttentionKind::Softmax, PositionKind::Cope);
}

TEST(HeadStats, CapturedDiffRopeCopeModelMatchesTheHost)
{
    checkCapturedModel(AttentionKind::Diff, PositionKind::RopeCope);
}

namespace {

/// Milliseconds of the fastest of `repeats` runs of f.
template <typename F> double fastestMs(int repeats, F&& f)
{
    double best = INFINITY;
    for (int i = 0; i < repeats; ++i) {
        const auto start = std::chrono::steady_clock::now();
        f();
        best = std::min(
            best, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    }
    return best;
}

} // namespace

// A measurement, not a check of correctness: run with --gtest_also_run_disabled_tests
// --gtest_filter='*CostPerLayer*'. One layer of 32 heads (head dim 64) at 2048 tokens on the CPU, in the
// engine's CPU tiles of 32 rows: the time of the attention tile work (q.k, mask, softmax, A.v; diff: two
// softmax groups and D = A1 - lambda A2 as diffAttention() computes them) and, timed apart in the same loop,
// the collector reading each tile (best of 3), with LibTorch's thread count.
TEST(HeadStats, DISABLED_CostPerLayerAt2048TokensWith32Heads)
{
    const int64_t heads = 32, n = 2048, d = 64, tileRows = 32;
    at::manual_seed(5);
    c10::InferenceMode guard;
    const at::Tensor q = at::randn({1, heads, n, d}) / 8.0, k = at::randn({1, heads, n, d});
    const at::Tensor v = at::randn({1, heads, n, d});
    const double lambda = 0.8;
    using Clock = std::chrono::steady_clock;
    auto ms = [](Clock::duration dt) { return std::chrono::duration<double, std::milli>(dt).count(); };
    const int threads = at::get_num_threads();
    for (bool diff : {false, true}) {
        double bestAttention = INFINITY, bestStats = INFINITY;
        std::vector<HeadMetrics> metrics;
        for (int repeat = 0; repeat < 3; ++repeat) {
            HeadStatsCollector stats(
                n, heads, diff ? MapKind::D : MapKind::A, lambda, 0, SpanQuery {{}, 100, 120, 2000});
            Clock::duration attention {}, reading {};
            for (int64_t q0 = 0; q0 < n; q0 += tileRows) {
                const auto start = Clock::now();
                const int64_t q1 = std::min(n, q0 + tileRows);
                const at::Tensor future = at::ones({q1 - q0, q1}, at::kBool).triu(q0 + 1);
                auto softmax = [&](double scale) {
                    const at::Tensor logits
                        = at::matmul(q.narrow(2, q0, q1 - q0) * scale, k.narrow(2, 0, q1).transpose(-2, -1));
                    return at::softmax(logits.masked_fill(future, -INFINITY), -1);
                };
                const at::Tensor a = diff ? softmax(1.0) - lambda * softmax(0.5) : softmax(1.0);
                const at::Tensor out = at::matmul(a, v.narrow(2, 0, q1));
                const auto computed = Clock::now();
                stats.addAttention(a, q0);
                reading += Clock::now() - computed;
                attention += computed - start;
            }
            const auto start = Clock::now();
            metrics = stats.metrics(0);
            reading += Clock::now() - start;
            bestAttention = std::min(bestAttention, ms(attention));
            bestStats = std::min(bestStats, ms(reading));
        }
        std::printf("%s layer, %lld heads, %lld tokens, tiles of %lld rows, %d thread(s): attention tiles %.1f ms, "
                    "head stats %.1f ms (%.0f%%)\n",
            diff ? "diff" : "softmax", static_cast<long long>(heads), static_cast<long long>(n),
            static_cast<long long>(tileRows), threads, bestAttention, bestStats, 100.0 * bestStats / bestAttention);
        ASSERT_EQ(metrics.size(), static_cast<size_t>(heads));
        EXPECT_TRUE(std::isfinite(metrics[0].entropy));
    }
}
