// SPDX-License-Identifier: GPL-3.0-or-later
//
// Plain state_dict files (torch.save, the unilm YOCO names of a model holding the official DIFF module) open with a
// sidecar FILE.attnscope.json. tests/data/state-dict/ holds the weights of three reference fixtures saved that way by
// torch itself (tests/reference/make_state_dict_fixtures.py); the maps attnscope computes from the .pt must equal the
// reference fixtures' expected maps, which came from the independent float64 reference of the official code.

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

const std::string kData = ATTNSCOPE_TEST_DATA_DIR;

class StateDictFixture : public ::testing::TestWithParam<std::string> { };

TEST_P(StateDictFixture, MapsEqualTheReference)
{
    const std::string expectedDir = kData + "/reference/" + GetParam() + "/expected";
    std::ifstream in(expectedDir + "/tokens.json");
    std::ostringstream text;
    text << in.rdbuf();
    const auto tokens = nlohmann::json::parse(text.str()).at("tokens").get<std::vector<int64_t>>();
    const auto T = static_cast<int64_t>(tokens.size());

    auto loaded = attn::Model::load(kData + "/state-dict/" + GetParam() + ".pt");
    ASSERT_TRUE(loaded.isOk()) << loaded.message();
    const attn::ModelConfig& c = (*loaded)->config();
    attn::CaptureRequest request;
    request.tokens = tokens;
    for (int64_t layer = 0; layer < c.nLayers; ++layer)
        for (int64_t head = 0; head < c.nHeads; ++head)
            request.heads.push_back({layer, head});
    request.kinds = c.isDiff() ? std::vector<attn::MapKind> {attn::MapKind::A1, attn::MapKind::A2, attn::MapKind::D}
                               : std::vector<attn::MapKind> {attn::MapKind::A};
    auto result = (*loaded)->capture(request);
    ASSERT_TRUE(result.isOk()) << result.message();
    for (const attn::AttentionMap& map : result->maps) {
        const std::string name = attn::test::mapFileName(map.layer, map.head, map.kind);
        auto want = attn::readNpyFloat32(expectedDir + "/" + name);
        ASSERT_TRUE(want.isOk()) << want.message();
        double worst = 0.0;
        for (int64_t q = 0; q < T; ++q)
            for (int64_t k = 0; k <= q; ++k)
                worst = std::max(worst, std::fabs(double(map.at(q, k)) - want->values[size_t(q * T + k)]));
        EXPECT_LE(worst, 1e-5) << name;
    }
    EXPECT_EQ(result->maps.size(), request.heads.size() * request.kinds.size());
}

INSTANTIATE_TEST_SUITE_P(Yoco, StateDictFixture,
    ::testing::Values("diff_rope", "diff_rope_gqa_flash", "softmax_rope_rotatehalf_standard_gqa"));

TEST(StateDict, WithoutSidecarSaysHowToOpenIt)
{
    auto loaded = attn::Model::load(kData + "/pt/state_dict.pt");
    ASSERT_FALSE(loaded.isOk());
    EXPECT_NE(loaded.message().find(".attnscope.json"), std::string::npos) << loaded.message();
}

} // namespace
