// SPDX-License-Identifier: GPL-3.0-or-later
// Head metrics from query tiles. Definitions: attnscope/metrics.h and docs/metrics.md; computeHeadMetrics() and
// spanAttention() in core/src/metrics.cpp are the host reference this must equal.
//
// A tile's rows are reduced to a few numbers per row on its device, and those to a few per head. The tile is
// split into its rectangle (keys 0..q0-1: every cell visible) and its t x t triangle (keys q0..q0+t-1: the
// causal edge): the rectangle, almost all of a tile at long N, needs no mask at all. D tiles are reduced as
// they are and scaled per row (by s = 1 / (1 - lambda)), which turns into a max or a min and a negative or a
// positive part depending on the sign of s; entropy and distance do not depend on a row's scale.
#include "engine/head_stats.h"

#include "engine/torch_includes.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace attn::engine {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

/// Columns of the per-head accumulator (fp64, [heads, kColumns], on the tiles' device).
enum Column : int64_t {
    kEntropy, ///< sum over rows with mass of the row entropy
    kDistance, ///< the same rows' mean distances
    kDistributionRows, ///< how many rows had mass (sum |w| > 0)
    kMax, ///< sum over rows of max_j w
    kNegative, ///< sum over rows of -sum_j min(0, w)
    kSink, ///< sum over rows >= 1 of w_i0
    kMassCheck, ///< sum over rows of sum_j |x|: not finite iff a visible cell was not finite
    kColumns
};

/// Span segments, in the order spanAttention() reports them.
enum Segment : int64_t { kToSpan, kSinkKey, kNoise, kRest, kSegments };

bool isSoftmaxKind(MapKind kind)
{
    return kind == MapKind::A || kind == MapKind::A1 || kind == MapKind::A2;
}

void require(bool ok, const std::string& message)
{
    if (!ok)
        throw std::invalid_argument(message);
}

std::string rowRange(int64_t q0, int64_t q1)
{
    return "rows [" + std::to_string(q0) + ", " + std::to_string(q1) + ")";
}

/// Which rows of an N-row map were added; each exactly once.
class RowCoverage {
public:
    explicit RowCoverage(int64_t rows)
        : m_seen(static_cast<size_t>(rows), false)
    {
    }
    void add(int64_t q0, int64_t q1, const std::string& what)
    {
        for (int64_t r = q0; r < q1; ++r)
            require(!m_seen[static_cast<size_t>(r)], what + ": row " + std::to_string(r) + " was added twice");
        std::fill(m_seen.begin() + q0, m_seen.begin() + q1, true);
        m_count += q1 - q0;
    }
    bool complete() const { return m_count == static_cast<int64_t>(m_seen.size()); }
    int64_t firstMissing() const
    {
        return static_cast<int64_t>(std::find(m_seen.begin(), m_seen.end(), false) - m_seen.begin());
    }

private:
    std::vector<bool> m_seen;
    int64_t m_count = 0;
};

/// Float [H, t, k] with the cells a row must not count set to 0: batch element 0 of the tile, keys [k0, k0 + k).
at::Tensor floatPart(const at::Tensor& batch0, int64_t k0, int64_t k)
{
    return batch0.narrow(2, k0, k).to(at::kFloat);
}

/// Per-row sums of one part of a tile ([H, t] each, fp32).
struct PartRows {
    at::Tensor mass; ///< sum |x|
    at::Tensor xlogx; ///< sum |x| ln |x| (0 ln 0 = 0)
    at::Tensor distance; ///< sum |x| (i - j)
    at::Tensor extreme; ///< max x (or min x when the row scale is negative); visible cells only
    at::Tensor signedPart; ///< sum min(0, x) (or max(0, x) when the row scale is negative); diff only
};

/// @param x        [H, t, k] fp32, masked cells 0
/// @param extremeX the same with masked cells set to -inf (+inf when taking minima)
/// @param distance [t, k] fp32, i - j for visible cells
PartRows reduceRows(
    const at::Tensor& x, const at::Tensor& extremeX, const at::Tensor& distance, bool negativeScale, bool diff)
{
    PartRows out;
    const at::Tensor a = x.abs();
    out.mass = a.sum(-1);
    // |x| ln |x| with 0 ln 0 = 0: clamping at the smallest normal float turns 0 ln 0 into 0 x (-87.3) = 0 and
    // moves subnormal cells by less than 1e-36. (at::xlogy does the same exactly but is a scalar loop on the
    // CPU, 4x slower than the vectorised log.)
    at::Tensor xlogx = a.clamp_min(std::numeric_limits<float>::min());
    xlogx.log_();
    out.xlogx = xlogx.mul_(a).sum(-1);
    out.distance = (a * distance).sum(-1);
    out.extreme = negativeScale ? extremeX.amin(-1) : extremeX.amax(-1);
    if (diff)
        out.signedPart = (negativeScale ? x.clamp_min(0) : x.clamp_max(0)).sum(-1);
    return out;
}

} // namespace

