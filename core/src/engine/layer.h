// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "attnscope/config.h"
#include "attnscope/maps.h"
#include "engine/rope.h"
#include "engine/torch_includes.h"

#include <map>
#include <optional>
#include <vector>

namespace attn::engine {

/// One layer's tensors, on the compute device. Lambda vectors and pos_emb stay fp32 (the reference
/// computes lambda and the CoPE terms in fp32); everything else is in the compute dtype.
struct LayerWeights {
    at::Tensor attentionNorm;
    at::Tensor wq, wk, wv, wo;
    at::Tensor lambdaQ1, lambdaK1, lambdaQ2, lambdaK2; // diff
    at::Tensor subln; // diff
    at::Tensor posEmb; // cope, [1, d, npos]
    at::Tensor copeKeyW, copeKeyB; // cope with sep_key
    at::Tensor ffnNorm;
    at::Tensor w1, w2, w3;
};

/// Per-forward state every attention layer needs.
struct AttentionContext {
    const ModelConfig& config;
    int64_t layer = 0;
    const RopeTables* rope = nullptr; ///< set when the model uses RoPE
    at::Tensor future; ///< bool [T, T], true where key > query
};

/// Which maps one layer should hand out; kinds are checked against the config beforehand.
struct LayerMapRequest {
    std::vector<MapKind> kinds;
    bool wants(MapKind kind) const;
};

/// What an attention layer hands out for capture: per kind, [H, T, T] for batch element 0 (all heads;
/// the caller slices the requested ones), plus lambda for diff layers.
struct LayerMaps {
    std::map<MapKind, at::Tensor> maps;
    std::optional<double> lambda;
};

/// RMSNorm as the reference computes it: in fp32, cast back to x's dtype, then times the weight.
at::Tensor rmsNorm(const at::Tensor& x, const at::Tensor& weight, double eps);

/// Softmax attention (optionally with RoPE and/or CoPE). h: [B, T, D] -> [B, T, D].
at::Tensor softmaxAttention(const at::Tensor& h, const LayerWeights& w, const AttentionContext& ctx,
    const LayerMapRequest* request, LayerMaps* out);

/// Differential attention V1 (diff-attention.md 1.3), optionally with CoPE per group.
at::Tensor diffAttention(const at::Tensor& h, const LayerWeights& w, const AttentionContext& ctx,
    const LayerMapRequest* request, LayerMaps* out);

/// lambda = exp(lq1 . lk1) - exp(lq2 . lk2) + lambda_init(depth), in fp32 (0-dim tensor).
at::Tensor diffLambda(const LayerWeights& w, int64_t depth);

/// kv sub-head index read by each q sub-head 2h+g (diff-attention.md 1.4).
std::vector<int64_t> diffKeySubHeadIndex(int64_t nHeads, int64_t nKvHeads, GqaSemantics gqa);

/// [B, T, n*d] -> [B, n, T, d]
at::Tensor splitHeads(const at::Tensor& x, int64_t n, int64_t d);

/// Stores batch element 0 of a per-head tensor [B, H, T, T] under `kind` if the request wants it.
void keepMap(LayerMaps* out, const LayerMapRequest* request, MapKind kind, const at::Tensor& perHead);

/// Causal mask: bool [T, T], true where key j > query i.
at::Tensor futureMask(int64_t seqLen, const at::Device& device);

} // namespace attn::engine
