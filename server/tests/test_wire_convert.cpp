// SPDX-License-Identifier: GPL-3.0-or-later
// Core values <-> attnscope.v1 messages: float32 maps and every number round-trip exactly; float16 maps equal the
// compiler's own IEEE binary16 conversion (_Float16), which is not our code.
#include "wire_convert.h"

#include "attnscope/config.h"
#include "attnscope/model_source.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>

using namespace attn;

namespace {

AttentionMap randomMap(int64_t rows, int64_t cols, uint32_t seed)
{
    AttentionMap map;
    map.layer = 3;
    map.head = 5;
    map.kind = MapKind::D;
    map.rows = rows;
    map.cols = cols;
    map.rowBegin = 7;
    map.colBegin = 2;
    map.rowBlock = 4;
    map.colBlock = 4;
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 3.0f);
    for (int64_t i = 0; i < rows * cols; ++i)
        map.values.push_back(
            i % 7 == 3 ? std::nanf("") : normal(rng) * std::ldexp(1.0f, static_cast<int>(i % 40) - 30));
    return map;
}

bool sameBits(float a, float b)
{
    return std::memcmp(&a, &b, sizeof a) == 0;
}

TEST(WireConvert, Float32MapsRoundTripBitForBit)
{
    const AttentionMap map = randomMap(9, 13, 1);
    v1::AttentionMap wire;
    remote::toWire(map, v1::FLOAT32, &wire);
    EXPECT_EQ(wire.values().size(), map.values.size() * 4);
    auto back = remote::fromWire(wire);
    ASSERT_TRUE(back) << back.message();
    EXPECT_EQ(back->kind, map.kind);
    EXPECT_EQ(back->layer, 3);
    EXPECT_EQ(back->head, 5);
    EXPECT_EQ(back->rows, 9);
    EXPECT_EQ(back->cols, 13);
    EXPECT_EQ(back->rowBegin, 7);
    EXPECT_EQ(back->colBegin, 2);
    EXPECT_EQ(back->rowBlock, 4);
    EXPECT_EQ(back->colBlock, 4);
    ASSERT_EQ(back->values.size(), map.values.size());
    for (size_t i = 0; i < map.values.size(); ++i)
        EXPECT_TRUE(sameBits(back->values[i], map.values[i])) << i;
}

TEST(WireConvert, Float16MapsEqualTheCompilersConversion)
{
    AttentionMap map = randomMap(31, 33, 2);
    // Edge cases: ties, subnormals, overflow, signed zero, infinities.
    for (float v : {65504.0f, 65520.0f, 1e6f, -1e6f, 6.1e-5f, 5.96e-8f, 2.98e-8f, 1e-9f, -0.0f, 1.0009765625f,
             1.00048828125f, INFINITY, -INFINITY})
        map.values.push_back(v);
    map.rows = 1;
    map.cols = static_cast<int64_t>(map.values.size());
    v1::AttentionMap wire;
    remote::toWire(map, v1::FLOAT16, &wire);
    EXPECT_EQ(wire.values().size(), map.values.size() * 2);
    auto back = remote::fromWire(wire);
    ASSERT_TRUE(back) << back.message();
    for (size_t i = 0; i < map.values.size(); ++i) {
        const float expected = static_cast<float>(static_cast<_Float16>(map.values[i]));
        if (std::isnan(expected))
            EXPECT_TRUE(std::isnan(back->values[i])) << i;
        else
            EXPECT_TRUE(sameBits(back->values[i], expected))
                << i << ": " << map.values[i] << " -> " << back->values[i] << ", _Float16 gives " << expected;
    }
}

TEST(WireConvert, RefusesValueBytesThatDoNotMatchTheShape)
{
    v1::AttentionMap wire;
    remote::toWire(randomMap(4, 4, 3), v1::FLOAT32, &wire);
    wire.mutable_values()->pop_back();
    auto back = remote::fromWire(wire);
    ASSERT_FALSE(back);
    EXPECT_NE(back.message().find("63 value bytes for 4 x 4 cells"), std::string::npos) << back.message();
    wire.set_kind("ZZ");
    EXPECT_FALSE(remote::fromWire(wire));
}

