// SPDX-License-Identifier: GPL-3.0-or-later
#include "engine/weights.h"

#include <cstring>
#include <stdexcept>

namespace attn::engine {

namespace {

at::ScalarType scalarType(DType dtype)
{
    switch (dtype) {
    case DType::F32:
        return at::kFloat;
    case DType::F16:
        return at::kHalf;
    case DType::BF16:
        return at::kBFloat16;
    case DType::I64:
        return at::kLong;
    }
    return at::kFloat;
}

} // namespace

at::Tensor readTensor(const SafetensorsFile& file, const TensorInfo& info)
{
    // Copy into an aligned tensor rather than from_blob on the mapping: safetensors does not promise
    // element alignment, and the mapping must not be written through.
    at::Tensor raw = at::empty(info.shape, at::TensorOptions().dtype(scalarType(info.dtype)));
    if (info.nbytes() > 0)
        std::memcpy(raw.data_ptr(), file.data(info), info.nbytes());
    return raw.to(at::kFloat);
}

ModelWeights loadWeights(
    const SafetensorsFile& file, const ModelConfig& config, const at::Device& device, at::ScalarType dtype)
{
    auto get = [&](const std::string& name, at::ScalarType type) -> at::Tensor {
        const TensorInfo* info = file.find(name);
        if (!info)
            throw std::runtime_error("tensor " + name + " is missing");
        return readTensor(file, *info).to(device, type);
    };
    auto opt = [&](const std::string& name, at::ScalarType type) -> at::Tensor {
        return file.find(name) ? get(name, type) : at::Tensor();
    };

    ModelWeights weights;
    weights.tokEmbeddings = get("tok_embeddings.weight", dtype);
    weights.posEmbeddings = opt("pos_embeddings.weight", dtype);
    weights.norm = get("norm.weight", dtype);
    weights.output = config.tieEmbeddings ? weights.tokEmbeddings : get("output.weight", dtype);
    for (int64_t i = 0; i < config.nLayers; ++i) {
        const std::string p = "layers." + std::to_string(i) + ".";
        LayerWeights layer;
        layer.attentionNorm = get(p + "attention_norm.weight", dtype);
        layer.wq = get(p + "attn.q_proj.weight", dtype);
        layer.wk = get(p + "attn.k_proj.weight", dtype);
        layer.wv = get(p + "attn.v_proj.weight", dtype);
        layer.wo = get(p + "attn.out_proj.weight", dtype);
        // lambda vectors and the CoPE table stay fp32: the reference computes lambda and CoPE terms in fp32.
        layer.lambdaQ1 = opt(p + "attn.lambda_q1", at::kFloat);
        layer.lambdaK1 = opt(p + "attn.lambda_k1", at::kFloat);
        layer.lambdaQ2 = opt(p + "attn.lambda_q2", at::kFloat);
        layer.lambdaK2 = opt(p + "attn.lambda_k2", at::kFloat);
        layer.subln = opt(p + "attn.subln.weight", dtype);
        layer.posEmb = opt(p + "attn.pos_emb", at::kFloat);
        layer.copeKeyW = opt(p + "attn.cope_key_proj.weight", dtype);
        layer.copeKeyB = opt(p + "attn.cope_key_proj.bias", dtype);
        layer.ffnNorm = get(p + "ffn_norm.weight", dtype);
        layer.w1 = get(p + "feed_forward.w1.weight", dtype);
        layer.w2 = get(p + "feed_forward.w2.weight", dtype);
        layer.w3 = get(p + "feed_forward.w3.weight", dtype);
        weights.layers.push_back(std::move(layer));
    }
    return weights;
}

} // namespace attn::engine