struct HeadStatsCollector::State {
    int64_t seqLen = 0;
    int64_t heads = 0;
    MapKind kind = MapKind::A;
    bool diff = false;
    double lambda = kNoMetric;
    double scale = 1.0; ///< turns a row of the attention tile into weights summing to 1
    bool started = false;
    int64_t gateGroups = 0;
    std::optional<SpanQuery> span;
    std::vector<int64_t> spanRowsSorted; ///< span.queryRows (or the last token), sorted, duplicates kept
    int64_t noiseLimit = 0;

    RowCoverage attentionRows {0};
    std::vector<RowCoverage> gateRows;
    at::Tensor acc; ///< [H, kColumns] fp64
    std::vector<at::Tensor> gateTotals; ///< per group: [H] fp64 sum of visible gates
    at::Tensor spanSums; ///< [H, kSegments] fp64, scaled
    at::Tensor spanRowsDevice; ///< spanRowsSorted on the device, long
    at::Tensor segmentOfKey; ///< [N, kSegments] fp64 one-hot

    void checkLambda(double value) const
    {
        if (kind != MapKind::D)
            return;
        require(std::isfinite(value),
            "a D map needs the layer's lambda to normalise rows by 1 - lambda (got " + std::to_string(value) + ")");
        require(std::fabs(1.0 - value) >= 1e-12, "lambda = 1 makes D rows sum to 0; they cannot be normalised");
    }

    void checkTile(const at::Tensor& tile, int64_t q0, const std::string& what) const
    {
        require(tile.defined() && tile.dim() == 4, what + " tile must be [batch, heads, rows, keys]");
        const int64_t t = tile.size(2), q1 = tile.size(3);
        require(tile.size(0) >= 1 && tile.size(1) == heads,
            what + " tile has " + std::to_string(tile.size(1)) + " heads, expected " + std::to_string(heads));
        require(t >= 1 && q0 >= 0 && q1 == q0 + t && q1 <= seqLen,
            what + " tile of " + std::to_string(t) + " rows from row " + std::to_string(q0) + " with "
                + std::to_string(q1) + " keys does not cover keys 0..q0+t of a " + std::to_string(seqLen)
                + "-token map");
    }

    void ensureAccumulators(const at::Device& device)
    {
        if (acc.defined())
            return;
        const auto f64 = at::TensorOptions().dtype(at::kDouble).device(device);
        acc = at::zeros({heads, kColumns}, f64);
        for (int64_t g = 0; g < gateGroups; ++g)
            gateTotals.push_back(at::zeros({heads}, f64));
        if (span) {
            spanSums = at::zeros({heads, kSegments}, f64);
            spanRowsDevice = at::tensor(spanRowsSorted, at::TensorOptions().dtype(at::kLong)).to(device);
            // One-hot segment per key, in spanAttention()'s order of tests: span, then key 0, then noise.
            const auto i64 = at::TensorOptions().dtype(at::kLong).device(device);
            const at::Tensor keys = at::arange(seqLen, i64);
            const at::Tensor inSpan = keys.ge(span->spanBegin).logical_and(keys.lt(span->spanEnd));
            const at::Tensor segment = at::where(inSpan, at::full_like(keys, kToSpan),
                at::where(keys.eq(0), at::full_like(keys, kSinkKey),
                    at::where(keys.lt(noiseLimit), at::full_like(keys, kNoise), at::full_like(keys, kRest))));
            segmentOfKey = at::one_hot(segment, kSegments).to(at::kDouble);
        }
    }

