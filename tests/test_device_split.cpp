// SPDX-License-Identifier: GPL-3.0-or-later
// A model whose layers are spread over several devices (issue 13, several GPUs) gives the maps, numbers and logits of
// the same model on one device. Here every device is the CPU ({cpu, cpu} and an uneven explicit map), which runs the
// whole multi-device path (planning, loading each part on its slot's device, the hidden state following the layers,
// RoPE tables per device, kept prompt state and one-head slices on the layer's device) with moves that copy nothing.
// The expected result is therefore bit for bit: the same kernels run on the same values; on GPUs a move between
// devices is an exact copy too, so the same equality is what a two-GPU run checks (test_cuda.cpp has no second GPU).
#include "attnscope/model.h"
#include "model_fixture.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <tuple>

namespace attn {
namespace {

using test::TempDir;

constexpr char kPrompt[] = "a = 1 ; b = a ; pass; b ++; print b, then the quick brown fox";

/// Bit-for-bit equality of two float vectors (NaN cells included: masked cells are NaN in both).
::testing::AssertionResult sameBits(const std::vector<float>& a, const std::vector<float>& b)
{
    if (a.size() != b.size())
        return ::testing::AssertionFailure() << a.size() << " vs " << b.size() << " values";
    if (!a.empty() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) != 0) {
        for (size_t i = 0; i < a.size(); ++i)
            if (std::memcmp(&a[i], &b[i], sizeof(float)) != 0)
                return ::testing::AssertionFailure() << "value " << i << ": " << a[i] << " vs " << b[i];
    }
    return ::testing::AssertionSuccess();
}

void expectSameMetrics(const std::vector<HeadMetrics>& a, const std::vector<HeadMetrics>& b)
{
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
        const std::vector<float> x {float(a[i].entropy), float(a[i].sinkMass), float(a[i].maxWeight),
            float(a[i].meanDistance), float(a[i].negativeMass), float(a[i].lambda), float(a[i].meanGate),
            float(a[i].gateRowSum)};
        const std::vector<float> y {float(b[i].entropy), float(b[i].sinkMass), float(b[i].maxWeight),
            float(b[i].meanDistance), float(b[i].negativeMass), float(b[i].lambda), float(b[i].meanGate),
            float(b[i].gateRowSum)};
        EXPECT_TRUE(sameBits(x, y)) << "layer " << a[i].layer << " head " << a[i].head;
    }
}

struct Outcome {
    std::vector<LayerResult> layers;
    AnalysisSummary summary;
};

Outcome analyze(Model& model, const AnalysisRequest& request)
{
    Outcome run;
    auto summary = model.analyze(request, [&](LayerResult layer) { run.layers.push_back(std::move(layer)); });
    EXPECT_TRUE(summary) << summary.message();
    if (summary)
        run.summary = *summary;
    return run;
}

void expectSameRun(const Outcome& split, const Outcome& single)
{
    EXPECT_TRUE(sameBits(split.summary.lastLogits, single.summary.lastLogits)) << "logits";
    EXPECT_EQ(split.summary.lambda, single.summary.lambda);
    ASSERT_EQ(split.layers.size(), single.layers.size());
    for (size_t l = 0; l < split.layers.size(); ++l) {
        const LayerResult& a = split.layers[l];
        const LayerResult& b = single.layers[l];
        ASSERT_EQ(a.layer, b.layer);
        ASSERT_EQ(a.maps.size(), b.maps.size()) << "layer " << a.layer;
        for (size_t i = 0; i < a.maps.size(); ++i) {
            EXPECT_EQ(a.maps[i].kind, b.maps[i].kind);
            EXPECT_EQ(a.maps[i].head, b.maps[i].head);
            EXPECT_TRUE(sameBits(a.maps[i].values, b.maps[i].values))
                << "layer " << a.layer << " head " << a.maps[i].head << " " << toString(a.maps[i].kind);
        }
        expectSameMetrics(a.metrics, b.metrics);
        ASSERT_EQ(a.thumbnails.size(), b.thumbnails.size());
        for (size_t i = 0; i < a.thumbnails.size(); ++i)
            EXPECT_TRUE(sameBits(a.thumbnails[i].values, b.thumbnails[i].values)) << "thumbnail " << i;
    }
}

using Variant = std::tuple<AttentionKind, PositionKind, int64_t /*kv heads*/>;

class DeviceSplitTest : public ::testing::TestWithParam<Variant> {
protected:
    void SetUp() override
    {
        const auto [attention, position, kvHeads] = GetParam();
        config = test::smallConfig(attention, position);
        config.nLayers = 4;
        config.nHeads = 4;
        config.nKvHeads = kvHeads;
        config.maxSeqLen = 128;
        config.cope.npos = 129;
        path = test::writeModel(dir, "m", config, 11);
        LoadOptions one;
        one.device.type = DeviceSpec::Type::Cpu;
        auto loaded = Model::load(path, one);
        ASSERT_TRUE(loaded) << loaded.message();
        single = std::move(*loaded);
    }

