// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "attnscope/config.h"
#include "attnscope/maps.h"
#include "engine/cope.h"
#include "engine/map_collector.h"
#include "engine/rope.h"
#include "engine/torch_includes.h"

#include <atomic>
#include <functional>
#include <optional>
#include <stdexcept>
#include <vector>

namespace attn::engine {

/// One layer's tensors, on the compute device. Lambda vectors and pos_emb stay fp32 (the reference
/// computes lambda and the CoPE terms in fp32); everything else is in the compute dtype.
/// Tensors a family does not have stay undefined (biases, q/k norms, the sandwich norms, the diff subln weight).
struct LayerWeights {
    at::Tensor attentionNorm, attentionNormBias;
    at::Tensor wq, wk, wv, wo;
    at::Tensor bq, bk, bv, bo; // arch.qkvBias / arch.outBias
    at::Tensor qNorm, kNorm; // arch.qkNorm, [d]
    at::Tensor lambdaQ1, lambdaK1, lambdaQ2, lambdaK2; // diff
    at::Tensor subln; // diff; undefined = no weight (DiffLlama)
    at::Tensor posEmb; // cope, [1, d, npos]
    at::Tensor copeKeyW, copeKeyB; // cope with sep_key
    at::Tensor attentionPostNorm; // BlockLayout::Sandwich
    at::Tensor ffnNorm, ffnNormBias;
    at::Tensor ffnPostNorm; // BlockLayout::Sandwich
    at::Tensor w1, w2, w3; // w3 only for gated MLPs
    at::Tensor b1, b2, b3; // arch.mlpBias
};

/// Thrown between layers and query tiles when RunControl::cancel is set; a Status at the API boundary.
struct Cancelled : std::runtime_error {
    Cancelled()
        : std::runtime_error("cancelled")
    {
    }
};

/// Per-forward state every attention layer needs.
struct AttentionContext {
    const ModelConfig& config;
    int64_t layer = 0;
    const RopeTables* rope = nullptr; ///< set when the model uses RoPE
    /// Query rows per tile: a tile holds heads x tile x N scores, never N x N. >= N: one tile (naive path).
    int64_t queryTile = 0;
    const std::atomic<bool>* cancel = nullptr;
    /// The caller wants the maps only, not the layer's output: V, the weighted sum and the output projection are
    /// skipped (half the work of a head switch) and attention returns an undefined tensor.
    bool mapsOnly = false;
};

/// Something besides the map collector that consumes a layer's tiles as they pass (per-head statistics, thumbnails).
class TileObserver {
public:
    virtual ~TileObserver() = default;
    virtual bool wants(MapKind kind) const = 0;
    /// A tile [B, H, t, q1] of map `kind` for every head of the layer (rows q0..q0+t); masked cells hold junk.
    virtual void add(MapKind kind, const at::Tensor& perHead, int64_t q0) = 0;
    /// Query tiles must start at multiples of this (1 = any tile).
    virtual int64_t rowAlignment() const { return 1; }
};

/**
 * @brief One layer's queries and keys as its attention computed them (projected, normed, rotated), before the GQA
 * expansion: what a later request needs to recompute any head's scores without the projections. Softmax: q [B, H, T,
 * d], k [B, Hkv, T, d]; diff: sub-heads 2H and 2Hkv. copeKey: separate gate keys (or the values for cope_val_gates),
 * undefined without them; copeQuery: the query CoPE's z = q.E uses.
 */
struct KeptScores {
    at::Tensor q, k, copeKey, copeQuery;
    bool kept() const { return q.defined(); }
    /// Bytes held (a tensor shared by two fields counts once).
    int64_t bytes() const;
};

/// What one captured layer hands out: its maps (through the collector, a tile at a time), what the observers
/// take from the same tiles, and lambda (diff).
struct LayerCapture {
    explicit LayerCapture(MapCollector c)
        : collector(std::move(c))
    {
    }
    MapCollector collector;
    std::vector<TileObserver*> observers; ///< not owned
    std::optional<double> lambda;
    KeptScores* keepScores = nullptr; ///< when set, the attention stores its queries and keys here (not owned)
    /// Tiles must start at a multiple of every consumer's alignment.
    int64_t rowAlignment() const;
};

/// RMSNorm as the reference computes it: in fp32, cast back to x's dtype, then times the weight (if defined).
at::Tensor rmsNorm(const at::Tensor& x, const at::Tensor& weight, double eps);
/// The block norm a family uses (NormKind): RMSNorm, Gemma's (1 + w) RMSNorm in fp32, or LayerNorm with bias.
at::Tensor blockNorm(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, NormKind kind, double eps);

/// Softmax attention (optionally with RoPE and/or CoPE). h: [B, T, D] -> [B, T, D]. capture may be null.
at::Tensor softmaxAttention(
    const at::Tensor& h, const LayerWeights& w, const AttentionContext& ctx, LayerCapture* capture);

/// Differential attention V1 (diff-attention.md 1.3), optionally with CoPE per group.
at::Tensor diffAttention(
    const at::Tensor& h, const LayerWeights& w, const AttentionContext& ctx, LayerCapture* capture);

/// lambda = exp(lq1 . lk1) - exp(lq2 . lk2) + lambda_init(depth), in fp32 (0-dim tensor).
at::Tensor diffLambda(const LayerWeights& w, int64_t depth);

/// kv sub-head index read by each q sub-head 2h+g (diff-attention.md 1.4).
std::vector<int64_t> diffKeySubHeadIndex(int64_t nHeads, int64_t nKvHeads, GqaSemantics gqa);

/// [B, T, n*d] -> [B, n, T, d]
at::Tensor splitHeads(const at::Tensor& x, int64_t n, int64_t d);

/// True when the collector wants this kind (so it is worth computing).
bool wants(const LayerCapture* capture, MapKind kind);
/// Hands a tile [B, H, t, q0 + t] of map `kind` to the collector if it wants that kind.
void keepTile(LayerCapture* capture, MapKind kind, const at::Tensor& perHead, int64_t q0);

/// One layer's queries and keys as both attention kinds prepare them: projected, rotated, GQA-expanded.
struct ScoreInputs {
    at::Tensor q; ///< [B, Hs, T, d], Hs = query heads (softmax) or sub-heads (diff)
    at::Tensor k; ///< [B, Hs, T, d], expanded to the query (sub-)heads
    at::Tensor copeKey; ///< separate CoPE gate keys (cope.sepKey), else undefined
    at::Tensor copeQuery; ///< the query CoPE's z = q.E uses (rotated or not, per config)
};

/// Query tile [q0, q1) against keys 0..q1: scaled logits plus the CoPE term, masked with -inf.
struct TileScores {
    at::Tensor logits; ///< [B, Hs, t, q1]
    at::Tensor future; ///< bool [t, q1], true where key > query
    std::optional<CopeTerms> cope; ///< when the model has CoPE
};
/// nanToNum: the official diff module applies nan_to_num to q.k before anything else.
TileScores tileScores(const ScoreInputs& in, const LayerWeights& w, const ModelConfig& c, int64_t layer, int64_t q0,
    int64_t q1, bool nanToNum);

/// One query tile of softmax attention: the scores' maps (S, G, P, B, A) go to the capture; returns A [B, Hs, t, q1].
at::Tensor softmaxTile(const ScoreInputs& in, const LayerWeights& w, const ModelConfig& c, int64_t layer, int64_t q0,
    int64_t q1, at::ScalarType dtype, LayerCapture* capture);
/// One query tile of differential attention: every map (S1 S2 G1 ... A1 A2 LA2 D DN) goes to the capture; returns
/// D = A1 - lambda A2 [B, H, t, q1]. lambdaFull: lambda in the compute dtype (0-dim); lambda: the same as a double.
at::Tensor diffTile(const ScoreInputs& in, const LayerWeights& w, const ModelConfig& c, int64_t layer, int64_t q0,
    int64_t q1, at::ScalarType dtype, const at::Tensor& lambdaFull, double lambda, LayerCapture* capture);

/**
 * @brief The maps of some heads of a layer from its kept queries and keys (no projection runs): heads' tiles go to
 * `capture` as [B, heads.size(), t, q1], in the order of `heads`. The same tensors and tile code as the pass that
 * kept them, so the maps are the same.
 */
void captureFromKeptScores(const KeptScores& kept, const LayerWeights& stored, const ModelConfig& config, int64_t layer,
    const std::vector<int64_t>& heads, const AttentionContext& ctx, LayerCapture& capture);
/// The config a kept-scores capture of `headCount` heads runs under: after the selection every chosen head has its
/// own keys, and the tile's rows are sized for these heads only.
ModelConfig configForChosenHeads(const ModelConfig& config, size_t headCount);

/// The factor q.k is multiplied by: 1/sqrt(d), or the family's own (Gemma 2, GPT-2's per-layer scaling).
double scoreScale(const ModelConfig& c, int64_t layer);
/// Whether a layer can take the fused kernel: plain causal softmax with the default scale, nothing captured.
bool fusedAttentionApplies(const ModelConfig& c, int64_t layer, int64_t seqLen, const LayerCapture* capture);
/// Projection with an optional bias (undefined = none).
at::Tensor project(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias);
/// Qwen3's per-head q/k RMSNorm over head_dim (before RoPE), [B, n, T, d]; x unchanged when norm is undefined.
at::Tensor headNorm(const at::Tensor& x, const at::Tensor& norm, double eps);

/// Calls f(q0, q1) for the query tiles [q0, q1) covering 0..seqLen, checking for cancellation before each.
void forEachQueryTile(int64_t seqLen, const AttentionContext& ctx, const std::function<void(int64_t, int64_t)>& f);

/// Whether this LibTorch has fused causal attention (scaled_dot_product_attention, 2.x) for uncaptured layers.
bool haveFusedAttention();
/// Fused causal softmax attention: q, k [B, H, T, d], v [B, H, T, dv] -> [B, H, T, dv], scale 1/sqrt(d).
at::Tensor fusedCausalAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v);

/// Causal mask: bool [T, T], true where key j > query i.
at::Tensor futureMask(int64_t seqLen, const at::Device& device);

} // namespace attn::engine
