// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "attnscope/maps.h"
#include "attnscope/metrics.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

namespace at {
class Tensor;
} // namespace at

namespace attn::engine {

/// spanAttention()'s question (docs/metrics.md), asked of every head of a layer while its tiles pass.
struct SpanQuery {
    std::vector<int64_t> queryRows; ///< rows to average, duplicates count twice; empty = the last token
    int64_t spanBegin = 0, spanEnd = 0; ///< the answer [spanBegin, spanEnd) in key positions
    int64_t noiseEnd = -1; ///< first key of the question segment; -1 = none
};

/**
 * @brief Per-head metrics (HeadMetrics) and span numbers (SpanAttention) of one layer, computed from its query
 * tiles as the attention code produces them, without ever holding a full map.
 *
 * Tiles are what MapCollector::add() receives: [B, heads, t, q0 + t] for query rows q0..q0+t-1 and keys
 * 0..q0+t-1 (batch element 0 is used, cells with key > query may hold anything), in any dtype, on any device,
 * of any height, in any order, each row exactly once. Every per-row reduction runs on the tile's device (fp32
 * within a row, fp64 across rows); only O(heads) numbers are kept between tiles and nothing is copied to the
 * host before metrics() / spans(). The results equal computeHeadMetrics() / spanAttention() on the full maps up
 * to fp32 rounding within a row (about 1e-7 relative).
 *
 * Errors (bad arguments, a tile that does not fit, missing rows, a non-finite visible cell as
 * computeHeadMetrics() reports it) are thrown as std::invalid_argument / std::runtime_error with a message
 * naming what is wrong; the engine turns them into a Status at its API boundary.
 */
class HeadStatsCollector {
public:
    /**
     * @param seqLen      N, the number of query rows (= keys) of the layer's maps; >= 1.
     * @param heads       heads per tile; >= 1.
     * @param attention   the kind addAttention() receives: A, A1, A2 (softmax rows) or D (rows divided by
     *                    1 - lambda, which must then be finite and != 1) or DN (used as it is).
     * @param lambda      the layer's lambda for D / DN (reported in HeadMetrics::lambda); may be NaN until
     *                    setLambda() for D. Ignored for softmax kinds.
     * @param gateGroups  CoPE gate maps per head: 0, 1 (G) or 2 (G1, G2 of diff+CoPE).
     * @param span        when set, spans() answers it (validated here as spanAttention() does).
     */
    HeadStatsCollector(int64_t seqLen, int64_t heads, MapKind attention, double lambda, int64_t gateGroups,
        std::optional<SpanQuery> span = std::nullopt);
    ~HeadStatsCollector();
    HeadStatsCollector(HeadStatsCollector&&) noexcept;
    HeadStatsCollector& operator=(HeadStatsCollector&&) noexcept;

    /// The layer's lambda, for when the collector exists before the layer computes it; before the first tile.
    void setLambda(double lambda);

    /// Rows [q0, q0 + t) of the attention map of every head: tile [B, heads, t, q0 + t].
    void addAttention(const at::Tensor& tile, int64_t q0);
    /// Rows [q0, q0 + t) of gate map `group` (0 = G or G1, 1 = G2), shaped like attention tiles.
    void addGates(int64_t group, const at::Tensor& tile, int64_t q0);

    /// Whether every row of the attention map and of every gate group has been added.
    bool complete() const;
    /// One HeadMetrics per head (head = 0..heads-1, layer as given); throws unless complete().
    std::vector<HeadMetrics> metrics(int64_t layer) const;
    /// One SpanAttention per head; empty when no span was asked. Throws unless every attention row was added.
    std::vector<SpanAttention> spans() const;

private:
    struct State;
    std::unique_ptr<State> m;
};

} // namespace attn::engine
