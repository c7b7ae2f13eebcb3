// SPDX-License-Identifier: GPL-3.0-or-later
#include "attnscope/model_format.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

using attn::ModelConfig;
using attn::TensorSpec;

namespace {

::testing::AssertionResult contains(const std::string& text, const std::string& part)
{
    if (text.find(part) != std::string::npos)
        return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "message \"" << text << "\" does not contain \"" << part << "\"";
}

// The DIFF paper's example.py block: D = 1024, 8 differential heads of d = 64.
ModelConfig paperDiffConfig(int64_t kvHeads)
{
    ModelConfig c;
    c.vocabSize = 259;
    c.dModel = 1024;
    c.nLayers = 1;
    c.nHeads = 8;
    c.nKvHeads = kvHeads;
    c.headDim = 64;
    c.ffnHidden = 2816;
    c.maxSeqLen = 2048;
    c.attention = attn::AttentionKind::Diff;
    c.position = attn::PositionKind::Rope;
    return c;
}

// Every width distinct (D = 40, q 32, kv 16, value 16, ffn 64, npos 17) so swapped dimensions show.
ModelConfig smallDiffCopeSepKey()
{
    ModelConfig c;
    c.vocabSize = 259;
    c.dModel = 40;
    c.nLayers = 2;
    c.nHeads = 2;
    c.nKvHeads = 1;
    c.headDim = 8;
    c.ffnHidden = 64;
    c.maxSeqLen = 16;
    c.attention = attn::AttentionKind::Diff;
    c.position = attn::PositionKind::Cope;
    c.cope.npos = 17;
    c.cope.sepKey = true;
    return c;
}

std::vector<attn::TensorInfo> asStored(const std::vector<TensorSpec>& specs)
{
    std::vector<attn::TensorInfo> out;
    for (const auto& s : specs) {
        attn::TensorInfo info;
        info.name = s.name;
        info.dtype = attn::DType::BF16;
        info.shape = s.shape;
        out.push_back(info);
    }
    return out;
}

} // namespace

TEST(ModelFormatCounts, DiffPaperAttentionParameters)
{
    // diff-attention.md 1.2: 4*1024^2 + 4*64 + 128 (MHA) and 2*1024^2 + 2*1024*512 + 256 + 128 (GQA 8/4).
    EXPECT_EQ(attn::attentionParameterCount(paperDiffConfig(8)), 4194688);
    EXPECT_EQ(attn::attentionParameterCount(paperDiffConfig(4)), 3146112);
}

TEST(ModelFormatCounts, SoftmaxBaselineAttentionParameters)
{
    ModelConfig c = paperDiffConfig(16);
    c.attention = attn::AttentionKind::Softmax;
    c.nHeads = 16;
    EXPECT_EQ(attn::attentionParameterCount(c), 4194304);
}

TEST(ModelFormatCounts, ParameterCountIsSumOfTensors)
{
    const ModelConfig c = smallDiffCopeSepKey();
    int64_t sum = 0;
    for (const auto& t : attn::expectedTensors(c))
        sum += t.numel();
    EXPECT_EQ(attn::parameterCount(c), sum);
    // Embedding, output head and final norm plus two identical layers.
    const int64_t perLayer = (attn::parameterCount(c) - 2 * 259 * 40 - 40) / 2;
    EXPECT_EQ(perLayer, 40 + attn::attentionParameterCount(c) + 40 + 3 * 64 * 40);
}

TEST(ModelFormatTensors, DiffCopeSepKeyNamesAndShapes)
{
    const std::vector<std::pair<std::string, std::vector<int64_t>>> expectedLayer0 = {
        {"layers.0.attention_norm.weight", {40}},
        {"layers.0.attn.q_proj.weight", {32, 40}},
        {"layers.0.attn.k_proj.weight", {16, 40}},
        {"layers.0.attn.v_proj.weight", {16, 40}},
        {"layers.0.attn.out_proj.weight", {40, 32}},
        {"layers.0.attn.lambda_q1", {8}},
        {"layers.0.attn.lambda_k1", {8}},
        {"layers.0.attn.lambda_q2", {8}},
        {"layers.0.attn.lambda_k2", {8}},
        {"layers.0.attn.subln.weight", {16}},
        {"layers.0.attn.pos_emb", {1, 8, 17}},
        {"layers.0.attn.cope_key_proj.weight", {16, 40}},
        {"layers.0.attn.cope_key_proj.bias", {16}},
        {"layers.0.ffn_norm.weight", {40}},
        {"layers.0.feed_forward.w1.weight", {64, 40}},
        {"layers.0.feed_forward.w2.weight", {40, 64}},
        {"layers.0.feed_forward.w3.weight", {64, 40}},
    };
    const auto tensors = attn::expectedTensors(smallDiffCopeSepKey());
    ASSERT_EQ(tensors.size(), 1 + 2 * expectedLayer0.size() + 2);
    EXPECT_EQ(tensors.front().name, "tok_embeddings.weight");
    EXPECT_EQ(tensors.front().shape, (std::vector<int64_t> {259, 40}));
    for (size_t i = 0; i < expectedLayer0.size(); ++i) {
        EXPECT_EQ(tensors[1 + i].name, expectedLayer0[i].first);
        EXPECT_EQ(tensors[1 + i].shape, expectedLayer0[i].second) << expectedLayer0[i].first;
        // Layer 1 repeats layer 0 under its own prefix.
        std::string name1 = expectedLayer0[i].first;
        name1.replace(0, 8, "layers.1");
        EXPECT_EQ(tensors[1 + expectedLayer0.size() + i].name, name1);
        EXPECT_EQ(tensors[1 + expectedLayer0.size() + i].shape, expectedLayer0[i].second);
    }
    EXPECT_EQ(tensors[tensors.size() - 2].name, "norm.weight");
    EXPECT_EQ(tensors.back().name, "output.weight");
    EXPECT_EQ(tensors.back().shape, (std::vector<int64_t> {259, 40}));
}