    void addSpanRows(const at::Tensor& batch0, int64_t q0, int64_t q1)
    {
        const auto lo = std::lower_bound(spanRowsSorted.begin(), spanRowsSorted.end(), q0);
        const auto hi = std::lower_bound(spanRowsSorted.begin(), spanRowsSorted.end(), q1);
        if (lo == hi)
            return;
        const at::Tensor rows = spanRowsDevice.narrow(0, lo - spanRowsSorted.begin(), hi - lo); // absolute rows
        const at::Tensor picked = batch0.index_select(1, rows - q0).to(at::kDouble); // [H, m, q1]
        const auto i64 = at::TensorOptions().dtype(at::kLong).device(batch0.device());
        const at::Tensor future = at::arange(q1, i64).unsqueeze(0) > rows.unsqueeze(1); // [m, q1]
        const at::Tensor perRow = at::matmul(picked.masked_fill(future, 0.0), segmentOfKey.narrow(0, 0, q1));
        spanSums += perRow.sum(1) * scale;
    }
};

HeadStatsCollector::HeadStatsCollector(
    int64_t seqLen, int64_t heads, MapKind attention, double lambda, int64_t gateGroups, std::optional<SpanQuery> span)
    : m(std::make_unique<State>())
{
    require(seqLen >= 1, "head statistics need at least one token, got " + std::to_string(seqLen));
    require(heads >= 1, "head statistics need at least one head, got " + std::to_string(heads));
    require(isSoftmaxKind(attention) || attention == MapKind::D || attention == MapKind::DN,
        "head statistics need an attention map (A, A1, A2, D or DN), got " + toString(attention));
    require(gateGroups >= 0 && gateGroups <= 2,
        "at most two gate maps per head (G, or G1 and G2), got " + std::to_string(gateGroups));
    m->seqLen = seqLen;
    m->heads = heads;
    m->kind = attention;
    m->diff = !isSoftmaxKind(attention);
    m->gateGroups = gateGroups;
    m->attentionRows = RowCoverage(seqLen);
    for (int64_t g = 0; g < gateGroups; ++g)
        m->gateRows.emplace_back(seqLen);
    if (m->diff)
        m->lambda = lambda;
    if (attention == MapKind::D && std::isfinite(lambda))
        setLambda(lambda);

    if (span) {
        const int64_t n = seqLen;
        require(span->spanBegin >= 0 && span->spanBegin < n && span->spanEnd <= n,
            "span [" + std::to_string(span->spanBegin) + ", " + std::to_string(span->spanEnd) + ") lies outside the "
                + std::to_string(n) + " key positions [0, " + std::to_string(n) + ")");
        require(span->spanEnd > span->spanBegin,
            "empty span [" + std::to_string(span->spanBegin) + ", " + std::to_string(span->spanEnd) + ")");
        require(span->noiseEnd >= -1 && span->noiseEnd <= n,
            "noise end " + std::to_string(span->noiseEnd) + " must be -1 (no query segment) or in [0, "
                + std::to_string(n) + "]");
        m->noiseLimit = span->noiseEnd == -1 ? n : span->noiseEnd;
        m->spanRowsSorted = span->queryRows.empty() ? std::vector<int64_t> {n - 1} : span->queryRows;
        for (int64_t r : m->spanRowsSorted)
            require(
                r >= 0 && r < n, "query row " + std::to_string(r) + " is out of range [0, " + std::to_string(n) + ")");
        std::sort(m->spanRowsSorted.begin(), m->spanRowsSorted.end());
        m->span = std::move(span);
    }
}

HeadStatsCollector::~HeadStatsCollector() = default;
HeadStatsCollector::HeadStatsCollector(HeadStatsCollector&&) noexcept = default;
HeadStatsCollector& HeadStatsCollector::operator=(HeadStatsCollector&&) noexcept = default;

void HeadStatsCollector::setLambda(double lambda)
{
    if (!m->diff)
        return;
    if (m->started)
        throw std::logic_error("the layer's lambda must be set before the first attention tile");
    m->checkLambda(lambda);
    m->lambda = lambda;
    m->scale = m->kind == MapKind::D ? 1.0 / (1.0 - lambda) : 1.0;
}

