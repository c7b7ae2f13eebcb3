// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "attnscope/maps.h"
#include "attnscope/status.h"

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

namespace attn {

/**
 * @file
 * @brief Per-head noise metrics and the DIFF paper's attention-to-answer protocol (docs/metrics.md).
 *
 * Conventions shared by every function here:
 * - Maps are causal and square (rows == cols == N, row = query, column = key); row i sees keys 0..i.
 *   Cells right of the diagonal are ignored whatever they hold; a visible cell that is not finite is
 *   an error (it means a broken capture, and one NaN would otherwise poison every average).
 * - The head's "attention" w is A for softmax heads (A1 / A2 are accepted too: they are softmax rows)
 *   and DN = D / (1 - lambda) for DIFF heads, so every row sums to 1 (DIFF rows may hold negative
 *   weights). A D map is divided by 1 - lambda here, which needs a finite lambda != 1; a DN map is used
 *   as it is. For A / A1 / A2 the lambda argument is ignored.
 * - Averages "over rows" are plain means over all N query rows unless a definition says otherwise;
 *   row i contributes its i + 1 visible keys.
 */

constexpr double kNoMetric = std::numeric_limits<double>::quiet_NaN();

/**
 * @brief One head's summary numbers (product feature 10). NaN = the metric does not apply.
 *
 * With w the attention defined above and |w| its absolute value:
 * - entropy: mean over rows of -sum_j p_ij ln p_ij (nats), p_ij = |w_ij| / sum_j |w_ij|. Taking |w|
 *   makes signed DIFF rows a distribution; for softmax rows p = w. 0 ln 0 = 0. Uniform causal
 *   attention gives ln(i + 1) on row i.
 * - sinkMass: mean over rows i >= 1 of w_i0, the mass on the first token. Row 0 is left out because it
 *   can only see itself (its w_00 is 1 whatever the head does). NaN for a 1-token map.
 * - maxWeight: mean over rows of max_j w_ij (the largest signed weight; for DIFF a negative cell never
 *   wins over a positive one).
 * - meanDistance: mean over rows of sum_j |w_ij| (i - j) / sum_j |w_ij|, in tokens (0 = attends to
 *   itself). Rows with sum_j |w_ij| = 0 have no distribution and are left out of entropy and
 *   meanDistance (NaN if every row is such).
 * - negativeMass (DIFF only): mean over rows of -sum_j min(0, DN_ij), a magnitude >= 0.
 * - lambda (DIFF only): the lambda passed in (the layer's, as the model used it), NaN for softmax.
 * - meanGate (CoPE only): mean of G over the N (N + 1) / 2 visible cells; diff+CoPE averages the
 *   per-group means of G1 and G2.
 * - gateRowSum (CoPE only): mean over rows of sum_j G_ij, i.e. of P[i][0] before the npos clamp;
 *   diff+CoPE averages the two groups.
 */
struct HeadMetrics {
    int64_t layer = 0;
    int64_t head = 0;
    double entropy = kNoMetric;
    double sinkMass = kNoMetric;
    double maxWeight = kNoMetric;
    double meanDistance = kNoMetric;
    double negativeMass = kNoMetric;
    double lambda = kNoMetric;
    double meanGate = kNoMetric;
    double gateRowSum = kNoMetric;
};

/**
 * @brief Computes HeadMetrics for one head.
 *
 * @param layer, head  labels copied into the result (the maps' own layer/head fields are not read, so
 *                     hand-built maps need not fill them).
 * @param attention    kind A, A1, A2 (softmax), D or DN (DIFF); square, values.size() == rows * cols.
 * @param lambda       the layer's lambda for D / DN (required, finite and != 1 for D; may be NaN for
 *                     DN, then the lambda field is NaN); ignored for softmax kinds.
 * @param gates        empty (no CoPE), {G} (softmax+CoPE) or {G1, G2} (diff+CoPE), same shape as
 *                     attention; null pointers are errors.
 */
Result<HeadMetrics> computeHeadMetrics(int64_t layer, int64_t head, const AttentionMap& attention, double lambda,
    const std::vector<const AttentionMap*>& gates);

/**
 * @brief Mass that query rows put on a marked span versus noise (product feature 11; DIFF paper
 * Table 3 / Figure 1, reconstructed as in diff-attention.md section 5.2 and docs/metrics.md).
 *
 * For one row i, with w the attention (DN for DIFF) and only visible keys j <= i counted, the visible
 * keys are split into four disjoint parts:
 * - toSpan: keys in [spanBegin, spanEnd) (the answer);
 * - sink:   key 0 (BOS / first token) unless the span contains it;
 * - noise:  keys in [1, noiseEnd) outside the span (context before and after the answer);
 * - rest:   every other visible key, i.e. [noiseEnd, i] outside the span (the question / query
 *           segment, which the paper keeps out of noise) = sum_visible - toSpan - sink - noise.
 * For softmax and DN rows the four parts sum to 1. Fields are means over the chosen rows.
 */
struct SpanAttention {
    double toSpan = kNoMetric;
    double noise = kNoMetric;
    double sink = kNoMetric;
    double rest = kNoMetric;
    /// How many query rows were averaged (for aggregates: summed over the inputs).
    int64_t rows = 0;
};

/**
 * @param attention  kind A, A1, A2, D or DN, square (lambda as for computeHeadMetrics).
 * @param queryRows  rows to average, each in [0, rows); empty = the last token only (the position that
 *                   generates the answer). Duplicates count twice.
 * @param spanBegin, spanEnd  the answer span [spanBegin, spanEnd) in key positions, non-empty, within
 *                   [0, cols]. A query row before the span sees none of it (toSpan = 0 for that row).
 * @param noiseEnd   first key of the question/query segment, in [0, cols]; -1 = no query segment (all
 *                   visible keys except sink and span are noise).
 */
Result<SpanAttention> spanAttention(const AttentionMap& attention, double lambda, std::vector<int64_t> queryRows,
    int64_t spanBegin, int64_t spanEnd, int64_t noiseEnd);

/**
 * @brief Field-wise mean over heads (rows: the sum). An empty input gives NaN fields and rows = 0.
 */
SpanAttention averageSpanAttention(const std::vector<SpanAttention>& heads);

/**
 * @brief The paper's aggregation: mean over the heads of each layer, then mean over layers (so every
 * layer weighs the same whatever its head count). Errors on no layers or a layer with no heads.
 */
Result<SpanAttention> paperAverage(const std::map<int64_t /*layer*/, std::vector<SpanAttention>>& byLayer);

/**
 * @brief CSV of head metrics: a header row
 * `layer,head,entropy,sink_mass,max_weight,mean_distance,negative_mass,lambda,mean_gate,gate_row_sum`
 * then one row per head; numbers as %.9g, NaN as an empty cell, "\n" line ends.
 */
std::string metricsCsv(const std::vector<HeadMetrics>& metrics);

/**
 * @brief JSON array with one object per head, keys as in metricsCsv's header; NaN / infinity -> null.
 * Pretty-printed with 2-space indent and a trailing newline.
 */
std::string metricsJson(const std::vector<HeadMetrics>& metrics);

/**
 * @brief CSV of one map: first row is an empty corner cell then the key tokens' labels; then one row
 * per query, its label first. Values %.9g (float round-trip), NaN (masked) cells empty. Labels are
 * CSV-escaped (fields with a comma, quote, CR or LF are quoted, quotes doubled). Query row r is token
 * cols - rows + r (r for square maps). A token without a label (tokenLabels too short) is labelled by
 * its index; missing values (values shorter than rows * cols) are written as empty cells.
 */
std::string mapCsv(const AttentionMap& map, const std::vector<std::string>& tokenLabels);

/** @brief One CSV field, escaped as mapCsv does. */
std::string csvEscape(const std::string& field);

} // namespace attn