TEST(ModelFormatTensors, LearnedPositionsAndTiedEmbeddings)
{
    ModelConfig c = smallDiffCopeSepKey();
    c.attention = attn::AttentionKind::Softmax;
    c.position = attn::PositionKind::Learned;
    c.tieEmbeddings = true;
    const auto tensors = attn::expectedTensors(c);
    auto find = [&tensors](const std::string& name) {
        return std::find_if(tensors.begin(), tensors.end(), [&](const TensorSpec& t) { return t.name == name; });
    };
    ASSERT_NE(find("pos_embeddings.weight"), tensors.end());
    EXPECT_EQ(find("pos_embeddings.weight")->shape, (std::vector<int64_t> {16, 40}));
    EXPECT_EQ(find("output.weight"), tensors.end());
    EXPECT_EQ(find("layers.0.attn.pos_emb"), tensors.end());
    EXPECT_EQ(find("layers.0.attn.subln.weight"), tensors.end());
    // Softmax: H heads of d for q, Hkv heads of d for k and v.
    EXPECT_EQ(find("layers.0.attn.q_proj.weight")->shape, (std::vector<int64_t> {16, 40}));
    EXPECT_EQ(find("layers.0.attn.v_proj.weight")->shape, (std::vector<int64_t> {8, 40}));
    EXPECT_EQ(find("layers.0.attn.out_proj.weight")->shape, (std::vector<int64_t> {40, 16}));
}

TEST(ModelFormatCheck, ExactMatchPasses)
{
    const ModelConfig c = smallDiffCopeSepKey();
    auto stored = asStored(attn::expectedTensors(c));
    std::reverse(stored.begin(), stored.end()); // file order is irrelevant
    const attn::Status s = attn::checkTensorsMatchConfig(c, stored);
    EXPECT_TRUE(s.isOk()) << s.message();
}

TEST(ModelFormatCheck, OneMessageListsMissingUnexpectedAndMisShaped)
{
    const ModelConfig c = smallDiffCopeSepKey();
    auto stored = asStored(attn::expectedTensors(c));
    stored.erase(std::remove_if(stored.begin(), stored.end(),
                     [](const attn::TensorInfo& t) { return t.name == "layers.1.attn.lambda_k2"; }),
        stored.end());
    for (auto& t : stored)
        if (t.name == "layers.0.attn.pos_emb")
            t.shape = {1, 8, 16};
    attn::TensorInfo extra;
    extra.name = "layers.0.attn.rotary.inv_freq";
    extra.shape = {4};
    stored.push_back(extra);

    const attn::Status s = attn::checkTensorsMatchConfig(c, stored);
    ASSERT_FALSE(s.isOk());
    const std::string& msg = s.message();
    EXPECT_TRUE(contains(msg, "layers.1.attn.lambda_k2"));
    EXPECT_TRUE(contains(msg, "layers.0.attn.rotary.inv_freq"));
    EXPECT_TRUE(contains(msg, "layers.0.attn.pos_emb"));
    EXPECT_TRUE(contains(msg, "[1, 8, 16]"));
    EXPECT_TRUE(contains(msg, "[1, 8, 17]"));
    EXPECT_TRUE(contains(msg, "missing"));
    EXPECT_TRUE(contains(msg, "unexpected"));
}

TEST(ModelFormatCheck, IntegerWeightsRejected)
{
    const ModelConfig c = smallDiffCopeSepKey();
    auto stored = asStored(attn::expectedTensors(c));
    stored[3].dtype = attn::DType::I64;
    const attn::Status s = attn::checkTensorsMatchConfig(c, stored);
    ASSERT_FALSE(s.isOk());
    EXPECT_TRUE(contains(s.message(), stored[3].name));
    EXPECT_TRUE(contains(s.message(), "I64"));
}

TEST(ModelFormatShape, ToString)
{
    EXPECT_EQ(attn::shapeToString({}), "[]");
    EXPECT_EQ(attn::shapeToString({1, 64, 513}), "[1, 64, 513]");
}
