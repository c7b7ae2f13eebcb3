// SPDX-License-Identifier: GPL-3.0-or-later
// Causality: the maps of a prompt's first k tokens equal the first k rows and columns of the whole
// prompt's maps, for every attention and position kind and every map kind.
#include "attnscope/model.h"
#include "model_fixture.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace attn;
using namespace attn::test;

class PrefixConsistency : public ::testing::TestWithParam<std::tuple<AttentionKind, PositionKind>> { };

TEST_P(PrefixConsistency, PrefixMapsEqualTheTopLeftBlockOfTheFullMaps)
{
    const auto [attention, position] = GetParam();
    TempDir dir;
    const std::string path = writeModel(dir, "m", smallConfig(attention, position), 3);
    auto model = Model::load(path, {});
    ASSERT_TRUE(model) << model.message();
    Model& m = **model;
    const std::vector<int64_t> tokens = m.tokenizer().encode("Counting: a = 0 ; a ++; pass; print a");
    const int64_t k = 9;
    ASSERT_GT(static_cast<int64_t>(tokens.size()), k);

    CaptureRequest full {tokens, {}, availableMapKinds(m.config(), /*includeLogits=*/true)};
    for (int64_t layer = 0; layer < m.config().nLayers; ++layer)
        for (int64_t head = 0; head < m.config().nHeads; ++head)
            full.heads.push_back({layer, head});
    CaptureRequest prefix = full;
    prefix.tokens.resize(static_cast<size_t>(k));
    auto whole = m.capture(full);
    auto part = m.capture(prefix);
    ASSERT_TRUE(whole) << whole.message();
    ASSERT_TRUE(part) << part.message();
    ASSERT_EQ(whole->maps.size(), part->maps.size());
    ASSERT_FALSE(whole->maps.empty());

    for (const AttentionMap& small : part->maps) {
        const AttentionMap* big = whole->find(small.layer, small.head, small.kind);
        ASSERT_NE(big, nullptr);
        ASSERT_EQ(small.rows, k);
        double worst = 0.0;
        for (int64_t i = 0; i < k; ++i)
            for (int64_t j = 0; j < k; ++j) {
                const float a = small.at(i, j), b = big->at(i, j);
                ASSERT_EQ(std::isnan(a), std::isnan(b)) << toString(small.kind) << " cell " << i << "," << j;
                if (!std::isnan(a))
                    worst = std::max(worst, static_cast<double>(std::fabs(a - b)));
            }
        EXPECT_LE(worst, 1e-5) << "layer " << small.layer << " head " << small.head << " " << toString(small.kind);
    }
}

INSTANTIATE_TEST_SUITE_P(EveryAttentionAndPosition, PrefixConsistency,
    ::testing::Combine(::testing::Values(AttentionKind::Softmax, AttentionKind::Diff),
        ::testing::Values(
            PositionKind::None, PositionKind::Learned, PositionKind::Rope, PositionKind::Cope, PositionKind::RopeCope)),
    [](const auto& info) { return attentionPositionName(std::get<0>(info.param), std::get<1>(info.param)); });
