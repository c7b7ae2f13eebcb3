// SPDX-License-Identifier: GPL-3.0-or-later
// On LibTorch 2.x every layer that keeps no maps runs fused attention (at::scaled_dot_product_attention;
// for DIFF the four calls of diff-attention.md 2.2); a layer that keeps maps runs the tiled path that the
// reference fixtures check. Both must compute the same layer: here a forward with no layer captured (fused
// everywhere) is compared with one where every layer is captured (tiled everywhere), at every position, in
// fp32 on the CPU and, where there is one, on a CUDA device (TF32 off; the flash / memory-efficient kernels).
// On LibTorch 1.13 there is no fused path, so there is nothing to compare: skipped.
#include "attnscope/model.h"
#include "attnscope/safetensors.h"
#include "engine/transformer.h"
#include "engine/weights.h"
#include "engine_test_util.h"
#include "model_fixture.h"

#include <gtest/gtest.h>
#include <torch/version.h>

#include <cstdio>
#include <optional>
#include <ostream>
#include <string>
#include <tuple>
#include <vector>

using namespace attn;
using namespace attn::test;

namespace {

constexpr double kTolerance = 1e-5; // fp32, relative to the largest |value| (at least 1)
constexpr int64_t kTokens = 48;

struct FusedCase {
    AttentionKind attention;
    PositionKind position;
    int64_t kvHeads; // < heads: grouped-query attention
    GqaSemantics gqa;
    std::string name;
};

// gtest prints parameters in test listings and failures: the name, not the struct's bytes.
void PrintTo(const FusedCase& fc, std::ostream* os)
{
    *os << fc.name;
}

ModelConfig caseConfig(const FusedCase& fc)
{
    ModelConfig c = smallConfig(fc.attention, fc.position);
    c.nLayers = 3; // lambda_init differs per depth for DIFF
    c.nHeads = 4;
    c.nKvHeads = fc.kvHeads;
    c.gqa = fc.gqa;
    return c;
}

/// The CPU, and the first CUDA device when this build and machine have one.
std::vector<at::Device> testDevices()
{
    std::vector<at::Device> devices {at::kCPU};
    if (cudaAvailable()) {
        // Exactness: TF32 would add ~1e-3 relative error to the tiled path's products.
        at::globalContext().setAllowTF32CuBLAS(false);
        at::globalContext().setAllowTF32CuDNN(false);
        devices.emplace_back(at::kCUDA, 0);
    }
    return devices;
}

engine::ModelWeights loadTestWeights(const std::string& dir, const ModelConfig& config, const at::Device& device)
{
    auto file = SafetensorsFile::open(dir + "/model.safetensors");
    EXPECT_TRUE(file) << file.message();
    return engine::loadWeights(**file, config, device, at::kFloat);
}

at::Tensor randomTokens(const ModelConfig& config, const at::Device& device)
{
    at::manual_seed(7);
    return at::randint(0, config.vocabSize, {1, kTokens}, at::TensorOptions().dtype(at::kLong)).to(device);
}

/// Every layer captured (so every layer takes the tiled path), keeping one cheap map kind of head 0.
engine::ForwardCapture captureEveryLayer(const ModelConfig& config, int64_t queryTile, const at::Device& device)
{
    engine::ForwardCapture capture;
    capture.queryTile = queryTile;
    const MapKind kind = config.isDiff() ? MapKind::D : MapKind::A;
    for (int64_t layer = 0; layer < config.nLayers; ++layer)
        capture.layers.emplace(
            layer, engine::LayerCapture(engine::MapCollector(MapRegion::full(), kTokens, {0}, {kind}, device)));
    return capture;
}

double relativeDifference(const at::Tensor& a, const at::Tensor& b)
{
    const double scale = std::max(1.0, b.abs().max().item<double>());
    return maxAbsDiff(a, b) / scale;
}

} // namespace

class FusedMatchesTiled : public ::testing::TestWithParam<FusedCase> {
protected:
    void SetUp() override
    {
        if (!engine::haveFusedAttention())
            GTEST_SKIP() << "LibTorch " << TORCH_VERSION
                         << " has no scaled_dot_product_attention: uncaptured layers take the tiled path too";
    }
};

