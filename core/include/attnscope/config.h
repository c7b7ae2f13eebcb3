// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "attnscope/status.h"

#include <cstdint>
#include <string>

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
enum class TokenizerType { Bytes, Word };

struct RopeConfig {
    double theta = 10000.0;
    RopeStyle style = RopeStyle::Interleaved;
    RopeFreqs freqs = RopeFreqs::Linspace;
};

struct CopeConfig {
    int64_t npos = 0; ///< number of integer positions with an embedding; 0 in a parsed config means max_seq_len + 1
    CopeScaling scaling = CopeScaling::Code;
    bool sepKey = false; ///< separate gate keys (cope_key_proj with bias)
    CopeRopeQuery ropeQuery = CopeRopeQuery::Rotated;
};

struct TokenizerConfig {
    TokenizerType type = TokenizerType::Bytes;
    std::string vocabFile; ///< word tokenizer: file in the model directory, one token per line, line = id
    bool lowercase = true; ///< word tokenizer
    bool addBos = true; ///< prepend the BOS token when encoding a prompt
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
    double normEps = 1e-5;
    bool tieEmbeddings = false;
    int64_t maxSeqLen = 0;
    AttentionKind attention = AttentionKind::Softmax;
    GqaSemantics gqa = GqaSemantics::Flash;
    PositionKind position = PositionKind::None;
    RopeConfig rope;
    CopeConfig cope;
    TokenizerConfig tokenizer;

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
Result<AttentionKind> parseAttentionKind(const std::string& text);
Result<PositionKind> parsePositionKind(const std::string& text);

/** @brief DIFF lambda_init(depth) = 0.8 - 0.6 exp(-0.3 depth), depth 0-based. */
double lambdaInit(int64_t depth);

} // namespace attn
