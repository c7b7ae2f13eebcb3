// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "attnscope/config_defaults.h"
#include "attnscope/status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace attn {

enum class AttentionKind { Softmax, Diff };
enum class PositionKind { None, Learned, Rope, Cope, RopeCope };

/// interleaved = GPT-J pairs (2i, 2i+1) as in DIFF's kernel; rotate_half = LLaMA halves (i, i + d/2).
enum class RopeStyle { Interleaved, RotateHalf };
/// linspace: angle_i = theta^-linspace(0,1,d/2)_i (YOCO, endpoint included);
/// standard: angle_i = theta^-(2i/d).
enum class RopeFreqs { Linspace, Standard };
/// code: logits = (q.k + pos)/sqrt(d) (official repo default); appendix: q.k/sqrt(d) + pos.
enum class CopeScaling { Code, Appendix };
/// rope+cope only: whether the position logits z = q.e use the rotated or the un-rotated query.
enum class CopeRopeQuery { Rotated, Unrotated };
/// diff + GQA only: flash = sub-head (h,g) reads kv sub-head (h / n_rep, g) (what the authors train with);
/// naive = repeat_kv over sub-heads as in multihead_diffattn.py.
enum class GqaSemantics { Flash, Naive };
/// HuggingFace: tokenizer.json (+ tokenizer_config.json) in the model folder. Checkpoint: a word vocabulary
/// stored inside a .pt checkpoint (the CoPE paper's code).
enum class TokenizerType { Bytes, Word, HuggingFace, Checkpoint };

/// Hugging Face RoPE scaling types (interop.md 1.6); None = the plain frequency table.
enum class RopeScalingType { None, Linear, Dynamic, Llama3, Yarn, LongRope };

/// The parameters of a RoPE scaling type, as config.json's rope_scaling / rope_parameters give them.
struct RopeScaling {
    RopeScalingType type = RopeScalingType::None;
    double factor = 1.0;
    int64_t originalMaxPositions = 0; ///< llama3, yarn, longrope
    int64_t maxPositions = 0; ///< the model's max_position_embeddings (dynamic, yarn's defaults, longrope)
    double lowFreqFactor = 1.0, highFreqFactor = 4.0; ///< llama3
    double betaFast = 32.0, betaSlow = 1.0; ///< yarn
    double mscale = 0.0, mscaleAllDim = 0.0; ///< yarn; 0 = absent
    bool truncate = true; ///< yarn
    double attentionFactor = 0.0; ///< yarn, longrope: cos/sin multiplier; 0 = the type's default
    std::vector<double> shortFactor, longFactor; ///< longrope, rotaryDim / 2 each
};

struct RopeConfig {
    double theta = configDefault("attnscope", "rope.theta");
    RopeStyle style = RopeStyle::Interleaved;
    RopeFreqs freqs = RopeFreqs::Linspace;
    int64_t rotaryDim = 0; ///< features per head that rotate (the first rotaryDim); 0 = all of head_dim
    RopeScaling scaling;
};

struct CopeConfig {
    int64_t npos = 0; ///< number of integer positions with an embedding; 0 in a parsed config means max_seq_len + 1
    CopeScaling scaling = CopeScaling::Code;
    bool sepKey = configDefault("attnscope", "cope.sep_key") != 0.0; ///< separate gate keys (cope_key_proj with bias)
    CopeRopeQuery ropeQuery = CopeRopeQuery::Rotated;
};

/// Block normalisation. RmsNormPlusOne is Gemma's: x_f32 * rsqrt(...) * (1 + w_f32), cast after the multiply.
enum class NormKind { RmsNorm, RmsNormPlusOne, LayerNorm };
/// PreNorm: x += f(norm(x)). PostNorm (the CoPE paper's code): x = norm(x + f(x)), no final norm.
/// Sandwich (Gemma 2): x += post_norm(f(pre_norm(x))) for attention and MLP alike.
enum class BlockLayout { PreNorm, PostNorm, Sandwich };
/// SwiGLU w2(silu(w1 x) * w3 x); GeGLU with tanh-approximated GELU (Gemma); plain w2(act(w1 x)) with GELU-tanh
/// (GPT-2's gelu_new) or ReLU (the CoPE paper's code).
enum class MlpKind { SwiGlu, GeGluTanh, GeluTanh, Relu };

/**
 * @brief The parts of a block that differ between model families (attnscope's own models use the defaults).
 * Filled by the Hugging Face and .pt importers (docs/model-format.md); attnscope's config.json has none of them.
 */