void HeadStatsCollector::addAttention(const at::Tensor& tile, int64_t q0)
{
    State& s = *m;
    s.checkTile(tile, q0, "attention");
    if (!s.started)
        s.checkLambda(s.lambda);
    const int64_t t = tile.size(2), q1 = q0 + t;
    s.attentionRows.add(q0, q1, "attention " + rowRange(q0, q1));
    s.started = true;
    c10::InferenceMode guard; // the accumulators are updated in place, like the tiles' own inference tensors
    const at::Device device = tile.device();
    s.ensureAccumulators(device);
    const at::Tensor batch0 = tile.select(0, 0); // [H, t, q1]
    const bool negativeScale = s.scale < 0.0;
    const double identity = negativeScale ? kInf : -kInf; // of the row's max (or min)
    const auto f32 = at::TensorOptions().dtype(at::kFloat).device(device);
    const at::Tensor rowIndex = at::arange(t, f32).unsqueeze(1); // r, for query q0 + r

    // The t x t triangle at the causal edge: key q0 + c is visible to query q0 + r when c <= r.
    const at::Tensor tri = floatPart(batch0, q0, t);
    const at::Tensor future = at::ones({t, t}, f32.dtype(at::kBool)).triu(1);
    const at::Tensor triDistance = (rowIndex - at::arange(t, f32).unsqueeze(0)).clamp_min(0);
    PartRows rows = reduceRows(
        tri.masked_fill(future, 0.0), tri.masked_fill(future, identity), triDistance, negativeScale, s.diff);
    if (q0 > 0) { // the rectangle: keys 0..q0-1 are visible to every row of the tile
        const at::Tensor rect = floatPart(batch0, 0, q0);
        const at::Tensor rectDistance = rowIndex + (q0 - at::arange(q0, f32)).unsqueeze(0);
        const PartRows more = reduceRows(rect, rect, rectDistance, negativeScale, s.diff);
        rows.mass = rows.mass + more.mass;
        rows.xlogx = rows.xlogx + more.xlogx;
        rows.distance = rows.distance + more.distance;
        rows.extreme
            = negativeScale ? at::minimum(rows.extreme, more.extreme) : at::maximum(rows.extreme, more.extreme);
        if (s.diff)
            rows.signedPart = rows.signedPart + more.signedPart;
    }

    // Per row, in fp64: entropy = ln S - (sum |x| ln |x|) / S with S = sum |x| (p = |x| / S), distance = sum |x|
    // (i - j) / S, both only for rows with mass.
    const at::Tensor mass = rows.mass.to(at::kDouble);
    const at::Tensor hasMass = mass > 0;
    const at::Tensor safeMass = at::where(hasMass, mass, at::ones_like(mass));
    const at::Tensor entropy = at::where(hasMass, at::log(safeMass) - rows.xlogx.to(at::kDouble) / safeMass, 0.0);
    const at::Tensor distance = at::where(hasMass, rows.distance.to(at::kDouble) / safeMass, 0.0);
    const at::Tensor maxWeight = rows.extreme.to(at::kDouble) * s.scale;
    // -sum min(0, s x) is -s sum min(0, x) for s > 0 and -s sum max(0, x) for s < 0: -s times signedPart.
    const at::Tensor negative = s.diff ? rows.signedPart.to(at::kDouble) * -s.scale : at::zeros_like(mass);
    // Row 0 sees only itself; it is left out of the sink mass.
    const int64_t firstSinkRow = q0 == 0 ? 1 : 0;
    const at::Tensor sink = batch0.select(2, 0).narrow(1, firstSinkRow, t - firstSinkRow).to(at::kDouble) * s.scale;

    s.acc += at::stack({entropy.sum(1), distance.sum(1), hasMass.sum(1).to(at::kDouble), maxWeight.sum(1),
                           negative.sum(1), sink.sum(1), mass.sum(1)},
        1);
    if (s.span)
        s.addSpanRows(batch0, q0, q1);
}

void HeadStatsCollector::addGates(int64_t group, const at::Tensor& tile, int64_t q0)
{
    State& s = *m;
    require(group >= 0 && group < s.gateGroups,
        "gate group " + std::to_string(group) + " out of range: this collector takes " + std::to_string(s.gateGroups));
    s.checkTile(tile, q0, "gate");
    const int64_t t = tile.size(2), q1 = q0 + t;
    s.gateRows[static_cast<size_t>(group)].add(q0, q1, "gate group " + std::to_string(group) + " " + rowRange(q0, q1));
    c10::InferenceMode guard;
    s.ensureAccumulators(tile.device());
    const at::Tensor batch0 = tile.select(0, 0);
    const at::Tensor future = at::ones({t, t}, at::TensorOptions().dtype(at::kBool).device(tile.device())).triu(1);
    at::Tensor rowSums = floatPart(batch0, q0, t).masked_fill(future, 0.0).sum(-1);
    if (q0 > 0)
        rowSums = rowSums + floatPart(batch0, 0, q0).sum(-1);
    s.gateTotals[static_cast<size_t>(group)] += rowSums.to(at::kDouble).sum(1);
}

