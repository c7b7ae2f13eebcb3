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

const std::vector<TensorField<ModelWeights>>& modelTensorFields()
{
    using N = TensorNeed;
    static const std::vector<TensorField<ModelWeights>> fields {
        {"tok_embeddings.weight", &ModelWeights::tokEmbeddings, N::Required},
        {"pos_embeddings.weight", &ModelWeights::posEmbeddings, N::Optional},
        {"norm.weight", &ModelWeights::norm, N::Optional},
        {"norm.bias", &ModelWeights::normBias, N::Optional},
        {"output.weight", &ModelWeights::output, N::Required},
    };
    return fields;
}

const std::vector<TensorField<LayerWeights>>& layerTensorFields()
{
    using N = TensorNeed;
    using L = LayerWeights;
    static const std::vector<TensorField<LayerWeights>> fields {
        {"attention_norm.weight", &L::attentionNorm, N::Required},
        {"attention_norm.bias", &L::attentionNormBias, N::Optional},
        {"attn.q_proj.weight", &L::wq, N::Required},
        {"attn.k_proj.weight", &L::wk, N::Required},
        {"attn.v_proj.weight", &L::wv, N::Required},
        {"attn.out_proj.weight", &L::wo, N::Required},
        {"attn.q_proj.bias", &L::bq, N::Optional},
        {"attn.k_proj.bias", &L::bk, N::Optional},
        {"attn.v_proj.bias", &L::bv, N::Optional},
        {"attn.out_proj.bias", &L::bo, N::Optional},
        {"attn.q_norm.weight", &L::qNorm, N::Optional},
        {"attn.k_norm.weight", &L::kNorm, N::Optional},
        {"attn.lambda_q1", &L::lambdaQ1, N::OptionalFp32},
        {"attn.lambda_k1", &L::lambdaK1, N::OptionalFp32},
        {"attn.lambda_q2", &L::lambdaQ2, N::OptionalFp32},
        {"attn.lambda_k2", &L::lambdaK2, N::OptionalFp32},
        {"attn.subln.weight", &L::subln, N::Optional},
        {"attn.pos_emb", &L::posEmb, N::OptionalFp32},
        {"attn.cope_key_proj.weight", &L::copeKeyW, N::Optional},
        {"attn.cope_key_proj.bias", &L::copeKeyB, N::Optional},
        {"attention_post_norm.weight", &L::attentionPostNorm, N::Optional},
        {"ffn_norm.weight", &L::ffnNorm, N::Required},
        {"ffn_norm.bias", &L::ffnNormBias, N::Optional},
        {"ffn_post_norm.weight", &L::ffnPostNorm, N::Optional},
        {"feed_forward.w1.weight", &L::w1, N::Required},
        {"feed_forward.w2.weight", &L::w2, N::Required},
        {"feed_forward.w3.weight", &L::w3, N::Optional},
        {"feed_forward.w1.bias", &L::b1, N::Optional},
        {"feed_forward.w2.bias", &L::b2, N::Optional},
        {"feed_forward.w3.bias", &L::b3, N::Optional},
    };
    return fields;
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

    auto read = [&](const std::string& name, TensorNeed need) {
        return need == TensorNeed::Required ? get(name) : need == TensorNeed::OptionalFp32 ? fp32(name) : opt(name);
    };
    ModelWeights weights;
    for (const TensorField<ModelWeights>& field : modelTensorFields())
        if (!(config.tieEmbeddings && field.member == &ModelWeights::output))
            weights.*field.member = read(field.name, field.need);
    if (config.tieEmbeddings)
        weights.output = weights.tokEmbeddings;
    for (int64_t i = 0; i < config.nLayers; ++i) {
        const std::string p = "layers." + std::to_string(i) + ".";
        LayerWeights layer;
        for (const TensorField<LayerWeights>& field : layerTensorFields())
            layer.*field.member = read(p + field.name, field.need);
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

ModelWeights loadSourceWeights(const ModelSource& source, const std::function<at::Device(const std::string&)>& deviceOf,
    at::ScalarType computeDtype)
{
    ModelWeights weights = assembleWeights(source.config, [&](const std::string& name, bool fp32) -> at::Tensor {
        const at::Device device = deviceOf(name);
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
