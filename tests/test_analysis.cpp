// SPDX-License-Identifier: GPL-3.0-or-later
// Model::analyze: one pass serves maps, numbers and thumbnails; the prompt state makes a head or layer switch run one
// layer's attention for the requested heads only, with the same maps as a whole pass.
#include "attnscope/metrics.h"
#include "attnscope/model.h"
#include "attnscope/pooling.h"
#include "model_fixture.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <tuple>

namespace attn {
namespace {

using test::TempDir;

constexpr char kPrompt[] = "the quick brown fox jumps over the lazy dog, twice: the quick brown fox";

void expectSameMap(const AttentionMap& a, const AttentionMap& b, double tolerance)
{
    ASSERT_EQ(a.rows, b.rows);
    ASSERT_EQ(a.cols, b.cols);
    ASSERT_EQ(a.values.size(), b.values.size());
    for (size_t i = 0; i < a.values.size(); ++i) {
        if (std::isnan(b.values[i])) {
            ASSERT_TRUE(std::isnan(a.values[i])) << "cell " << i;
            continue;
        }
        ASSERT_NEAR(a.values[i], b.values[i], tolerance * std::max(1.0f, std::fabs(b.values[i])))
            << toString(a.kind) << " layer " << a.layer << " head " << a.head << " cell " << i;
    }
}

struct Collected {
    std::vector<LayerResult> layers;
    std::vector<AttentionMap> maps() const
    {
        std::vector<AttentionMap> all;
        for (const LayerResult& l : layers)
            all.insert(all.end(), l.maps.begin(), l.maps.end());
        return all;
    }
};

Result<AnalysisSummary> runAnalysis(Model& model, const AnalysisRequest& request, Collected& out)
{
    out.layers.clear();
    return model.analyze(request, [&](LayerResult layer) { out.layers.push_back(std::move(layer)); });
}

using Variant = std::tuple<AttentionKind, PositionKind, int64_t /*kv heads*/>;

class AnalyzeTest : public ::testing::TestWithParam<Variant> {
protected:
    void SetUp() override
    {
        const auto [attention, position, kvHeads] = GetParam();
        config = test::smallConfig(attention, position);
        config.nLayers = 3;
        config.nHeads = 4;
        config.nKvHeads = kvHeads;
        config.maxSeqLen = 96;
        config.cope.npos = 97;
        auto loaded = Model::load(test::writeModel(dir, "m", config, 7));
        ASSERT_TRUE(loaded) << loaded.message();
        model = std::move(loaded.value());
        tokens = model->tokenizer().encode(kPrompt);
        kinds = availableMapKinds(config, /*includeLogits=*/true);
    }

    /// The reference: a whole pass that keeps nothing (Model::capture), all heads of a layer.
    CaptureResult reference(int64_t layer)
    {
        CaptureRequest request {tokens, {}, kinds};
        for (int64_t h = 0; h < config.nHeads; ++h)
            request.heads.push_back({layer, h});
        auto result = model->capture(request);
        EXPECT_TRUE(result) << result.message();
        return result ? *result : CaptureResult {};
    }