    std::unique_ptr<Model> loadWith(const LoadOptions& options)
    {
        auto loaded = Model::load(path, options);
        EXPECT_TRUE(loaded) << loaded.message();
        return loaded ? std::move(*loaded) : nullptr;
    }

    /// Every head's maps of every kind, numbers, thumbnails; then a head switch and a layer switch on the kept prompt
    /// (one-head slices and whole-layer attention from the kept inputs), each compared with the single device's.
    void expectSameAsSingle(Model& split)
    {
        AnalysisRequest everything;
        everything.prompt = kPrompt;
        everything.kinds = availableMapKinds(config, /*includeLogits=*/true);
        for (int64_t layer = 0; layer < config.nLayers; ++layer)
            everything.everyHeadOfLayers.push_back(layer);
        everything.metrics = true;
        everything.thumbnailSize = 8;
        everything.span = {3, 7, -1, {}};
        expectSameRun(analyze(split, everything), analyze(*single, everything));

        AnalysisRequest oneHead; // the same tokens: a one-head slice of the last layer, from its kept input
        oneHead.prompt = kPrompt;
        oneHead.kinds = everything.kinds;
        oneHead.heads = {{config.nLayers - 1, 2}, {1, 3}};
        const Outcome splitSwitch = analyze(split, oneHead);
        EXPECT_EQ(splitSwitch.summary.layersComputed, 2);
        expectSameRun(splitSwitch, analyze(*single, oneHead));

        AnalysisRequest overview = oneHead; // device-pooled overviews live on the layer's device
        overview.prompt = std::string(kPrompt) + " again";
        overview.region = MapRegion::overview(5, PoolMode::Mean);
        overview.heads = {{0, 1}, {config.nLayers - 1, 0}};
        expectSameRun(analyze(split, overview), analyze(*single, overview));

        auto a = split.generate(split.tokenizer().encode("b = 1 ; print"), 6);
        auto b = single->generate(single->tokenizer().encode("b = 1 ; print"), 6);
        ASSERT_TRUE(a && b);
        EXPECT_EQ(*a, *b);
    }

    TempDir dir;
    ModelConfig config;
    std::string path;
    std::unique_ptr<Model> single;
};

TEST_P(DeviceSplitTest, BalancedOverTwoCpusEqualsOneDeviceBitForBit)
{
    LoadOptions two;
    two.devices = parseDeviceList("cpu,cpu").value();
    auto split = loadWith(two);
    ASSERT_TRUE(split);
    const DeviceMap& map = split->deviceMap();
    ASSERT_EQ(map.usedSlots().size(), 2u) << "both slots hold layers";
    EXPECT_EQ(map.embeddings, 0u);
    EXPECT_EQ(map.finalNorm, 1u);
    EXPECT_NE(map.layers.front(), map.layers.back());
    EXPECT_EQ(split->deviceName(), "cpu,cpu");
    expectSameAsSingle(*split);
}

TEST_P(DeviceSplitTest, AnUnevenExplicitMapEqualsOneDeviceBitForBit)
{
    for (const char* text : {"0-0:cpu,1-3:cpu", "0-2:cpu,3-3:cpu", "0-0:cpu,1-1:cpu,2-2:cpu,3-3:cpu"}) {
        SCOPED_TRACE(text);
        LoadOptions uneven;
        uneven.deviceMap = text;
        auto split = loadWith(uneven);
        ASSERT_TRUE(split);
        EXPECT_EQ(split->deviceMap().usedSlots().size(), split->deviceMap().devices.size());
        expectSameAsSingle(*split);
    }
}

INSTANTIATE_TEST_SUITE_P(AttentionPositionGqa, DeviceSplitTest,
    ::testing::Values(Variant {AttentionKind::Softmax, PositionKind::Rope, 4},
        Variant {AttentionKind::Softmax, PositionKind::Cope, 2}, Variant {AttentionKind::Diff, PositionKind::Rope, 2},
        Variant {AttentionKind::Diff, PositionKind::RopeCope, 1}, Variant {AttentionKind::Diff, PositionKind::Cope, 4}),
    [](const ::testing::TestParamInfo<Variant>& info) {
        return test::attentionPositionName(std::get<0>(info.param), std::get<1>(info.param)) + "_kv"
            + std::to_string(std::get<2>(info.param));
    });

