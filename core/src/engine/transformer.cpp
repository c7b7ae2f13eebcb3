// SPDX-License-Identifier: GPL-3.0-or-later
#include "engine/transformer.h"

#include "engine/memory.h"

#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <optional>

namespace attn::engine {

namespace {

at::Tensor feedForward(const at::Tensor& h, const LayerWeights& w, MlpKind kind)
{
    switch (kind) {
    case MlpKind::SwiGlu:
        return project(at::silu(project(h, w.w1, w.b1)) * project(h, w.w3, w.b3), w.w2, w.b2);
    case MlpKind::GeGluTanh:
        return project(at::gelu(project(h, w.w1, w.b1), "tanh") * project(h, w.w3, w.b3), w.w2, w.b2);
    case MlpKind::GeluTanh: // GPT-2's gelu_new
        return project(at::gelu(project(h, w.w1, w.b1), "tanh"), w.w2, w.b2);
    case MlpKind::Relu:
        return project(at::relu(project(h, w.w1, w.b1)), w.w2, w.b2);
    }
    return h;
}

at::Tensor inDtype(const at::Tensor& t, at::ScalarType dtype)
{
    return t.defined() ? t.to(dtype) : t;
}

// The layer's tensors in the compute dtype. Weights are kept as stored (bf16 stays bf16, memory-mapped on the CPU):
// a bf16 model computed in fp32 converts one layer at a time, never the whole model. A no-op when the dtypes agree.
LayerWeights computeLayer(const LayerWeights& s, at::ScalarType dtype)
{
    LayerWeights w = s;
    for (at::Tensor* t : {&w.attentionNorm, &w.attentionNormBias, &w.wq, &w.wk, &w.wv, &w.wo, &w.bq, &w.bk, &w.bv,
             &w.bo, &w.qNorm, &w.kNorm, &w.subln, &w.copeKeyW, &w.copeKeyB, &w.attentionPostNorm, &w.ffnNorm,
             &w.ffnNormBias, &w.ffnPostNorm, &w.w1, &w.w2, &w.w3, &w.b1, &w.b2, &w.b3})
        *t = inDtype(*t, dtype);
    return w; // lambda vectors and pos_emb stay fp32 (loaded so)
}

// What the block's attention reads: the normed input (pre-norm, sandwich) or the input itself (post-norm).
at::Tensor attentionInput(const at::Tensor& x, const LayerWeights& w, const ModelConfig& c)
{
    switch (c.arch.block) {
    case BlockLayout::PreNorm:
        return blockNorm(x, w.attentionNorm, w.attentionNormBias, c.arch.norm, c.normEps);
    case BlockLayout::PostNorm:
        return x;
    case BlockLayout::Sandwich:
        return blockNorm(x, w.attentionNorm, {}, c.arch.norm, c.normEps);
    }
    return x;
}

at::Tensor attend(const at::Tensor& h, const LayerWeights& w, const ModelConfig& c, const AttentionContext& ctx,
    LayerCapture* capture)
{
    return c.isDiff() ? diffAttention(h, w, ctx, capture) : softmaxAttention(h, w, ctx, capture);
}

at::Tensor block(const at::Tensor& x, const LayerWeights& w, const ModelConfig& c, const AttentionContext& ctx,
    LayerCapture* capture)
{
    const ArchitectureConfig& a = c.arch;
    auto norm = [&](const at::Tensor& h, const at::Tensor& weight, const at::Tensor& bias) {
        return blockNorm(h, weight, bias, a.norm, c.normEps);
    };
    const at::Tensor attention = attend(attentionInput(x, w, c), w, c, ctx, capture);
    // The attention checked for a cancel per tile; the feed-forward is one long product on a long prompt (a wide
    // model's at thousands of tokens takes seconds on a CPU), so a cancel that came meanwhile stops here.
    if (ctx.cancel && ctx.cancel->load())
        throw Cancelled();
    switch (a.block) {
    case BlockLayout::PreNorm: {
        const at::Tensor h = x + attention;
        return h + feedForward(norm(h, w.ffnNorm, w.ffnNormBias), w, a.mlp);
    }
    case BlockLayout::PostNorm: {
        const at::Tensor h = norm(x + attention, w.attentionNorm, w.attentionNormBias);
        return norm(h + feedForward(h, w, a.mlp), w.ffnNorm, w.ffnNormBias);
    }
    case BlockLayout::Sandwich: {
        const at::Tensor h = x + norm(attention, w.attentionPostNorm, {});
        return h + norm(feedForward(norm(h, w.ffnNorm, {}), w, a.mlp), w.ffnPostNorm, {});
    }
    }
    return x;
}

// The output projection a vocabulary slice at a time, so a bf16 head computed in fp32 never needs an fp32 copy
// of the whole [V, D] matrix (128K x 2048 would be 1 GiB).
at::Tensor outputLogits(const at::Tensor& x, const at::Tensor& output, at::ScalarType dtype)
{
    if (output.scalar_type() == dtype)
        return at::linear(x, output);
    constexpr int64_t kRows = 16384;
    std::vector<at::Tensor> parts;
    for (int64_t r = 0; r < output.size(0); r += kRows)
        parts.push_back(at::linear(x, output.narrow(0, r, std::min(kRows, output.size(0) - r)).to(dtype)));
    return at::cat(parts, -1);
}

} // namespace

at::Device layerDevice(const LayerWeights& layer)
{
    return layer.wq.device(); // every layer has a query projection
}

AttentionContext ForwardSetup::context(
    const ModelConfig& config, int64_t layer, const at::Device& device, const std::atomic<bool>* cancel) const
{
    const RopeTables* tables = nullptr;
    for (const RopeTables& t : rope)
        if (t.cos.device() == device)
            tables = &t;
    return AttentionContext {config, layer, tables, budgetTile, cancel};
}

int64_t ForwardSetup::tileFor(
    const ModelConfig& config, int64_t seqLen, at::ScalarType dtype, const at::Device& device) const
{
    return requestedTile > 0 ? requestedTile : autoQueryTile(config, 1, seqLen, dtype, device, /*training=*/false);
}

ForwardSetup forwardSetup(
    const ModelWeights& weights, const ModelConfig& config, int64_t batch, int64_t seqLen, int64_t requestedTile)
{
    ForwardSetup setup;
    const at::Device device = weights.tokEmbeddings.device();
    if (config.hasRope()) {
        // Computed once and copied (exactly) to the other devices, so every layer rotates by the same numbers.
        setup.rope.push_back(ropeTables(seqLen, config.headDim, config.rope, device));
        for (const LayerWeights& layer : weights.layers) {
            const at::Device other = layerDevice(layer);
            if (std::none_of(
                    setup.rope.begin(), setup.rope.end(), [&](const RopeTables& t) { return t.cos.device() == other; }))
                setup.rope.push_back({setup.rope.front().cos.to(other), setup.rope.front().sin.to(other)});
        }
    }
    setup.requestedTile = requestedTile;
    setup.budgetTile = requestedTile > 0
        ? requestedTile
        : autoQueryTile(config, batch, seqLen, weights.computeDtype, device, /*training=*/at::GradMode::is_enabled());
    return setup;
}

at::Tensor embed(const ModelWeights& weights, const ModelConfig& config, const at::Tensor& tokens)
{
    const at::ScalarType dtype = weights.computeDtype;
    at::Tensor x = at::embedding(weights.tokEmbeddings, tokens).to(dtype);
    if (config.arch.embedScale != 1.0) // Gemma: the scale is rounded to the compute dtype first
        x = x
            * at::scalar_tensor(
                config.arch.embedScale, at::TensorOptions().dtype(dtype).device(weights.tokEmbeddings.device()));
    if (config.position == PositionKind::Learned)
        x = x + weights.posEmbeddings.slice(0, 0, tokens.size(1)).to(dtype);
    return x;
}

namespace {

AttentionContext layerContext(const ModelConfig& config, int64_t layer, const ForwardSetup& setup,
    const LayerCapture* capture, const at::Device& device, const std::atomic<bool>* cancel)
{
    AttentionContext ctx = setup.context(config, layer, device, cancel);
    if (capture) {
        // Collectors combine overview blocks that straddle tiles (alignment 1); an observer may still ask for one.
        const int64_t align = capture->rowAlignment();
        ctx.queryTile = std::max(align, setup.budgetTile / align * align);
    }
    return ctx;
}

} // namespace

at::Tensor runLayer(const ModelWeights& weights, const ModelConfig& config, const at::Tensor& x, int64_t layer,
    const ForwardSetup& setup, LayerCapture* capture, const std::atomic<bool>* cancel)
{
    if (cancel && cancel->load())
        throw Cancelled();
    const LayerWeights w = computeLayer(weights.layers[static_cast<size_t>(layer)], weights.computeDtype);
    const at::Device device = layerDevice(w);
    // The hidden state follows the layers across devices (a no-op on the same device); the copy is exact.
    return block(x.to(device), w, config, layerContext(config, layer, setup, capture, device, cancel), capture);
}

void captureLayerAttention(const LayerWeights& stored, at::ScalarType dtype, const ModelConfig& config,
    const at::Tensor& x, int64_t layer, const ForwardSetup& setup, LayerCapture& capture,
    const std::atomic<bool>* cancel)
{
    if (cancel && cancel->load())
        throw Cancelled();
    // Only what the maps need: converting the MLP (3 x d_ffn x d_model) would cost more than a head's maps, and the
    // values and output projection only feed the layer's output, which nobody reads here.
    LayerWeights mapsOnly = stored;
    for (at::Tensor* t : {&mapsOnly.ffnNorm, &mapsOnly.ffnNormBias, &mapsOnly.ffnPostNorm, &mapsOnly.w1, &mapsOnly.w2,
             &mapsOnly.w3, &mapsOnly.b1, &mapsOnly.b2, &mapsOnly.b3, &mapsOnly.wo, &mapsOnly.bo})
        *t = at::Tensor();
    const bool valueGates = config.hasCope() && !config.cope.sepKey && config.arch.copeValueGates;
    if (!valueGates) { // cope_val_gates read their gates from q.v
        mapsOnly.wv = at::Tensor();
        mapsOnly.bv = at::Tensor();
    }
    const LayerWeights w = computeLayer(mapsOnly, dtype);
    const at::Device device = layerDevice(w);
    ForwardSetup forTheseHeads = setup;
    forTheseHeads.budgetTile = setup.tileFor(config, x.size(1), dtype, device);
    AttentionContext ctx = layerContext(config, layer, forTheseHeads, &capture, device, cancel);
    ctx.mapsOnly = true;
    attend(attentionInput(x.to(device), w, config), w, config, ctx, &capture);
}

void captureKeptAttention(const KeptScores& kept, const LayerWeights& stored, const ModelConfig& config, int64_t layer,
    const std::vector<int64_t>& heads, const ForwardSetup& setup, LayerCapture& capture,
    const std::atomic<bool>* cancel)
{
    if (cancel && cancel->load())
        throw Cancelled();
    const at::Device device = kept.q.device(); // the layer's device: the pass kept them there
    ForwardSetup forTheseHeads = setup;
    forTheseHeads.budgetTile
        = setup.tileFor(configForChosenHeads(config, heads.size()), kept.q.size(2), kept.q.scalar_type(), device);
    captureFromKeptScores(kept, stored, config, layer, heads,
        layerContext(config, layer, forTheseHeads, &capture, device, cancel), capture);
}

at::Tensor finalLogits(const ModelWeights& weights, const ModelConfig& config, const at::Tensor& x, bool allPositions)
{
    const at::ScalarType dtype = weights.computeDtype;
    at::Tensor last = allPositions ? x : x.select(1, x.size(1) - 1);
    if (config.arch.block != BlockLayout::PostNorm) // post-norm blocks end normalised; there is no final norm
        last = blockNorm(weights.norm.defined() ? last.to(weights.norm.device()) : last, inDtype(weights.norm, dtype),
            inDtype(weights.normBias, dtype), config.arch.norm, config.normEps);
    // A tied head is the embedding table, on the first device: the last hidden state goes back there.
    at::Tensor logits = outputLogits(last.to(weights.output.device()), weights.output, dtype).to(at::kFloat);
    if (config.arch.finalSoftcap > 0.0)
        logits = at::tanh(logits / config.arch.finalSoftcap) * config.arch.finalSoftcap;
    return logits;
}

at::Tensor forward(const ModelWeights& weights, const ModelConfig& config, const at::Tensor& tokens,
    ForwardCapture* capture, const RunControl& control, bool allPositions)
{
    const ForwardSetup setup
        = forwardSetup(weights, config, tokens.size(0), tokens.size(1), capture ? capture->queryTile : 0);
    at::Tensor x = embed(weights, config, tokens);
    for (int64_t layer = 0; layer < config.nLayers; ++layer) {
        LayerCapture* layerCapture = nullptr;
        if (capture) {
            auto it = capture->layers.find(layer);
            if (it != capture->layers.end())
                layerCapture = &it->second;
        }
        x = runLayer(weights, config, x, layer, setup, layerCapture, control.cancel);
        if (control.onLayer)
            control.onLayer(layer + 1, config.nLayers);
    }
    return finalLogits(weights, config, x, allPositions);
}

} // namespace attn::engine
