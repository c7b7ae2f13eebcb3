// SPDX-License-Identifier: GPL-3.0-or-later
//
// The CoPE paper's own checkpoint against the CoPE paper's own maps.
//
// tests/data/ram-cope/cope-postnorm/ is a checkpoint written by facebookresearch/RAM's checkpoint.save() (2 layers,
// post-norm, tied embeddings, CoPE) with the A, G and P maps and final logits its official model computed for three
// prompts (README.md there). attnscope opens the .pt file itself and must reproduce them: A and G to 1e-5, P to 1e-4
// (torch's cumsum accumulates in float64, README "Numerics"), logits to 1e-4; the checkpoint's word tokenizer must
// give the official ids.

#include "attnscope/maps.h"
#include "attnscope/model.h"
#include "attnscope/npy.h"
#include "test_helpers.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

const std::string kDir = std::string(ATTNSCOPE_TEST_DATA_DIR) + "/ram-cope/cope-postnorm";

nlohmann::json readJson(const std::string& path)
{
    std::ifstream in(path);
    std::ostringstream text;
    text << in.rdbuf();
    return nlohmann::json::parse(text.str());
}

class RamPrompt : public ::testing::TestWithParam<std::string> { };

TEST_P(RamPrompt, MapsAndLogitsEqualTheOfficialModel)
{
    const std::string prompt = kDir + "/" + GetParam();
    const nlohmann::json tokens = readJson(prompt + "/tokens.json");
    const auto ids = tokens.at("ids").get<std::vector<int64_t>>();
    const auto T = static_cast<int64_t>(ids.size());

    auto loaded = attn::Model::load(kDir + "/cope-postnorm.pt");
    ASSERT_TRUE(loaded.isOk()) << loaded.message();
    attn::Model& model = **loaded;
    EXPECT_EQ(model.format(), "pytorch");
    std::string text;
    for (const auto& word : tokens.at("words")) {
        if (!text.empty())
            text += ' ';
        text += word.get<std::string>();
    }
    EXPECT_EQ(model.tokenizer().encode(text), ids);

    const attn::ModelConfig& c = model.config();
    ASSERT_EQ(c.nLayers, 2);
    ASSERT_EQ(c.nHeads, 2);
    attn::CaptureRequest request;
    request.tokens = ids;
    for (int64_t layer = 0; layer < c.nLayers; ++layer)
        for (int64_t head = 0; head < c.nHeads; ++head)
            request.heads.push_back({layer, head});
    request.kinds = {attn::MapKind::A, attn::MapKind::G, attn::MapKind::P};
    auto result = model.capture(request);
    ASSERT_TRUE(result.isOk()) << result.message();

    for (int64_t layer = 0; layer < c.nLayers; ++layer)
        for (int64_t head = 0; head < c.nHeads; ++head)
            for (attn::MapKind kind : request.kinds) {
                const std::string name = attn::test::mapFileName(layer, head, kind);
                auto want = attn::readNpyFloat32(prompt + "/" + name);
                ASSERT_TRUE(want.isOk()) << want.message();
                const attn::AttentionMap* got = result->find(layer, head, kind);
                ASSERT_NE(got, nullptr) << name;
                const double tolerance = kind == attn::MapKind::P ? 1e-4 : 1e-5;
                double worst = 0.0;
                for (int64_t q = 0; q < T; ++q)
                    for (int64_t k = 0; k < T; ++k) {
                        const float w = want->values[static_cast<size_t>(q * T + k)];
                        const float g = got->at(q, k);
                        ASSERT_EQ(std::isnan(w), std::isnan(g)) << name << " masked cells differ at " << q << "," << k;
                        if (!std::isnan(w))
                            worst = std::max(worst, std::fabs(static_cast<double>(g) - w));
                    }
                EXPECT_LE(worst, tolerance) << name;
            }

    auto logits = attn::readNpyFloat32(prompt + "/logits.npy");
    ASSERT_TRUE(logits.isOk()) << logits.message();
    ASSERT_EQ(result->lastLogits.size(), logits->values.size());
    for (size_t i = 0; i < logits->values.size(); ++i)
        EXPECT_NEAR(result->lastLogits[i], logits->values[i], 1e-4) << "logit " << i;
}

INSTANTIATE_TEST_SUITE_P(OfficialMaps, RamPrompt, ::testing::Values("prompt_short", "prompt_mid", "prompt_long"));

TEST(RamCheckpoint, ShowsItsConfigAndRefusesTheConfigOnlyFile)
{
    auto loaded = attn::Model::load(kDir + "/cope-postnorm.pt");
    ASSERT_TRUE(loaded.isOk()) << loaded.message();
    const attn::ModelConfig& c = (*loaded)->config();
    EXPECT_EQ(c.arch.block, attn::BlockLayout::PostNorm);
    EXPECT_EQ(c.arch.norm, attn::NormKind::LayerNorm);
    EXPECT_TRUE(c.tieEmbeddings);
    EXPECT_EQ(c.cope.npos, 129);
    EXPECT_FALSE((*loaded)->tokenizer().bosId().has_value());
    bool sawPostNorm = false;
    for (const auto& [field, value] : (*loaded)->description())
        sawPostNorm = sawPostNorm || (field == "post_norm" && value == "yes");
    EXPECT_TRUE(sawPostNorm);

    auto cfgOnly = attn::Model::load(kDir + "/cope-postnorm.pt.cfg");
    ASSERT_FALSE(cfgOnly.isOk());
    EXPECT_NE(cfgOnly.message().find("only the training config"), std::string::npos) << cfgOnly.message();
}

TEST(RamCheckpoint, UnknownWordIsRefusedByName)
{
    auto loaded = attn::Model::load(kDir + "/cope-postnorm.pt");
    ASSERT_TRUE(loaded.isOk()) << loaded.message();
    auto encoded = (*loaded)->tokenizer().encodeChecked("pass; zebra = 0 ;");
    ASSERT_FALSE(encoded.isOk());
    EXPECT_NE(encoded.message().find("\"zebra\""), std::string::npos) << encoded.message();
}

} // namespace
