// SPDX-License-Identifier: GPL-3.0-or-later
#include "engine/weights.h"

#include <algorithm>
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

// Every member is a tensor, so the fields below cover a struct exactly when their count times a tensor's size is its
// size (and the test checks no member is listed twice).
static_assert(sizeof(ModelTensors) == 5 * sizeof(at::Tensor), "ModelTensors holds tensors only");
static_assert(sizeof(LayerWeights) == kLayerTensorCount * sizeof(at::Tensor),
    "every LayerWeights member has one entry in the tensor table (attnscope/tensor_names.h)");

const std::vector<TensorField<ModelTensors>>& modelTensorFields()
{
    using M = ModelTensors;
    static const std::vector<TensorField<ModelTensors>> fields {
        {TensorId::TokEmbeddings, &M::tokEmbeddings},
        {TensorId::PosEmbeddings, &M::posEmbeddings},
        {TensorId::Norm, &M::norm},
        {TensorId::NormBias, &M::normBias},
        {TensorId::Output, &M::output},
    };
    return fields;
}

const std::vector<TensorField<LayerWeights>>& layerTensorFields()
{
    using L = LayerWeights;
    using Id = TensorId;
    static const std::vector<TensorField<LayerWeights>> fields {
        {Id::AttentionNorm, &L::attentionNorm},
        {Id::AttentionNormBias, &L::attentionNormBias},
        {Id::QProj, &L::wq},
        {Id::KProj, &L::wk},
        {Id::VProj, &L::wv},
        {Id::OutProj, &L::wo},
        {Id::QProjBias, &L::bq},
        {Id::KProjBias, &L::bk},
        {Id::VProjBias, &L::bv},
        {Id::OutProjBias, &L::bo},
        {Id::QNorm, &L::qNorm},
        {Id::KNorm, &L::kNorm},
        {Id::LambdaQ1, &L::lambdaQ1},
        {Id::LambdaK1, &L::lambdaK1},
        {Id::LambdaQ2, &L::lambdaQ2},
        {Id::LambdaK2, &L::lambdaK2},
        {Id::Subln, &L::subln},
        {Id::CopePosEmb, &L::posEmb},
        {Id::CopeKeyProj, &L::copeKeyW},
        {Id::CopeKeyProjBias, &L::copeKeyB},
        {Id::AttentionPostNorm, &L::attentionPostNorm},
        {Id::FfnNorm, &L::ffnNorm},
        {Id::FfnNormBias, &L::ffnNormBias},
        {Id::FfnPostNorm, &L::ffnPostNorm},
        {Id::W1, &L::w1},
        {Id::W2, &L::w2},
        {Id::W3, &L::w3},
        {Id::W1Bias, &L::b1},
        {Id::W2Bias, &L::b2},
        {Id::W3Bias, &L::b3},
    };
    return fields;
}

at::Tensor* engineTensor(ModelWeights& weights, TensorId id, int64_t layer)
{
    if (tensorEntry(id).part != TensorPart::Layer) {
        for (const TensorField<ModelTensors>& field : modelTensorFields())
            if (field.id == id)
                return &(weights.*field.member);
        return nullptr;
    }
    if (layer < 0 || layer >= static_cast<int64_t>(weights.layers.size()))
        return nullptr;
    for (const TensorField<LayerWeights>& field : layerTensorFields())
        if (field.id == id)
            return &(weights.layers[static_cast<size_t>(layer)].*field.member);
    return nullptr;
}

ModelWeights assembleWeights(
    const ModelConfig& config, const std::function<at::Tensor(const std::string&, bool fp32)>& get)
{
    ModelWeights weights;
    weights.layers.resize(static_cast<size_t>(std::max<int64_t>(config.nLayers, 0)));
    forEachTensor(config, [&](const TensorEntry& entry, int64_t layer) {
        const std::string name = tensorName(entry.id, layer);
        at::Tensor t = get(name, entry.fp32);
        if (!t.defined())
            throw std::runtime_error("tensor " + name + " is missing");
        *engineTensor(weights, entry.id, layer) = std::move(t);
    });
    if (config.tieEmbeddings)
        weights.output = weights.tokEmbeddings;
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
