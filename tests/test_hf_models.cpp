// SPDX-License-Identifier: GPL-3.0-or-later
//
// Hugging Face folders against transformers itself.
//
// Every directory under tests/data/hf is a tiny random checkpoint written by transformers' save_pretrained, with the
// attention maps and logits transformers computed for it (eager attention, output_attentions=True), written by
// tests/reference/make_hf_fixtures.py. attnscope opens each folder as it is and must reproduce every head's map (1e-5)
// and the last position's logits (1e-4); for DiffLlama, A1 / A2 of differential head i are transformers' sub-heads
// i and i + H, and D = A1 - lambda A2 with lambda from the same formula transformers' forward evaluates.

#include "attnscope/maps.h"
#include "attnscope/model.h"
#include "attnscope/npy.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

constexpr double kMapTolerance = 1e-5;
constexpr double kLogitsTolerance = 1e-4;

std::string hfDir()
{
    return std::string(ATTNSCOPE_TEST_DATA_DIR) + "/hf";
}

std::vector<std::string> fixtureNames()
{
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(hfDir(), ec))
        if (entry.is_directory() && fs::exists(entry.path() / "expected" / "tokens.json"))
            names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

nlohmann::json readJson(const std::string& path)
{
    std::ifstream in(path);
    std::ostringstream text;
    text << in.rdbuf();
    return nlohmann::json::parse(text.str());
}

// Worst |got - want| over the visible (key <= query) cells of one [T, T] head of a [heads, T, T] array.
double worstError(const attn::AttentionMap& got, const std::vector<float>& want, int64_t T)
{
    double worst = 0.0;
    for (int64_t q = 0; q < T; ++q)
        for (int64_t k = 0; k <= q; ++k) {
            const double err = std::fabs(static_cast<double>(got.at(q, k)) - want[static_cast<size_t>(q * T + k)]);
            worst = std::isnan(err) ? INFINITY : std::max(worst, err);
        }
    return worst;
}

std::vector<float> headOf(const attn::NpyArray& maps, int64_t head)
{
    const int64_t T = maps.shape[1];
    const auto begin = maps.values.begin() + head * T * T;
    return std::vector<float>(begin, begin + T * T);
}

class HuggingFaceFixture : public ::testing::TestWithParam<std::string> { };

TEST_P(HuggingFaceFixture, MapsAndLogitsEqualTransformers)
{
    const std::string dir = hfDir() + "/" + GetParam();
    const nlohmann::json meta = readJson(dir + "/expected/tokens.json");
    const auto ids = meta.at("ids").get<std::vector<int64_t>>();
    const auto T = static_cast<int64_t>(ids.size());

    auto loaded = attn::Model::load(dir);
    ASSERT_TRUE(loaded.isOk()) << loaded.message();
    attn::Model& model = *loaded.value();
    EXPECT_EQ(model.format(), "huggingface");
    // The tokenizer.json in the folder must give transformers' ids for the prompt.
    EXPECT_EQ(model.tokenizer().encode(meta.at("text").get<std::string>()), ids);

    const attn::ModelConfig& c = model.config();
    const bool diff = c.isDiff();
    attn::CaptureRequest request;
    request.tokens = ids;
    for (int64_t layer = 0; layer < c.nLayers; ++layer)
        for (int64_t head = 0; head < c.nHeads; ++head)
            request.heads.push_back({layer, head});
    request.kinds = diff ? std::vector<attn::MapKind> {attn::MapKind::A1, attn::MapKind::A2, attn::MapKind::D}
                         : std::vector<attn::MapKind> {attn::MapKind::A};
    auto captured = model.capture(request);
    ASSERT_TRUE(captured.isOk()) << captured.message();
    const attn::CaptureResult& result = *captured;

    std::vector<double> lambda;
    if (diff) {
        lambda = meta.at("lambda").get<std::vector<double>>();
        ASSERT_EQ(meta.at("sub_heads").get<int64_t>(), 2 * c.nHeads);
        ASSERT_EQ(result.lambda.size(), lambda.size());
        for (size_t i = 0; i < lambda.size(); ++i)
            EXPECT_NEAR(result.lambda[i], lambda[i], 1e-6) << "lambda of layer " << i;
    }
    for (int64_t layer = 0; layer < c.nLayers; ++layer) {
        auto maps = attn::readNpyFloat32(dir + "/expected/L" + std::to_string(layer) + ".npy");
        ASSERT_TRUE(maps.isOk()) << maps.message();
        ASSERT_EQ(maps->shape, (std::vector<int64_t> {(diff ? 2 : 1) * c.nHeads, T, T}));
        for (int64_t head = 0; head < c.nHeads; ++head) {
            const std::string where = "layer " + std::to_string(layer) + " head " + std::to_string(head);
            if (!diff) {
                const attn::AttentionMap* a = result.find(layer, head, attn::MapKind::A);
                ASSERT_NE(a, nullptr) << where;
                EXPECT_LE(worstError(*a, headOf(*maps, head), T), kMapTolerance) << where;
                continue;
            }
            const std::vector<float> a1 = headOf(*maps, head), a2 = headOf(*maps, head + c.nHeads);
            std::vector<float> d(a1.size());
            for (size_t i = 0; i < d.size(); ++i)
                d[i] = static_cast<float>(a1[i] - lambda[static_cast<size_t>(layer)] * a2[i]);
            EXPECT_LE(worstError(*result.find(layer, head, attn::MapKind::A1), a1, T), kMapTolerance) << where << " A1";
            EXPECT_LE(worstError(*result.find(layer, head, attn::MapKind::A2), a2, T), kMapTolerance) << where << " A2";
            EXPECT_LE(worstError(*result.find(layer, head, attn::MapKind::D), d, T), kMapTolerance) << where << " D";
        }
    }
    auto logits = attn::readNpyFloat32(dir + "/expected/logits_last.npy");
    ASSERT_TRUE(logits.isOk()) << logits.message();
    ASSERT_EQ(result.lastLogits.size(), logits->values.size());
    double worst = 0.0;
    for (size_t i = 0; i < logits->values.size(); ++i)
        worst = std::max(worst, std::fabs(static_cast<double>(result.lastLogits[i]) - logits->values[i]));
    EXPECT_LE(worst, kLogitsTolerance);
}

INSTANTIATE_TEST_SUITE_P(Transformers, HuggingFaceFixture, ::testing::ValuesIn(fixtureNames()),
    [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

TEST(HuggingFaceFixtures, AllPresent)
{
    // A missing data directory must fail loudly, not instantiate zero tests.
    EXPECT_GE(fixtureNames().size(), 15u);
}

} // namespace