// On a GPU machine (docs/gpu.md): the layers over two GPUs (or two slots of the one there is) equal one GPU bit for
// bit, since a move between devices is an exact copy and each layer runs the same kernels; with the first layers on the
// CPU, the result equals the CPU's within CudaMatchesCpu's 1e-5 (different kernels, TF32 off).
TEST(DeviceSplit, OnGpusTheSplitEqualsOneGpu)
{
    if (!cudaAvailable())
        GTEST_SKIP() << "no CUDA device in this build/machine";
    for (const auto& [attention, position] : {std::pair {AttentionKind::Softmax, PositionKind::Rope},
             std::pair {AttentionKind::Diff, PositionKind::RopeCope}}) {
        TempDir dir;
        ModelConfig config = test::smallConfig(attention, position);
        config.nLayers = 4;
        config.nHeads = 4;
        config.nKvHeads = 2;
        const std::string path = test::writeModel(dir, "m", config, 5);
        LoadOptions one;
        one.device = DeviceSpec::parse("cuda:0").value();
        LoadOptions two;
        two.deviceMap = cudaDeviceCount() > 1 ? "0-0:cuda:0,1-3:cuda:1" : "0-0:cuda:0,1-3:cuda:0";
        LoadOptions mixed;
        mixed.deviceMap = "0-1:cpu,2-3:cuda:0";
        LoadOptions cpu;
        cpu.device.type = DeviceSpec::Type::Cpu;
        auto gpu = Model::load(path, one);
        auto split = Model::load(path, two);
        auto cpuModel = Model::load(path, cpu);
        auto mixedModel = Model::load(path, mixed);
        ASSERT_TRUE(gpu && split && cpuModel && mixedModel);
        AnalysisRequest request;
        request.prompt = kPrompt;
        request.kinds = availableMapKinds(config, /*includeLogits=*/true);
        for (int64_t layer = 0; layer < config.nLayers; ++layer)
            request.everyHeadOfLayers.push_back(layer);
        request.metrics = true;
        expectSameRun(analyze(**split, request), analyze(**gpu, request));

        const Outcome a = analyze(**mixedModel, request);
        const Outcome b = analyze(**cpuModel, request);
        ASSERT_EQ(a.layers.size(), b.layers.size());
        for (size_t l = 0; l < a.layers.size(); ++l)
            for (size_t i = 0; i < a.layers[l].maps.size(); ++i) {
                const std::vector<float>& x = a.layers[l].maps[i].values;
                const std::vector<float>& y = b.layers[l].maps[i].values;
                for (size_t c = 0; c < x.size(); ++c) {
                    if (!std::isnan(y[c])) {
                        ASSERT_NEAR(x[c], y[c], 1e-5 * std::max(1.0f, std::fabs(y[c])))
                            << toString(a.layers[l].maps[i].kind) << " L" << l << " cell " << c;
                    }
                }
            }
    }
}

TEST(DeviceSplit, OneDeviceIsAOneEntryMap)
{
    TempDir dir;
    const ModelConfig config = test::smallConfig(AttentionKind::Softmax, PositionKind::Rope);
    const std::string path = test::writeModel(dir, "m", config);
    LoadOptions cpu;
    cpu.device.type = DeviceSpec::Type::Cpu;
    auto model = Model::load(path, cpu);
    ASSERT_TRUE(model) << model.message();
    EXPECT_EQ((*model)->deviceName(), "cpu");
    EXPECT_EQ((*model)->deviceMap().devices.size(), 1u);
    EXPECT_EQ((*model)->deviceMap().usedSlots(), std::vector<size_t> {0});
    // The planner's sizes are the loaded weights: every parameter in fp32, or in bf16 when loaded so (a softmax + RoPE
    // model has no tensor kept in fp32).
    const auto total = [](const Model& m) {
        int64_t sum = 0;
        for (int64_t bytes : m.deviceMap().slotBytes)
            sum += bytes;
        return sum;
    };
    EXPECT_EQ(total(**model), 4 * (*model)->parameterCount());
    LoadOptions bf16 = cpu;
    bf16.dtype = ComputeDType::BF16;
    auto narrow = Model::load(path, bf16);
    ASSERT_TRUE(narrow) << narrow.message();
    EXPECT_EQ(total(**narrow), 2 * (*narrow)->parameterCount());
}

TEST(DeviceSplit, ABadMapOrDeviceIsRefusedAtLoadByName)
{
    TempDir dir;
    const ModelConfig config = test::smallConfig(AttentionKind::Diff, PositionKind::Rope);
    const std::string path = test::writeModel(dir, "m", config);
    LoadOptions missing;
    missing.deviceMap = "0-0:cpu"; // the model has 2 layers
    auto refused = Model::load(path, missing);
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.message().find("--device-map: the device map does not place layer 1"), std::string::npos)
        << refused.message();
    if (!cudaAvailable()) {
        LoadOptions gpus;
        gpus.devices = parseDeviceList("cpu,cuda:1").value();
        auto noGpu = Model::load(path, gpus);
        ASSERT_FALSE(noGpu);
        EXPECT_NE(noGpu.message().find("CUDA"), std::string::npos) << noGpu.message();
    }
}

} // namespace
} // namespace attn