bool HeadStatsCollector::complete() const
{
    if (!m->attentionRows.complete())
        return false;
    for (const RowCoverage& rows : m->gateRows)
        if (!rows.complete())
            return false;
    return true;
}

std::vector<HeadMetrics> HeadStatsCollector::metrics(int64_t layer) const
{
    const State& s = *m;
    const std::string where = "layer " + std::to_string(layer) + ": ";
    if (!s.attentionRows.complete())
        throw std::runtime_error(where + "attention row " + std::to_string(s.attentionRows.firstMissing())
            + " was never added; head metrics need every row");
    for (size_t g = 0; g < s.gateRows.size(); ++g)
        if (!s.gateRows[g].complete())
            throw std::runtime_error(where + "gate group " + std::to_string(g) + " row "
                + std::to_string(s.gateRows[g].firstMissing()) + " was never added");

    c10::InferenceMode guard;
    const at::Tensor acc = s.acc.to(at::kCPU).contiguous();
    std::vector<at::Tensor> gateTotals;
    for (const at::Tensor& total : s.gateTotals)
        gateTotals.push_back(total.to(at::kCPU).contiguous());
    const int64_t n = s.seqLen;
    auto mean = [](double sum, double count) { return count > 0 ? sum / count : kNoMetric; };

    std::vector<HeadMetrics> out;
    for (int64_t h = 0; h < s.heads; ++h) {
        const double* a = acc.data_ptr<double>() + h * kColumns;
        if (!std::isfinite(a[kMassCheck]))
            throw std::runtime_error(where + "head " + std::to_string(h) + ": the " + toString(s.kind)
                + " map has a non-finite value at a visible cell");
        HeadMetrics hm;
        hm.layer = layer;
        hm.head = h;
        hm.entropy = mean(a[kEntropy], a[kDistributionRows]);
        hm.meanDistance = mean(a[kDistance], a[kDistributionRows]);
        hm.sinkMass = mean(a[kSink], static_cast<double>(n - 1));
        hm.maxWeight = mean(a[kMax], static_cast<double>(n));
        if (s.diff) {
            hm.negativeMass = mean(a[kNegative], static_cast<double>(n));
            hm.lambda = s.lambda;
        }
        if (!gateTotals.empty()) {
            double gateMean = 0, rowSumMean = 0;
            const double cells = static_cast<double>(n) * static_cast<double>(n + 1) / 2.0;
            for (size_t g = 0; g < gateTotals.size(); ++g) {
                const double total = gateTotals[g].data_ptr<double>()[h];
                if (!std::isfinite(total))
                    throw std::runtime_error(where + "head " + std::to_string(h) + ": gate group " + std::to_string(g)
                        + " has a non-finite value at a visible cell");
                gateMean += total / cells;
                rowSumMean += total / static_cast<double>(n);
            }
            hm.meanGate = gateMean / static_cast<double>(gateTotals.size());
            hm.gateRowSum = rowSumMean / static_cast<double>(gateTotals.size());
        }
        out.push_back(hm);
    }
    return out;
}

std::vector<SpanAttention> HeadStatsCollector::spans() const
{
    const State& s = *m;
    if (!s.span)
        return {};
    if (!s.attentionRows.complete())
        throw std::runtime_error("attention row " + std::to_string(s.attentionRows.firstMissing())
            + " was never added; span attention needs every row");
    c10::InferenceMode guard;
    const at::Tensor massCheck = s.acc.select(1, kMassCheck).to(at::kCPU).contiguous();
    for (int64_t h = 0; h < s.heads; ++h)
        if (!std::isfinite(massCheck.data_ptr<double>()[h]))
            throw std::runtime_error("head " + std::to_string(h) + ": the " + toString(s.kind)
                + " map has a non-finite value at a visible cell");
    const at::Tensor sums = s.spanSums.to(at::kCPU).contiguous();
    const auto count = static_cast<int64_t>(s.spanRowsSorted.size());
    std::vector<SpanAttention> out;
    for (int64_t h = 0; h < s.heads; ++h) {
        const double* v = sums.data_ptr<double>() + h * kSegments;
        SpanAttention sa;
        sa.toSpan = v[kToSpan] / static_cast<double>(count);
        sa.sink = v[kSinkKey] / static_cast<double>(count);
        sa.noise = v[kNoise] / static_cast<double>(count);
        sa.rest = v[kRest] / static_cast<double>(count);
        sa.rows = count;
        out.push_back(sa);
    }
    return out;
}

} // namespace attn::engine
