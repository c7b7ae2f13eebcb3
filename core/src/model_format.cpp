// SPDX-License-Identifier: GPL-3.0-or-later
#include "attnscope/model_format.h"

#include <map>
#include <sstream>

namespace attn {

int64_t TensorSpec::numel() const
{
    int64_t n = 1;
    for (int64_t s : shape)
        n *= s;
    return n;
}

std::string shapeToString(const std::vector<int64_t>& shape)
{
    std::ostringstream out;
    out << '[';
    for (size_t i = 0; i < shape.size(); ++i)
        out << (i ? ", " : "") << shape[i];
    out << ']';
    return out.str();
}

namespace {

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

} // namespace

std::vector<TensorSpec> expectedTensors(const ModelConfig& c)
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

int64_t parameterCount(const ModelConfig& config)
{
    int64_t n = 0;
    for (const auto& t : expectedTensors(config))
        n += t.numel();
    return n;
}

int64_t attentionParameterCount(const ModelConfig& config)
{
    std::vector<TensorSpec> specs;
    appendAttentionTensors(config, "", specs);
    int64_t n = 0;
    for (const auto& t : specs)
        n += t.numel();
    return n;
}

Status checkTensorsMatchConfig(const ModelConfig& config, const std::vector<TensorInfo>& tensors)
{
    std::map<std::string, const TensorInfo*> stored;
    for (const auto& t : tensors)
        stored[t.name] = &t;

    std::vector<std::string> missing, misShaped, badType;
    for (const auto& spec : expectedTensors(config)) {
        auto it = stored.find(spec.name);
        if (it == stored.end()) {
            missing.push_back(spec.name + " " + shapeToString(spec.shape));
            continue;
        }
        const TensorInfo& info = *it->second;
        if (info.shape != spec.shape)
            misShaped.push_back(
                spec.name + ": file has " + shapeToString(info.shape) + ", config needs " + shapeToString(spec.shape));
        if (info.dtype == DType::I64)
            badType.push_back(spec.name + " is I64 (weights must be F32, F16 or BF16)");
        stored.erase(it);
    }
    if (missing.empty() && misShaped.empty() && badType.empty() && stored.empty())
        return Status::ok();

    std::ostringstream msg;
    msg << "the weights do not match config.json:";
    auto list = [&msg](const char* title, const std::vector<std::string>& items) {
        if (items.empty())
            return;
        msg << "\n  " << title << " (" << items.size() << "):";
        // A file with thousands of unexpected tensors needs a readable message, not all of them.
        constexpr std::size_t kListed = 20;
        for (std::size_t i = 0; i < items.size() && i < kListed; ++i)
            msg << "\n    " << items[i];
        if (items.size() > kListed)
            msg << "\n    ... and " << items.size() - kListed << " more";
    };
    std::vector<std::string> unexpected;
    for (const auto& [name, info] : stored)
        unexpected.push_back(name + " " + shapeToString(info->shape));
    list("missing tensors", missing);
    list("unexpected tensors", unexpected);
    list("wrong shapes", misShaped);
    list("wrong dtypes", badType);
    return Status::error(msg.str());
}

} // namespace attn