// Logits at every position of the whole model: each layer's error would show here, grown by the later layers.
TEST_P(FusedMatchesTiled, LogitsAtEveryPosition)
{
    const ModelConfig config = caseConfig(GetParam());
    TempDir dir;
    const std::string path = writeModel(dir, "m", config, 11);
    for (const at::Device& device : testDevices()) {
        const engine::ModelWeights weights = loadTestWeights(path, config, device);
        const at::Tensor tokens = randomTokens(config, device);
        c10::InferenceMode guard;
        const at::Tensor fused = engine::forward(weights, config, tokens, nullptr, {}, /*allPositions=*/true);
        for (int64_t queryTile : {int64_t {kTokens}, int64_t {7}}) { // one tile, and tiles that do not divide N
            engine::ForwardCapture capture = captureEveryLayer(config, queryTile, device);
            const at::Tensor tiled = engine::forward(weights, config, tokens, &capture, {}, /*allPositions=*/true);
            ASSERT_EQ(fused.sizes(), tiled.sizes());
            const double difference = relativeDifference(fused, tiled);
            EXPECT_LE(difference, kTolerance) << device << ", query tile " << queryTile;
            char text[32];
            std::snprintf(text, sizeof text, "%.3g", difference);
            RecordProperty(device.str() + "_tile" + std::to_string(queryTile), text);
        }
    }
}

// One attention layer's output [B, T, D] on its own, so a failure names the layer maths, not the model.
TEST_P(FusedMatchesTiled, AttentionLayerOutput)
{
    const ModelConfig config = caseConfig(GetParam());
    TempDir dir;
    const engine::ModelWeights weights = loadTestWeights(writeModel(dir, "m", config, 12), config, at::kCPU);
    c10::InferenceMode guard;
    at::manual_seed(3);
    const at::Tensor h = at::randn({1, kTokens, config.dModel});
    std::optional<engine::RopeTables> rope;
    if (config.hasRope())
        rope = engine::ropeTables(kTokens, config.headDim, config.rope, at::kCPU);
    for (int64_t layer = 0; layer < config.nLayers; ++layer) {
        const engine::AttentionContext ctx {config, layer, rope ? &*rope : nullptr, kTokens};
        const engine::LayerWeights& w = weights.layers[static_cast<size_t>(layer)];
        engine::LayerCapture capture(engine::MapCollector(
            MapRegion::full(), kTokens, {0}, {config.isDiff() ? MapKind::D : MapKind::A}, at::kCPU));
        const at::Tensor fused = config.isDiff() ? engine::diffAttention(h, w, ctx, nullptr)
                                                 : engine::softmaxAttention(h, w, ctx, nullptr);
        const at::Tensor tiled = config.isDiff() ? engine::diffAttention(h, w, ctx, &capture)
                                                 : engine::softmaxAttention(h, w, ctx, &capture);
        EXPECT_LE(relativeDifference(fused, tiled), kTolerance) << "layer " << layer;
    }
}

INSTANTIATE_TEST_SUITE_P(RopeModels, FusedMatchesTiled,
    ::testing::Values(FusedCase {AttentionKind::Softmax, PositionKind::Rope, 4, GqaSemantics::Flash, "softmax_rope"},
        FusedCase {AttentionKind::Softmax, PositionKind::Rope, 2, GqaSemantics::Flash, "softmax_rope_gqa"},
        FusedCase {AttentionKind::Diff, PositionKind::Rope, 4, GqaSemantics::Flash, "diff_rope"},
        FusedCase {AttentionKind::Diff, PositionKind::Rope, 2, GqaSemantics::Flash, "diff_rope_gqa_flash"},
        FusedCase {AttentionKind::Diff, PositionKind::Rope, 2, GqaSemantics::Naive, "diff_rope_gqa_naive"},
        FusedCase {AttentionKind::Softmax, PositionKind::Learned, 4, GqaSemantics::Flash, "softmax_learned"}),
    [](const auto& info) { return info.param.name; });
