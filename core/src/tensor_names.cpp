// SPDX-License-Identifier: GPL-3.0-or-later
// The names and shapes are the official modules' (diff-attention.md 4.1, cope.md 1.7) under docs/model-format.md's
// layout; the predicates say which families and options store each tensor.
#include "attnscope/tensor_names.h"

#include <iterator>

namespace attn {

namespace {

using Shape = std::vector<int64_t>;
using C = const ModelConfig&;
using Id = TensorId;
using Part = TensorPart;

int64_t kvSubHeads(C c)
{
    return c.isDiff() ? 2 * c.nKvHeads : c.nKvHeads;
}
bool layerNorm(C c)
{
    return c.arch.norm == NormKind::LayerNorm;
}
bool sandwich(C c)
{
    return c.arch.block == BlockLayout::Sandwich;
}
bool gated(C c)
{
    return c.arch.mlp == MlpKind::SwiGlu || c.arch.mlp == MlpKind::GeGluTanh;
}
bool always(C)
{
    return true;
}
Shape width(C c)
{
    return {c.dModel};
}
Shape headWidth(C c)
{
    return {c.headDim};
}

// clang-format off
constexpr TensorEntry kTable[] = {
    {Id::TokEmbeddings, Part::Embeddings, "tok_embeddings.weight", always, [](C c) -> Shape { return {c.vocabSize, c.dModel}; }, false},
    {Id::PosEmbeddings, Part::Embeddings, "pos_embeddings.weight", [](C c) { return c.position == PositionKind::Learned; },
        [](C c) -> Shape { return {c.maxSeqLen, c.dModel}; }, false},

    {Id::AttentionNorm, Part::Layer, "attention_norm.weight", always, width, false},
    {Id::AttentionNormBias, Part::Layer, "attention_norm.bias", layerNorm, width, false},
    {Id::QProj, Part::Layer, "attn.q_proj.weight", always, [](C c) -> Shape { return {c.qSubHeads() * c.headDim, c.dModel}; }, false},
    {Id::KProj, Part::Layer, "attn.k_proj.weight", always, [](C c) -> Shape { return {kvSubHeads(c) * c.headDim, c.dModel}; }, false},
    {Id::VProj, Part::Layer, "attn.v_proj.weight", always, [](C c) -> Shape { return {c.nKvHeads * c.valueHeadDim(), c.dModel}; }, false},
    {Id::OutProj, Part::Layer, "attn.out_proj.weight", always, [](C c) -> Shape { return {c.dModel, c.nHeads * c.valueHeadDim()}; }, false},
    {Id::QProjBias, Part::Layer, "attn.q_proj.bias", [](C c) { return c.arch.qkvBias; }, [](C c) -> Shape { return {c.qSubHeads() * c.headDim}; }, false},
    {Id::KProjBias, Part::Layer, "attn.k_proj.bias", [](C c) { return c.arch.qkvBias; }, [](C c) -> Shape { return {kvSubHeads(c) * c.headDim}; }, false},
    {Id::VProjBias, Part::Layer, "attn.v_proj.bias", [](C c) { return c.arch.qkvBias; }, [](C c) -> Shape { return {c.nKvHeads * c.valueHeadDim()}; }, false},
    {Id::OutProjBias, Part::Layer, "attn.out_proj.bias", [](C c) { return c.arch.outBias; }, width, false},
    {Id::QNorm, Part::Layer, "attn.q_norm.weight", [](C c) { return c.arch.qkNorm; }, headWidth, false},
    {Id::KNorm, Part::Layer, "attn.k_norm.weight", [](C c) { return c.arch.qkNorm; }, headWidth, false},
    // The lambda vectors and the CoPE table stay fp32: the reference computes lambda and the CoPE terms in fp32.
    {Id::LambdaQ1, Part::Layer, "attn.lambda_q1", [](C c) { return c.isDiff(); }, headWidth, true},
    {Id::LambdaK1, Part::Layer, "attn.lambda_k1", [](C c) { return c.isDiff(); }, headWidth, true},
    {Id::LambdaQ2, Part::Layer, "attn.lambda_q2", [](C c) { return c.isDiff(); }, headWidth, true},
    {Id::LambdaK2, Part::Layer, "attn.lambda_k2", [](C c) { return c.isDiff(); }, headWidth, true},
    // The official module's subln has a weight; DiffLlama's has none.
    {Id::Subln, Part::Layer, "attn.subln.weight", [](C c) { return c.isDiff() && c.arch.family == "attnscope"; },
        [](C c) -> Shape { return {2 * c.headDim}; }, false},
    {Id::CopePosEmb, Part::Layer, "attn.pos_emb", [](C c) { return c.hasCope(); }, [](C c) -> Shape { return {1, c.headDim, c.cope.npos}; }, true},
    {Id::CopeKeyProj, Part::Layer, "attn.cope_key_proj.weight", [](C c) { return c.hasCope() && c.cope.sepKey; },
        [](C c) -> Shape { return {kvSubHeads(c) * c.headDim, c.dModel}; }, false},
    {Id::CopeKeyProjBias, Part::Layer, "attn.cope_key_proj.bias", [](C c) { return c.hasCope() && c.cope.sepKey; },
        [](C c) -> Shape { return {kvSubHeads(c) * c.headDim}; }, false},
    {Id::AttentionPostNorm, Part::Layer, "attention_post_norm.weight", sandwich, width, false},
    {Id::FfnNorm, Part::Layer, "ffn_norm.weight", always, width, false},
    {Id::FfnNormBias, Part::Layer, "ffn_norm.bias", layerNorm, width, false},
    {Id::FfnPostNorm, Part::Layer, "ffn_post_norm.weight", sandwich, width, false},
    {Id::W1, Part::Layer, "feed_forward.w1.weight", always, [](C c) -> Shape { return {c.ffnHidden, c.dModel}; }, false},
    {Id::W1Bias, Part::Layer, "feed_forward.w1.bias", [](C c) { return c.arch.mlpBias; }, [](C c) -> Shape { return {c.ffnHidden}; }, false},
    {Id::W2, Part::Layer, "feed_forward.w2.weight", always, [](C c) -> Shape { return {c.dModel, c.ffnHidden}; }, false},
    {Id::W2Bias, Part::Layer, "feed_forward.w2.bias", [](C c) { return c.arch.mlpBias; }, width, false},
    {Id::W3, Part::Layer, "feed_forward.w3.weight", gated, [](C c) -> Shape { return {c.ffnHidden, c.dModel}; }, false},
    {Id::W3Bias, Part::Layer, "feed_forward.w3.bias", [](C c) { return gated(c) && c.arch.mlpBias; },
        [](C c) -> Shape { return {c.ffnHidden}; }, false},

    // The post-norm block (the CoPE paper's code) normalises inside every layer and has no final norm.
    {Id::Norm, Part::FinalNorm, "norm.weight", [](C c) { return c.arch.block != BlockLayout::PostNorm; }, width, false},
    {Id::NormBias, Part::FinalNorm, "norm.bias", [](C c) { return c.arch.block != BlockLayout::PostNorm && layerNorm(c); }, width, false},
    {Id::Output, Part::Head, "output.weight", [](C c) { return !c.tieEmbeddings; }, [](C c) -> Shape { return {c.vocabSize, c.dModel}; }, false},
};
// clang-format on

constexpr bool indexedById()
{
    int i = 0;
    for (const TensorEntry& e : kTable) {
        if (static_cast<int>(e.id) != i)
            return false;
        const bool layerId = i >= static_cast<int>(Id::AttentionNorm) && i <= static_cast<int>(Id::W3Bias);
        if (layerId != (e.part == Part::Layer))
            return false;
        ++i;
    }
    return i == kTensorIdCount;
}
static_assert(indexedById(), "kTable lists every TensorId once, in enum order, layer entries where the enum has them");

const std::string kLayersPrefix = "layers.";

bool startsWith(const std::string& s, const std::string& prefix)
{
    return s.compare(0, prefix.size(), prefix) == 0;
}

} // namespace

const std::vector<TensorEntry>& tensorTable()
{
    static const std::vector<TensorEntry> table(std::begin(kTable), std::end(kTable));
    return table;
}

const TensorEntry& tensorEntry(TensorId id)
{
    return tensorTable()[static_cast<size_t>(id)];
}

std::string layerPrefix(int64_t layer)
{
    return kLayersPrefix + std::to_string(layer) + ".";
}

std::string tensorName(TensorId id)
{
    return tensorEntry(id).name;
}

std::string layerTensorName(int64_t layer, TensorId id)
{
    return layerPrefix(layer) + tensorEntry(id).name;
}

std::string tensorName(TensorId id, int64_t layer)
{
    return tensorEntry(id).part == TensorPart::Layer ? layerTensorName(layer, id) : tensorName(id);
}

void forEachTensor(const ModelConfig& config, const std::function<void(const TensorEntry&, int64_t layer)>& f)
{
    const std::vector<TensorEntry>& table = tensorTable();
    bool layersDone = false;
    for (const TensorEntry& e : table) {
        if (e.part == TensorPart::Layer)
            continue;
        if (e.part != TensorPart::Embeddings && !layersDone) {
            for (int64_t i = 0; i < config.nLayers; ++i)
                for (const TensorEntry& layer : table)
                    if (layer.part == TensorPart::Layer && layer.present(config))
                        f(layer, i);
            layersDone = true;
        }
        if (e.present(config))
            f(e, -1);
    }
}

bool inAttentionBlock(TensorId id)
{
    return startsWith(tensorEntry(id).name, kAttentionBlockPrefix);
}

const TensorEntry* findTensor(const std::string& name, int64_t* layer)
{
    int64_t index = -1;
    std::string rest = name;
    if (startsWith(name, kLayersPrefix)) {
        const size_t digits = kLayersPrefix.size();
        size_t end = digits;
        while (end < name.size() && name[end] >= '0' && name[end] <= '9' && end - digits < 18)
            ++end;
        if (end == digits || end >= name.size() || name[end] != '.')
            return nullptr;
        index = std::stoll(name.substr(digits, end - digits));
        rest = name.substr(end + 1);
    }
    for (const TensorEntry& e : tensorTable())
        if ((e.part == TensorPart::Layer) == (index >= 0) && rest == e.name) {
            if (layer)
                *layer = index;
            return &e;
        }
    return nullptr;
}

} // namespace attn