    TempDir dir;
    ModelConfig config;
    std::unique_ptr<Model> model;
    std::vector<int64_t> tokens;
    std::vector<MapKind> kinds;
};

TEST_P(AnalyzeTest, HeadAndLayerSwitchesRunOneLayerAndGiveTheWholePassMaps)
{
    const CaptureResult layer1 = reference(1);
    const CaptureResult layer2 = reference(2);

    AnalysisRequest request;
    request.prompt = kPrompt;
    request.heads = {{1, 0}};
    request.kinds = kinds;
    Collected got;
    auto first = runAnalysis(*model, request, got);
    ASSERT_TRUE(first) << first.message();
    EXPECT_EQ(first->layersComputed, config.nLayers) << "a new prompt runs the whole model";
    EXPECT_EQ(first->tokens, tokens);
    ASSERT_EQ(got.layers.size(), 1u);
    for (const AttentionMap& map : got.maps())
        expectSameMap(map, *layer1.find(1, 0, map.kind), 1e-6);

    // Every other head of that layer, then heads of another layer: one layer's attention each time. Layer 1 was
    // captured, so its queries and keys are kept and a switch there runs score tiles only; layer 2 was run without a
    // capture, so a switch there projects one head's slice from the kept layer input: both paths are checked here.
    for (const HeadRef ref : {HeadRef {1, 3}, HeadRef {1, 2}, HeadRef {2, 1}, HeadRef {1, 1}}) {
        request.heads = {ref};
        auto again = runAnalysis(*model, request, got);
        ASSERT_TRUE(again) << again.message();
        EXPECT_EQ(again->layersComputed, 1) << "layer " << ref.layer << " head " << ref.head;
        EXPECT_EQ(again->lastLogits, first->lastLogits) << "the kept logits";
        const std::vector<AttentionMap> maps = got.maps();
        ASSERT_EQ(maps.size(), kinds.size());
        const CaptureResult& whole = ref.layer == 1 ? layer1 : layer2;
        for (const AttentionMap& map : maps) {
            EXPECT_EQ(map.layer, ref.layer);
            EXPECT_EQ(map.head, ref.head);
            // Positions sum gates over up to N keys and B interpolates the position table there: a 1e-7 change in a
            // gate logit (the slice's matmul sums in another order) moves them by up to ~1e-5.
            const bool positional = map.kind == MapKind::P || map.kind == MapKind::P1 || map.kind == MapKind::P2
                || map.kind == MapKind::B || map.kind == MapKind::B1 || map.kind == MapKind::B2;
            expectSameMap(map, *whole.find(ref.layer, ref.head, map.kind), positional ? 1e-4 : 1e-5);
        }
    }
}

TEST_P(AnalyzeTest, OverviewsAndWindowsOfAKeptPromptMatchTheWholePass)
{
    AnalysisRequest request;
    request.tokens = tokens;
    request.heads = {{0, 1}};
    request.kinds = kinds;
    Collected got;
    ASSERT_TRUE(runAnalysis(*model, request, got));
    const CaptureResult whole = reference(2);
    for (const MapRegion region : {MapRegion::overview(7, PoolMode::Max), MapRegion::window(10, 40, 3, 30)}) {
        request.heads = {{2, 3}};
        request.region = region;
        auto again = runAnalysis(*model, request, got);
        ASSERT_TRUE(again) << again.message();
        EXPECT_EQ(again->layersComputed, 1);
        for (const AttentionMap& map : got.maps()) {
            const AttentionMap* full = whole.find(2, 3, map.kind);
            ASSERT_NE(full, nullptr);
            if (region.mode == MapRegion::Mode::Overview) {
                expectSameMap(map, poolMap(*full, 7, PoolMode::Max, isSignedMap(map.kind)), 1e-5);
            } else {
                ASSERT_EQ(map.rows, 30);
                ASSERT_EQ(map.cols, 27);
                for (int64_t r = 0; r < map.rows; ++r)
                    for (int64_t c = 0; c < map.cols; ++c) {
                        const float want = full->at(10 + r, 3 + c);
                        if (std::isnan(want))
                            EXPECT_TRUE(std::isnan(map.at(r, c)));
                        else
                            EXPECT_NEAR(map.at(r, c), want, 1e-5 * std::max(1.0f, std::fabs(want)));
                    }
            }
        }
    }
}

TEST_P(AnalyzeTest, AHeadShownBeforeOrPrefetchedCostsACopyOfItsComputedMaps)
{
    const CaptureResult layer1 = reference(1); // before anything is kept: a whole pass of its own
    const CaptureResult layer2 = reference(2);
    AnalysisRequest request;
    request.tokens = tokens;
    request.kinds = kinds;
    request.heads = {{2, 3}};
    request.prefetch = true;
    Collected got;
    auto refused = runAnalysis(*model, request, got);
    ASSERT_FALSE(refused) << "a prefetch never runs the whole model";
    EXPECT_EQ(refused.status().code(), StatusCode::Refused);
    EXPECT_NE(refused.message().find("prefetch"), std::string::npos) << refused.message();

    request.prefetch = false;
    request.heads = {{1, 0}};
    ASSERT_TRUE(runAnalysis(*model, request, got));
    const std::vector<AttentionMap> shown = got.maps();
    ASSERT_EQ(shown.size(), kinds.size());

    request.prefetch = true;
    request.heads = {{2, 3}, {1, 1}};
    auto ahead = runAnalysis(*model, request, got);
    ASSERT_TRUE(ahead) << ahead.message();
    EXPECT_EQ(ahead->layersComputed, 2);
    EXPECT_TRUE(got.layers.empty()) << "a prefetch streams nothing back";

    // The head shown first and the prefetched ones: nothing runs, and the maps are those computed.
    request.prefetch = false;
    request.heads = {{2, 3}, {1, 0}, {1, 1}};
    auto cached = runAnalysis(*model, request, got);
    ASSERT_TRUE(cached) << cached.message();
    EXPECT_EQ(cached->layersComputed, 0);
    std::vector<AttentionMap> maps = got.maps();
    ASSERT_EQ(maps.size(), 3 * kinds.size());
    for (size_t i = 0; i < kinds.size(); ++i) {
        const AttentionMap& again = maps[i]; // layer 1 first, its heads in the order asked
        EXPECT_EQ(again.head, 0);
        EXPECT_EQ(again.kind, kinds[i]);
        ASSERT_EQ(again.values.size(), shown[i].values.size());
        EXPECT_EQ(std::memcmp(again.values.data(), shown[i].values.data(), again.values.size() * sizeof(float)), 0)
            << "bit for bit (NaN where masked)";
    }
    for (const AttentionMap& map : maps) {
        const bool positional = map.kind == MapKind::P || map.kind == MapKind::P1 || map.kind == MapKind::P2
            || map.kind == MapKind::B || map.kind == MapKind::B1 || map.kind == MapKind::B2;
        const CaptureResult& whole = map.layer == 1 ? layer1 : layer2;
        expectSameMap(map, *whole.find(map.layer, map.head, map.kind), positional ? 1e-4 : 1e-5);
    }

    // A head not kept beside kept ones: only it runs, and the order asked is kept.
    request.heads = {{2, 0}, {2, 3}};
    auto mixed = runAnalysis(*model, request, got);
    ASSERT_TRUE(mixed) << mixed.message();
    EXPECT_EQ(mixed->layersComputed, 1);
    maps = got.maps();
    ASSERT_EQ(maps.size(), 2 * kinds.size());
    EXPECT_EQ(maps.front().head, 0);
    EXPECT_EQ(maps.back().head, 3);
    for (const AttentionMap& map : maps)
        expectSameMap(map, *layer2.find(2, map.head, map.kind), 1e-4);

    // Another prompt: nothing kept is served for it.
    request.tokens.pop_back();
    auto other = runAnalysis(*model, request, got);
    ASSERT_TRUE(other) << other.message();
    EXPECT_EQ(other->layersComputed, config.nLayers);
}

TEST_P(AnalyzeTest, MetricsSpansAndThumbnailsOfEveryHeadComeFromTheSamePass)
{
    const MapKind attention = config.isDiff() ? MapKind::D : MapKind::A;
    std::vector<MapKind> gateKinds;
    if (config.hasCope())
        gateKinds
            = config.isDiff() ? std::vector<MapKind> {MapKind::G1, MapKind::G2} : std::vector<MapKind> {MapKind::G};
    CaptureRequest everything {tokens, {}, {attention}};
    everything.kinds.insert(everything.kinds.end(), gateKinds.begin(), gateKinds.end());
    for (int64_t l = 0; l < config.nLayers; ++l)
        for (int64_t h = 0; h < config.nHeads; ++h)
            everything.heads.push_back({l, h});
    auto whole = model->capture(everything);
    ASSERT_TRUE(whole) << whole.message();

    AnalysisRequest request;
    request.tokens = tokens;
    request.heads = {{0, 0}};
    request.kinds = {attention};
    request.metrics = true;
    request.thumbnailSize = 9;
    request.span = {5, 9, 40, {}};
    Collected got;
    auto summary = runAnalysis(*model, request, got);
    ASSERT_TRUE(summary) << summary.message();
    ASSERT_EQ(static_cast<int64_t>(got.layers.size()), config.nLayers);
    std::map<int64_t, std::vector<SpanAttention>> byLayer;
    for (const LayerResult& layer : got.layers) {
        ASSERT_EQ(static_cast<int64_t>(layer.metrics.size()), config.nHeads);
        ASSERT_EQ(static_cast<int64_t>(layer.spans.size()), config.nHeads);
        ASSERT_EQ(static_cast<int64_t>(layer.thumbnails.size()), config.nHeads);
        const double lambda = config.isDiff() ? whole->lambda[static_cast<size_t>(layer.layer)] : kNoMetric;
        for (int64_t h = 0; h < config.nHeads; ++h) {
            const AttentionMap& map = *whole->find(layer.layer, h, attention);
            std::vector<const AttentionMap*> gates;
            for (MapKind g : gateKinds)
                gates.push_back(whole->find(layer.layer, h, g));
            auto want = computeHeadMetrics(layer.layer, h, map, lambda, gates);
            ASSERT_TRUE(want) << want.message();
            const HeadMetrics& m = layer.metrics[static_cast<size_t>(h)];
            EXPECT_EQ(m.head, h);
            for (auto field : {&HeadMetrics::entropy, &HeadMetrics::sinkMass, &HeadMetrics::maxWeight,
                     &HeadMetrics::meanDistance, &HeadMetrics::negativeMass, &HeadMetrics::lambda,
                     &HeadMetrics::meanGate, &HeadMetrics::gateRowSum}) {
                if (std::isnan((*want).*field))
                    EXPECT_TRUE(std::isnan(m.*field));
                else
                    EXPECT_NEAR(m.*field, (*want).*field, 1e-5 * std::max(1.0, std::fabs((*want).*field)));
            }
            auto span = spanAttention(map, lambda, {}, 5, 9, 40);
            ASSERT_TRUE(span) << span.message();
            EXPECT_NEAR(layer.spans[static_cast<size_t>(h)].span.toSpan, span->toSpan, 1e-5);
            EXPECT_NEAR(layer.spans[static_cast<size_t>(h)].span.noise, span->noise, 1e-5);
            byLayer[layer.layer].push_back(*span);
            expectSameMap(
                layer.thumbnails[static_cast<size_t>(h)], poolMap(map, 9, PoolMode::Max, config.isDiff()), 1e-5);
        }
    }
    auto average = paperAverage(byLayer);
    ASSERT_TRUE(average);
    EXPECT_NEAR(summary->spanAverage.toSpan, average->toSpan, 1e-5);

    // A head switch reuses the kept numbers: nothing but the asked layer runs, and every layer's numbers come back.
    request.heads = {{2, 2}};
    auto again = runAnalysis(*model, request, got);
    ASSERT_TRUE(again) << again.message();
    EXPECT_EQ(again->layersComputed, 1);
    ASSERT_EQ(static_cast<int64_t>(got.layers.size()), config.nLayers);
    EXPECT_EQ(got.layers[1].metrics.size(), static_cast<size_t>(config.nHeads));
}

INSTANTIATE_TEST_SUITE_P(Variants, AnalyzeTest,
    ::testing::Values(Variant {AttentionKind::Softmax, PositionKind::Rope, 4},
        Variant {AttentionKind::Softmax, PositionKind::Rope, 2},
        Variant {AttentionKind::Softmax, PositionKind::Cope, 2}, Variant {AttentionKind::Diff, PositionKind::Rope, 4},
        Variant {AttentionKind::Diff, PositionKind::Rope, 2}, Variant {AttentionKind::Diff, PositionKind::RopeCope, 2}),
    [](const ::testing::TestParamInfo<Variant>& info) {
        return test::attentionPositionName(std::get<0>(info.param), std::get<1>(info.param)) + "_kv"
            + std::to_string(std::get<2>(info.param));
    });

TEST(Analyze, ACancelledPassKeepsNothingAndBadRequestsAreRefusedByName)
{
    TempDir dir;
    ModelConfig config = test::smallConfig(AttentionKind::Softmax, PositionKind::Rope);
    config.maxSeqLen = 96;
    auto model = Model::load(test::writeModel(dir, "m", config));
    ASSERT_TRUE(model) << model.message();
    AnalysisRequest request;
    request.prompt = kPrompt;
    request.heads = {{1, 0}};
    request.kinds = {MapKind::A};
    std::atomic<bool> cancel {false};
    RunControl control;
    control.cancel = &cancel;
    control.onLayer = [&](int64_t done, int64_t) {
        if (done == 1)
            cancel = true;
    };
    auto cancelled = (*model)->analyze(request, {}, control);
    ASSERT_FALSE(cancelled);
    EXPECT_EQ(cancelled.status().code(), StatusCode::Cancelled);
    auto again = (*model)->analyze(request, {});
    ASSERT_TRUE(again) << again.message();
    EXPECT_EQ(again->layersComputed, config.nLayers) << "nothing was kept of the cancelled pass";

    request.span = {30, 20, -1, {}};
    auto badSpan = (*model)->analyze(request, {});
    ASSERT_FALSE(badSpan);
    EXPECT_NE(badSpan.message().find("span"), std::string::npos) << badSpan.message();
    request.span = {};
    request.everyHeadOfLayers = {5};
    auto badLayer = (*model)->analyze(request, {});
    ASSERT_FALSE(badLayer);
    EXPECT_NE(badLayer.message().find("layer 5"), std::string::npos) << badLayer.message();
}

} // namespace
} // namespace attn
