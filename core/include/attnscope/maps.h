// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "attnscope/config.h"
#include "attnscope/status.h"

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace attn {

/**
 * @brief Kinds of per-head map the engine can capture. Rows are queries, columns keys.
 *
 * softmax: A (the attention). diff: A1, A2, LA2 = lambda*A2, D = A1 - lambda*A2 (signed; the
 * attention), DN = D/(1 - lambda). CoPE: G (gates), P (positions, after the npos clamp), B (position
 * logits q_i . e[p_ij]) and the final attention A (softmax+CoPE) or D (diff+CoPE); diff+CoPE has one
 * set per group: G1, P1, B1 from q1.k1 and G2, P2, B2 from q2.k2. S / S1 / S2: pre-softmax logits as
 * they enter the softmax (scaled, position terms added). Masked (future) cells are NaN in every kind.
 */
enum class MapKind { A, A1, A2, LA2, D, DN, G, P, B, G1, P1, B1, G2, P2, B2, S, S1, S2 };

std::string toString(MapKind kind);
Result<MapKind> parseMapKind(const std::string& text);
/** @brief The map kinds a model of this config has; logits kinds only when includeLogits. */
std::vector<MapKind> availableMapKinds(const ModelConfig& config, bool includeLogits);
/** @brief True for maps with signed values that need a diverging colour scale. */
bool isSignedMap(MapKind kind);

struct HeadRef {
    int64_t layer = 0;
    int64_t head = 0;
    bool operator==(const HeadRef& o) const { return layer == o.layer && head == o.head; }
};

/** @brief What to run and what to keep. Only the listed (layer, head) pairs are materialised. */
struct CaptureRequest {
    std::vector<int64_t> tokens;
    std::vector<HeadRef> heads;
    std::vector<MapKind> kinds;
};

/** @brief One captured map: rows x cols float32, row-major, NaN where masked. */
struct AttentionMap {
    int64_t layer = 0;
    int64_t head = 0;
    MapKind kind = MapKind::A;
    int64_t rows = 0;
    int64_t cols = 0;
    std::vector<float> values;
    float at(int64_t row, int64_t col) const { return values[static_cast<size_t>(row * cols + col)]; }
};

struct CaptureResult {
    std::vector<int64_t> tokens;
    /// lambda per layer as the model used it (after the cast to the compute dtype); empty for softmax.
    std::vector<double> lambda;
    std::vector<AttentionMap> maps;
    /// Next-token logits at the last position (vocab size), float32.
    std::vector<float> lastLogits;
    const AttentionMap* find(int64_t layer, int64_t head, MapKind kind) const;
};

} // namespace attn
