// SPDX-License-Identifier: GPL-3.0-or-later
// TEMPORARY (removed in the next commit): the table-generated expectedTensors against a verbatim copy of the
// hand-written function it replaces (core/src/model_format.cpp before this commit), over every combination of the
// options that decide which tensors a config has.
#include "attnscope/model_format.h"
#include "attnscope/tensor_names.h"

#include <gtest/gtest.h>

namespace attn {
namespace {

namespace old {
// The attention block of one layer, official names from diff-attention.md 4.1 / cope.md 1.7.
void appendAttentionTensors(const ModelConfig& c, const std::string& prefix, std::vector<TensorSpec>& out)
{
    const int64_t d = c.headDim;
    const int64_t kvSubHeads = c.isDiff() ? 2 * c.nKvHeads : c.nKvHeads;
    out.push_back({prefix + "q_proj.weight", {c.qSubHeads() * d, c.dModel}});
    out.push_back({prefix + "k_proj.weight", {kvSubHeads * d, c.dModel}});
    out.push_back({prefix + "v_proj.weight", {c.nKvHeads * c.valueHeadDim(), c.dModel}});
    out.push_back({prefix + "out_proj.weight", {c.dModel, c.nHeads * c.valueHeadDim()}});
    if (c.arch.qkvBias) {
        out.push_back({prefix + "q_proj.bias", {c.qSubHeads() * d}});
        out.push_back({prefix + "k_proj.bias", {kvSubHeads * d}});
        out.push_back({prefix + "v_proj.bias", {c.nKvHeads * c.valueHeadDim()}});
    }
    if (c.arch.outBias)
        out.push_back({prefix + "out_proj.bias", {c.dModel}});
    if (c.arch.qkNorm) {
        out.push_back({prefix + "q_norm.weight", {d}});
        out.push_back({prefix + "k_norm.weight", {d}});
    }
    if (c.isDiff()) {
        for (const char* name : {"lambda_q1", "lambda_k1", "lambda_q2", "lambda_k2"})
            out.push_back({prefix + name, {d}});
        if (c.arch.family == "attnscope") // the official module's subln has a weight; DiffLlama's has none
            out.push_back({prefix + "subln.weight", {2 * d}});
    }
    if (c.hasCope()) {
        out.push_back({prefix + "pos_emb", {1, d, c.cope.npos}});
        if (c.cope.sepKey) {
            out.push_back({prefix + "cope_key_proj.weight", {kvSubHeads * d, c.dModel}});
            out.push_back({prefix + "cope_key_proj.bias", {kvSubHeads * d}});
        }
    }
}

std::vector<TensorSpec> oldExpectedTensors(const ModelConfig& c)
{
    std::vector<TensorSpec> out;
    out.push_back({"tok_embeddings.weight", {c.vocabSize, c.dModel}});
    if (c.position == PositionKind::Learned)
        out.push_back({"pos_embeddings.weight", {c.maxSeqLen, c.dModel}});
    const ArchitectureConfig& a = c.arch;
    const bool layerNorm = a.norm == NormKind::LayerNorm;
    const bool gated = a.mlp == MlpKind::SwiGlu || a.mlp == MlpKind::GeGluTanh;
    for (int64_t i = 0; i < c.nLayers; ++i) {
        const std::string layer = "layers." + std::to_string(i) + ".";
        out.push_back({layer + "attention_norm.weight", {c.dModel}});
        if (layerNorm)
            out.push_back({layer + "attention_norm.bias", {c.dModel}});
        appendAttentionTensors(c, layer + "attn.", out);
        if (a.block == BlockLayout::Sandwich)
            out.push_back({layer + "attention_post_norm.weight", {c.dModel}});
        out.push_back({layer + "ffn_norm.weight", {c.dModel}});
        if (layerNorm)
            out.push_back({layer + "ffn_norm.bias", {c.dModel}});
        if (a.block == BlockLayout::Sandwich)
            out.push_back({layer + "ffn_post_norm.weight", {c.dModel}});
        out.push_back({layer + "feed_forward.w1.weight", {c.ffnHidden, c.dModel}});
        if (a.mlpBias)
            out.push_back({layer + "feed_forward.w1.bias", {c.ffnHidden}});
        out.push_back({layer + "feed_forward.w2.weight", {c.dModel, c.ffnHidden}});
        if (a.mlpBias)
            out.push_back({layer + "feed_forward.w2.bias", {c.dModel}});
        if (gated) {
            out.push_back({layer + "feed_forward.w3.weight", {c.ffnHidden, c.dModel}});
            if (a.mlpBias)
                out.push_back({layer + "feed_forward.w3.bias", {c.ffnHidden}});
        }
    }
    if (a.block != BlockLayout::PostNorm) {
        out.push_back({"norm.weight", {c.dModel}});
        if (layerNorm)
            out.push_back({"norm.bias", {c.dModel}});
    }
    if (!c.tieEmbeddings)
        out.push_back({"output.weight", {c.vocabSize, c.dModel}});
    return out;
}

int64_t oldAttentionParameterCount(const ModelConfig& config)
{
    std::vector<TensorSpec> specs;
    appendAttentionTensors(config, "", specs);
    int64_t n = 0;
    for (const auto& t : specs)
        n += t.numel();
    return n;
}
} // namespace old

ModelConfig optionCombination(AttentionKind attention, PositionKind position, bool sepKey, NormKind norm,
    BlockLayout block, MlpKind mlp, int flags, const char* family)
{
    ModelConfig c;
    // every width distinct so a swapped dimension shows
    c.vocabSize = 37;
    c.dModel = 40;
    c.nLayers = 1 + flags % 3;
    c.nHeads = 4;
    c.nKvHeads = flags & 32 ? 2 : 4;
    c.headDim = 6;
    c.ffnHidden = 52;
    c.maxSeqLen = 19;
    c.attention = attention;
    c.position = position;
    c.cope.sepKey = sepKey;
    c.cope.npos = 23;
    c.arch.family = family;
    c.arch.norm = norm;
    c.arch.block = block;
    c.arch.mlp = mlp;
    c.arch.qkvBias = flags & 1;
    c.arch.outBias = flags & 2;
    c.arch.mlpBias = flags & 4;
    c.arch.qkNorm = flags & 8;
    c.tieEmbeddings = flags & 16;
    return c;
}

TEST(TensorNamesTransition, TableGivesTheOldListForEveryOptionCombination)
{
    int64_t configs = 0;
    for (AttentionKind attention : {AttentionKind::Softmax, AttentionKind::Diff})
        for (PositionKind position :
            {PositionKind::None, PositionKind::Learned, PositionKind::Rope, PositionKind::Cope, PositionKind::RopeCope})
            for (bool sepKey : {false, true})
                for (NormKind norm : {NormKind::RmsNorm, NormKind::RmsNormPlusOne, NormKind::LayerNorm})
                    for (BlockLayout block : {BlockLayout::PreNorm, BlockLayout::PostNorm, BlockLayout::Sandwich})
                        for (MlpKind mlp : {MlpKind::SwiGlu, MlpKind::GeGluTanh, MlpKind::GeluTanh, MlpKind::Relu})
                            for (int flags = 0; flags < 64; ++flags)
                                for (const char* family : {"attnscope", "diffllama"}) {
                                    const ModelConfig c = optionCombination(
                                        attention, position, sepKey, norm, block, mlp, flags, family);
                                    const auto before = old::oldExpectedTensors(c);
                                    const auto after = expectedTensors(c);
                                    ASSERT_EQ(after.size(), before.size());
                                    for (size_t i = 0; i < before.size(); ++i) {
                                        ASSERT_EQ(after[i].name, before[i].name) << i;
                                        ASSERT_EQ(after[i].shape, before[i].shape) << before[i].name;
                                    }
                                    ASSERT_EQ(attentionParameterCount(c), old::oldAttentionParameterCount(c));
                                    ++configs;
                                }
    EXPECT_EQ(configs, 2 * 5 * 2 * 3 * 3 * 4 * 64 * 2);
}

} // namespace
} // namespace attn
