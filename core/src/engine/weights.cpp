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

ModelWeights assembleWeights(
    const ModelConfig& config, const std::function<at::Tensor(const std::string&, bool fp32)>& getOptional)
{
    auto opt = [&](const std::string& name) { return getOptional(name, false); };
    auto get = [&](const std::string& name) {
        at::Tensor t = getOptional(name, false);
        if (!t.defined())
            throw std::runtime_error("tensor " + name + " is missing");
        return t;
    };
    // lambda vectors and the CoPE table stay fp32: the reference computes lambda and CoPE terms in fp32.
    auto fp32 = [&](const std::string& name) { return getOptional(name, true); };

    ModelWeights weights;
    weights.tokEmbeddings = get("tok_embeddings.weight");
    weights.posEmbeddings = opt("pos_embeddings.weight");
    weights.norm = opt("norm.weight");
    weights.normBias = opt("norm.bias");
    weights.output = config.tieEmbeddings ? weights.tokEmbeddings : get("output.weight");
    for (int64_t i = 0; i < config.nLayers; ++i) {
        const std::string p = "layers." + std::to_string(i) + ".";
        LayerWeights layer;
        layer.attentionNorm = get(p + "attention_norm.weight");
        layer.attentionNormBias = opt(p + "attention_norm.bias");
        layer.wq = get(p + "attn.q_proj.weight");
        layer.wk = get(p + "attn.k_proj.weight");
        layer.wv = get(p + "attn.v_proj.weight");
        layer.wo = get(p + "attn.out_proj.weight");
        layer.bq = opt(p + "attn.q_proj.bias");
        layer.bk = opt(p + "attn.k_proj.bias");
        layer.bv = opt(p + "attn.v_proj.bias");
        layer.bo = opt(p + "attn.out_proj.bias");
        layer.qNorm = opt(p + "attn.q_norm.weight");
        layer.kNorm = opt(p + "attn.k_norm.weight");
        layer.lambdaQ1 = fp32(p + "attn.lambda_q1");
        layer.lambdaK1 = fp32(p + "attn.lambda_k1");
        layer.lambdaQ2 = fp32(p + "attn.lambda_q2");
        layer.lambdaK2 = fp32(p + "attn.lambda_k2");
        layer.subln = opt(p + "attn.subln.weight");
        layer.posEmb = fp32(p + "attn.pos_emb");
        layer.copeKeyW = opt(p + "attn.cope_key_proj.weight");
        layer.copeKeyB = opt(p + "attn.cope_key_proj.bias");
        layer.attentionPostNorm = opt(p + "attention_post_norm.weight");
        layer.ffnNorm = get(p + "ffn_norm.weight");
        layer.ffnNormBias = opt(p + "ffn_norm.bias");
        layer.ffnPostNorm = opt(p + "ffn_post_norm.weight");
        layer.w1 = get(p + "feed_forward.w1.weight");
        layer.w2 = get(p + "feed_forward.w2.weight");
        layer.w3 = opt(p + "feed_forward.w3.weight");
        layer.b1 = opt(p + "feed_forward.w1.bias");
        layer.b2 = opt(p + "feed_forward.w2.bias");
        layer.b3 = opt(p + "feed_forward.w3.bias");
        weights.layers.push_back(std::move(layer));
    }
    return weights;
}

ModelWeights loadWeights(
    const SafetensorsFile& file, const ModelConfig& config, const at::Device& device, at::ScalarType dtype)
{
    ModelWeights weights = assembleWeights(config, [&](const std::string& name, bool fp32) -> at::Tensor {
        const TensorInfo* info = file.find(name);
        return info ? readTensor(file, *info).to(device, fp32 ? at::kFloat : dtype) : at::Tensor();
    });
    weights.computeDtype = dtype;
    return weights;
}

} // namespace attn::engine

namespace attn::engine {

namespace {

at::ScalarType storedScalarType(DType dtype)
{
    return scalarType(dtype);
}

// A CPU tensor over the stored bytes: a view into the mapping when the element alignment allows (the mapping is
// read-only and no engine op writes into weights), else an aligned copy.
at::Tensor storedView(const StoredTensor& t)
{
    const auto type = storedScalarType(t.dtype);
    std::vector<int64_t> strides = t.strides;
    if (strides.empty()) {
        strides.assign(t.shape.size(), 1);
        for (size_t i = t.shape.size(); i-- > 1;)
            strides[i - 1] = strides[i] * t.shape[i];
    }
    const auto options = at::TensorOptions().dtype(type);
    void* data = const_cast<uint8_t*>(t.data); // never written: see above
    if (reinterpret_cast<uintptr_t>(t.data) % dtypeSize(t.dtype) == 0)
        return at::from_blob(data, t.shape, strides, options);
    at::Tensor copy = at::empty_strided(t.shape, strides, options);
    int64_t span = 1; // bytes from the first to one past the last element
    for (size_t i = 0; i < t.shape.size(); ++i)
        span += (t.shape[i] - 1) * strides[i];
    if (t.numel() > 0)
        std::memcpy(copy.data_ptr(), t.data, static_cast<size_t>(span) * dtypeSize(t.dtype));
    return copy;
}

at::Tensor applyRecipe(const TensorRecipe& recipe, const StoredTensor& stored)
{
    at::Tensor t = storedView(stored);
    if (recipe.transpose)
        t = t.t();
    if (!recipe.rows.empty()) {
        std::vector<at::Tensor> parts;
        for (const RowRange& r : recipe.rows)
            parts.push_back(t.narrow(0, r.begin, r.count));
        t = parts.size() == 1 ? parts.front() : at::cat(parts, 0);
    }
    if (!recipe.shape.empty())
        t = t.reshape(recipe.shape);
    return t;
}

} // namespace

ModelWeights loadSourceWeights(const ModelSource& source, const at::Device& device, at::ScalarType computeDtype)
{
    ModelWeights weights = assembleWeights(source.config, [&](const std::string& name, bool fp32) -> at::Tensor {
        auto it = source.recipes.find(name);
        if (it == source.recipes.end())
            return {};
        const StoredTensor* stored = source.find(it->second.source);
        if (!stored)
            throw std::runtime_error("tensor " + it->second.source + " is missing");
        at::Tensor t = applyRecipe(it->second, *stored);
        if (fp32)
            return t.to(device, at::kFloat).contiguous();
        // Weights keep their stored dtype on the CPU (a view of the mapping where possible: a multi-GB bf16 model is
        // never copied to fp32 as a whole). On a GPU they take the compute dtype when that is narrower (fp32
        // checkpoint run in bf16), else stay as stored and forward() converts a layer at a time.
        const bool narrower = c10::elementSize(computeDtype) < c10::elementSize(t.scalar_type());
        if (device.is_cpu())
            return narrower ? t.to(computeDtype).contiguous() : t.contiguous();
        return t.to(device, narrower ? computeDtype : t.scalar_type()).contiguous();
    });
    weights.computeDtype = computeDtype;
    weights.keepAlive = source.keepAlive;
    return weights;
}

} // namespace attn::engine