TEST(WireConvert, RequestsAndLayerResultsRoundTrip)
{
    AnalysisRequest request;
    request.modelId = 4;
    request.stream = "compare";
    request.prompt = "a b c";
    request.tokens = {1, 2, 3};
    request.heads = {{0, 1}, {2, 3}};
    request.kinds = {MapKind::A1, MapKind::G2};
    request.region = MapRegion::window(1, 3, 0, 2);
    request.everyHeadOfLayers = {1};
    request.metrics = true;
    request.span = {1, 2, 3, {2}};
    request.thumbnailSize = 64;
    request.queryTile = 16;
    request.keepPromptState = false;
    auto back = remote::fromWire(remote::toWire(request, v1::FLOAT16));
    ASSERT_TRUE(back) << back.message();
    EXPECT_EQ(back->modelId, 4);
    EXPECT_EQ(back->stream, "compare");
    EXPECT_EQ(back->prompt, "a b c");
    EXPECT_EQ(back->tokens, request.tokens);
    EXPECT_EQ(back->heads, request.heads);
    EXPECT_EQ(back->kinds, request.kinds);
    EXPECT_EQ(back->region.mode, MapRegion::Mode::Window);
    EXPECT_EQ(back->region.rowEnd, 3);
    EXPECT_EQ(back->region.colEnd, 2);
    EXPECT_EQ(back->everyHeadOfLayers, request.everyHeadOfLayers);
    EXPECT_TRUE(back->metrics);
    EXPECT_EQ(back->span.noiseEnd, 3);
    EXPECT_EQ(back->span.queryRows, request.span.queryRows);
    EXPECT_EQ(back->thumbnailSize, 64);
    EXPECT_EQ(back->queryTile, 16);
    EXPECT_FALSE(back->keepPromptState);
    request.keepPromptState = true;
    EXPECT_TRUE(remote::fromWire(remote::toWire(request, v1::FLOAT32))->keepPromptState);

    LayerResult layer;
    layer.requestId = 99;
    layer.layer = 2;
    layer.lambda = 0.25;
    layer.maps = {randomMap(3, 3, 4)};
    HeadMetrics metrics;
    metrics.layer = 2;
    metrics.head = 1;
    metrics.entropy = 1.5;
    metrics.gateRowSum = 0.125;
    layer.metrics = {metrics};
    layer.spans = {{2, 1, {0.5, 0.25, 0.125, 0.125, 3}}};
    layer.thumbnails = {randomMap(2, 2, 5)};
    v1::LayerResult wire;
    remote::toWire(layer, v1::FLOAT32, &wire);
    auto layerBack = remote::fromWire(wire);
    ASSERT_TRUE(layerBack) << layerBack.message();
    EXPECT_EQ(layerBack->requestId, 99u);
    EXPECT_EQ(layerBack->lambda, 0.25);
    ASSERT_EQ(layerBack->metrics.size(), 1u);
    EXPECT_EQ(layerBack->metrics[0].entropy, 1.5);
    EXPECT_TRUE(std::isnan(layerBack->metrics[0].sinkMass)); // NaN = does not apply, kept
    EXPECT_EQ(layerBack->metrics[0].gateRowSum, 0.125);
    ASSERT_EQ(layerBack->spans.size(), 1u);
    EXPECT_EQ(layerBack->spans[0].span.rows, 3);
    EXPECT_EQ(layerBack->spans[0].span.noise, 0.25);
    ASSERT_EQ(layerBack->thumbnails.size(), 1u);
    EXPECT_EQ(layerBack->thumbnails[0].values.size(), 4u);
}

} // namespace

namespace {

// Every model the server can open sends its config as configToJson; the client parses it back to the same text
// (the models here are those in the repository: bundled, transformers-written, the CoPE paper's format).
TEST(WireConvert, ConfigsOfEveryModelKindRoundTrip)
{
    namespace fs = std::filesystem;
    std::vector<std::string> paths;
    for (const char* dir : {"/resources/models", "/tests/data/hf"})
        for (const auto& entry : fs::directory_iterator(std::string(ATTNSCOPE_SOURCE_DIR) + dir))
            if (fs::exists(entry.path() / "config.json"))
                paths.push_back(entry.path().string());
    for (const auto& entry : fs::directory_iterator(std::string(ATTNSCOPE_SOURCE_DIR) + "/tests/data/ram-cope"))
        if (entry.path().extension() == ".pt")
            paths.push_back(entry.path().string());
    ASSERT_GE(paths.size(), 20u);
    size_t opened = 0;
    for (const std::string& path : paths) {
        auto source = openModelSource(path);
        if (!source)
            continue; // fixtures of refusals
        ++opened;
        const std::string json = configToJson((*source)->config);
        auto parsed = remote::parseWireConfig(json);
        ASSERT_TRUE(parsed) << path << ": " << parsed.message();
        EXPECT_EQ(configToJson(*parsed), json) << path;
    }
    EXPECT_GE(opened, 20u);
}

} // namespace
