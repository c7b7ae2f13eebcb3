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

/// max keeps one-token spikes visible in an overview; mean shows average mass.
enum class PoolMode { Max, Mean };
std::string toString(PoolMode mode);
Result<PoolMode> parsePoolMode(const std::string& text);

/**
 * @brief Which part of every requested N x N map a capture returns.
 *
 * Full: the whole map (refused above kMaxFullMapTokens: a 64K^2 float map is 16 GiB). Overview: the map
 * reduced to at most overviewSize x overviewSize cells by pooling blocks of ceil(N/overviewSize)^2 cells, exactly
 * as poolMap() does on the full map. Window: exact values of queries [rowBegin, rowEnd) x keys [colBegin, colEnd).
 * Overviews and windows are reduced on the compute device, a query tile at a time.
 */
struct MapRegion {
    enum class Mode { Full, Overview, Window };
    Mode mode = Mode::Full;
    int64_t overviewSize = 1024;
    PoolMode pool = PoolMode::Max;
    int64_t rowBegin = 0, rowEnd = 0, colBegin = 0, colEnd = 0;

    static MapRegion full() { return {}; }
    static MapRegion overview(int64_t size, PoolMode pool = PoolMode::Max);
    static MapRegion window(int64_t rowBegin, int64_t rowEnd, int64_t colBegin, int64_t colEnd);
};

/// Full maps are refused above this many tokens; ask for an overview or a window instead.
constexpr int64_t kMaxFullMapTokens = 8192;

/** @brief What to run and what to keep. Only the listed (layer, head) pairs are materialised. */
struct CaptureRequest {
    std::vector<int64_t> tokens;
    std::vector<HeadRef> heads;
    std::vector<MapKind> kinds;
    MapRegion region;
    /// Query rows computed at once per layer (memory O(tile x N) per head); 0 picks one from a memory budget.
    /// tile >= N is the naive path: the whole N x N score matrix at once.
    int64_t queryTile = 0;
};

/**
 * @brief One captured map: rows x cols float32, row-major, NaN where masked.
 *
 * Cell (r, c) covers queries [rowBegin + r*rowBlock, +rowBlock) x keys [colBegin + c*colBlock, +colBlock) of the
 * full map (clipped at the sequence end): blocks are 1 for full maps and windows, >1 for pooled overviews.
 */
struct AttentionMap {
    int64_t layer = 0;
    int64_t head = 0;
    MapKind kind = MapKind::A;
    int64_t rows = 0;
    int64_t cols = 0;
    int64_t rowBegin = 0, colBegin = 0;
    int64_t rowBlock = 1, colBlock = 1;
    std::vector<float> values;
    float at(int64_t row, int64_t col) const { return values[static_cast<size_t>(row * cols + col)]; }
    /// First query / key token that cell row r / column c covers.
    int64_t firstQuery(int64_t r) const { return rowBegin + r * rowBlock; }
    int64_t firstKey(int64_t c) const { return colBegin + c * colBlock; }
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