struct ArchitectureConfig {
    std::string family = "attnscope"; ///< where the model comes from: attnscope, llama, qwen2, gpt2, ram-cope, ...
    NormKind norm = NormKind::RmsNorm;
    BlockLayout block = BlockLayout::PreNorm;
    MlpKind mlp = MlpKind::SwiGlu;
    bool qkvBias = false; ///< q/k/v projections have biases
    bool outBias = false; ///< the output projection has a bias
    bool mlpBias = false;
    bool qkNorm = false; ///< Qwen3: RMSNorm over head_dim of every q and k head, before RoPE
    double embedScale = 1.0; ///< Gemma: embeddings times sqrt(d_model), rounded to the compute dtype
    double attnScale = 0.0; ///< score scale; 0 = 1/sqrt(head_dim)
    bool scaleByInverseLayer = false; ///< GPT-2 scale_attn_by_inverse_layer_idx: scores / (layer + 1)
    double attnSoftcap = 0.0; ///< Gemma 2: S = cap * tanh(S / cap) before the mask; 0 = none
    double finalSoftcap = 0.0; ///< Gemma 2: logits = cap * tanh(logits / cap); 0 = none
    int64_t slidingWindow = 0; ///< keys i - W < j <= i are visible on sliding layers; 0 = none
    std::vector<bool> slidingLayers; ///< per layer; empty = no sliding layer
    double sublnEps = 1e-5; ///< diff: the per-head RMSNorm's eps (the official module: 1e-5; DiffLlama: rms_norm_eps)
    bool copeValueGates = false; ///< CoPE gates from q.v instead of q.k (the CoPE code's cope_val_gates)

    bool slidingAt(int64_t layer) const
    {
        return slidingWindow > 0 && layer >= 0 && layer < static_cast<int64_t>(slidingLayers.size())
            && slidingLayers[static_cast<size_t>(layer)];
    }
};

struct TokenizerConfig {
    TokenizerType type = TokenizerType::Bytes;
    std::string vocabFile; ///< word tokenizer: file in the model directory, one token per line, line = id
    bool lowercase = configDefault("attnscope", "tokenizer.lowercase") != 0.0; ///< word tokenizer
    bool addBos = configDefault("attnscope", "tokenizer.add_bos.bytes") != 0.0; ///< prepend BOS (bytes: yes)
};

/**
 * @brief Everything config.json says about a model (see docs/model-format.md).
 *
 * For attention == Diff, n_heads counts differential heads, head_dim is the per-group q/k width d
 * and each head's value/output width is 2d (diff-attention.md 1.1).
 */
struct ModelConfig {
    int64_t vocabSize = 0;
    int64_t dModel = 0;
    int64_t nLayers = 0;
    int64_t nHeads = 0;
    int64_t nKvHeads = 0;
    int64_t headDim = 0;
    int64_t ffnHidden = 0;
    double normEps = configDefault("attnscope", "norm_eps");
    bool tieEmbeddings = configDefault("attnscope", "tie_embeddings") != 0.0;
    int64_t maxSeqLen = 0;
    AttentionKind attention = AttentionKind::Softmax;
    GqaSemantics gqa = GqaSemantics::Flash;
    PositionKind position = PositionKind::None;
    RopeConfig rope;
    CopeConfig cope;
    TokenizerConfig tokenizer;
    ArchitectureConfig arch;

    bool hasRope() const { return position == PositionKind::Rope || position == PositionKind::RopeCope; }
    bool hasCope() const { return position == PositionKind::Cope || position == PositionKind::RopeCope; }
    bool isDiff() const { return attention == AttentionKind::Diff; }
    /// q/k sub-heads per token: 2H for diff, H for softmax.
    int64_t qSubHeads() const { return isDiff() ? 2 * nHeads : nHeads; }
    /// width of one head's value / output slice: 2d for diff, d for softmax.
    int64_t valueHeadDim() const { return isDiff() ? 2 * headDim : headDim; }
};

/** @brief Parses config.json text. Unknown fields and values are errors. Fills cope.npos default. */
Result<ModelConfig> parseConfig(const std::string& jsonText);
/** @brief Reads and parses a config.json file. */
Result<ModelConfig> loadConfig(const std::string& path);
/** @brief Serialises to the config.json format (pretty-printed, stable key order). */
std::string configToJson(const ModelConfig& config);
/** @brief Checks sizes and combinations (positive sizes, n_heads % n_kv_heads == 0, rope dims even, ...). */
Status validateConfig(const ModelConfig& config);

std::string toString(AttentionKind kind);
std::string toString(PositionKind kind);
std::string toString(RopeStyle style);
std::string toString(RopeFreqs freqs);
std::string toString(CopeScaling scaling);
std::string toString(CopeRopeQuery query);
std::string toString(GqaSemantics gqa);
std::string toString(TokenizerType type);
std::string toString(RopeScalingType type);
std::string toString(NormKind kind);
std::string toString(BlockLayout layout);
std::string toString(MlpKind kind);
Result<AttentionKind> parseAttentionKind(const std::string& text);
Result<PositionKind> parsePositionKind(const std::string& text);

/** @brief DIFF lambda_init(depth) = 0.8 - 0.6 exp(-0.3 depth), depth 0-based. */
double lambdaInit(int64_t depth);

} // namespace attn
