// SPDX-License-Identifier: GPL-3.0-or-later
#include "attnscope/metrics.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>

namespace attn {

namespace {

// "3x3 D map": enough for a person to find the offending input without the map's own labels, which
// hand-built maps do not fill.
std::string describe(const AttentionMap& map)
{
    return std::to_string(map.rows) + "x" + std::to_string(map.cols) + " " + toString(map.kind) + " map";
}

Status checkShape(const AttentionMap& map)
{
    if (map.rows <= 0 || map.cols <= 0)
        return Status::error("empty " + describe(map));
    if (map.rows != map.cols)
        return Status::error(describe(map) + " is not square (causal self-attention maps are N x N)");
    if (map.values.size() != static_cast<size_t>(map.rows * map.cols))
        return Status::error(describe(map) + " holds " + std::to_string(map.values.size()) + " values, expected "
            + std::to_string(map.rows * map.cols));
    // A non-finite visible cell is a broken capture; masked cells may hold anything.
    for (int64_t i = 0; i < map.rows; ++i)
        for (int64_t j = 0; j <= i; ++j)
            if (!std::isfinite(map.at(i, j)))
                return Status::error(describe(map) + " has a non-finite value at visible cell (row " + std::to_string(i)
                    + ", col " + std::to_string(j) + ")");
    return Status::ok();
}

bool isSoftmaxKind(MapKind kind)
{
    return kind == MapKind::A || kind == MapKind::A1 || kind == MapKind::A2;
}
bool isDiffKind(MapKind kind)
{
    return kind == MapKind::D || kind == MapKind::DN;
}

/// The attention map validated, with the factor that turns its rows into weights summing to 1.
struct Weights {
    const AttentionMap* map = nullptr;
    double scale = 1.0;
    bool diff = false;
    double w(int64_t i, int64_t j) const { return scale * static_cast<double>(map->at(i, j)); }
};

Result<Weights> prepare(const AttentionMap& map, double lambda)
{
    if (!isSoftmaxKind(map.kind) && !isDiffKind(map.kind))
        return Status::error("metrics need an attention map (A, A1, A2, D or DN), got " + toString(map.kind));
    if (Status s = checkShape(map); !s)
        return s;
    Weights weights;
    weights.map = &map;
    weights.diff = isDiffKind(map.kind);
    if (map.kind == MapKind::D) {
        // Rows of D sum to 1 - lambda; dividing makes DIFF and softmax heads comparable (paper Fig. 1).
        if (!std::isfinite(lambda))
            return Status::error("a D map needs the layer's lambda to normalise rows by 1 - lambda (got "
                + std::to_string(lambda) + "); pass lambda or a DN map");
        if (std::fabs(1.0 - lambda) < 1e-12)
            return Status::error("lambda = 1 makes D rows sum to 0; they cannot be normalised by 1 - lambda");
        weights.scale = 1.0 / (1.0 - lambda);
    }
    return weights;
}

Status checkGates(const AttentionMap& attention, const std::vector<const AttentionMap*>& gates)
{
    if (gates.size() > 2)
        return Status::error("at most two gate maps (G, or G1 and G2), got " + std::to_string(gates.size()));
    for (const AttentionMap* g : gates) {
        if (!g)
            return Status::error("null gate map");
        if (g->kind != MapKind::G && g->kind != MapKind::G1 && g->kind != MapKind::G2)
            return Status::error("gate maps must be G, G1 or G2, got " + toString(g->kind));
        if (Status s = checkShape(*g); !s)
            return s;
        if (g->rows != attention.rows)
            return Status::error("gate " + describe(*g) + " does not match the attention " + describe(attention));
    }
    if (gates.size() == 2) {
        const bool pair = (gates[0]->kind == MapKind::G1 && gates[1]->kind == MapKind::G2)
            || (gates[0]->kind == MapKind::G2 && gates[1]->kind == MapKind::G1);
        if (!pair)
            return Status::error("two gate maps must be G1 and G2 (one per DIFF group)");
    }
    return Status::ok();
}

double mean(double sum, int64_t count)
{
    return count > 0 ? sum / static_cast<double>(count) : kNoMetric;
}

} // namespace

Result<HeadMetrics> computeHeadMetrics(int64_t layer, int64_t head, const AttentionMap& attention, double lambda,
    const std::vector<const AttentionMap*>& gates)
{
    try {
        const std::string where = "layer " + std::to_string(layer) + " head " + std::to_string(head) + ": ";
        Result<Weights> prepared = prepare(attention, lambda);
        if (!prepared)
            return Status::error(where + prepared.message());
        if (Status s = checkGates(attention, gates); !s)
            return Status::error(where + s.message());
        const Weights& W = *prepared;
        const int64_t n = attention.rows;

        HeadMetrics m;
        m.layer = layer;
        m.head = head;
        double entropySum = 0, distanceSum = 0, sinkSum = 0, maxSum = 0, negativeSum = 0;
        int64_t distributionRows = 0;
        for (int64_t i = 0; i < n; ++i) {
            double absSum = 0, weightedDistance = 0, rowMax = -std::numeric_limits<double>::infinity();
            double negative = 0;
            for (int64_t j = 0; j <= i; ++j) {
                const double w = W.w(i, j);
                absSum += std::fabs(w);
                weightedDistance += std::fabs(w) * static_cast<double>(i - j);
                rowMax = std::max(rowMax, w);
                negative += std::min(0.0, w);
            }
            maxSum += rowMax;
            negativeSum -= negative;
            if (i >= 1)
                sinkSum += W.w(i, 0);
            if (absSum > 0) {
                double h = 0;
                for (int64_t j = 0; j <= i; ++j) {
                    const double p = std::fabs(W.w(i, j)) / absSum;
                    if (p > 0)
                        h -= p * std::log(p);
                }
                entropySum += h;
                distanceSum += weightedDistance / absSum;
                ++distributionRows;
            }
        }
        m.entropy = mean(entropySum, distributionRows);
        m.meanDistance = mean(distanceSum, distributionRows);
        m.sinkMass = mean(sinkSum, n - 1);
        m.maxWeight = mean(maxSum, n);
        if (W.diff) {
            m.negativeMass = mean(negativeSum, n);
            m.lambda = lambda;
        }

        if (!gates.empty()) {
            double gateMean = 0, rowSumMean = 0;
            const int64_t cells = n * (n + 1) / 2;
            for (const AttentionMap* g : gates) {
                double total = 0;
                for (int64_t i = 0; i < n; ++i)
                    for (int64_t j = 0; j <= i; ++j)
                        total += static_cast<double>(g->at(i, j));
                // The visible-cell total is also the sum of the row sums.
                gateMean += mean(total, cells);
                rowSumMean += mean(total, n);
            }
            m.meanGate = gateMean / static_cast<double>(gates.size());
            m.gateRowSum = rowSumMean / static_cast<double>(gates.size());
        }
        return m;
    } catch (const std::exception& e) {
        return Status::error(std::string("computing head metrics failed: ") + e.what());
    }
}

Result<SpanAttention> spanAttention(const AttentionMap& attention, double lambda, std::vector<int64_t> queryRows,
    int64_t spanBegin, int64_t spanEnd, int64_t noiseEnd)
{
    try {
        Result<Weights> prepared = prepare(attention, lambda);
        if (!prepared)
            return prepared.status();
        const Weights& W = *prepared;
        const int64_t n = attention.rows;
        if (spanBegin < 0 || spanBegin >= n || spanEnd > n)
            return Status::error("span [" + std::to_string(spanBegin) + ", " + std::to_string(spanEnd)
                + ") lies outside the " + std::to_string(n) + " key positions [0, " + std::to_string(n) + ")");
        if (spanEnd <= spanBegin)
            return Status::error("empty span [" + std::to_string(spanBegin) + ", " + std::to_string(spanEnd) + ")");
        if (noiseEnd < -1 || noiseEnd > n)
            return Status::error("noise end " + std::to_string(noiseEnd) + " must be -1 (no query segment) or in [0, "
                + std::to_string(n) + "]");
        const int64_t noiseLimit = noiseEnd == -1 ? n : noiseEnd;
        if (queryRows.empty())
            queryRows.push_back(n - 1);
        for (int64_t r : queryRows)
            if (r < 0 || r >= n)
                return Status::error(
                    "query row " + std::to_string(r) + " is out of range [0, " + std::to_string(n) + ")");

        double toSpan = 0, noise = 0, sink = 0, rest = 0;
        for (int64_t i : queryRows) {
            for (int64_t j = 0; j <= i; ++j) {
                const double w = W.w(i, j);
                // The span is tested first so that a span holding token 0 takes it from the sink.
                if (j >= spanBegin && j < spanEnd)
                    toSpan += w;
                else if (j == 0)
                    sink += w;
                else if (j < noiseLimit)
                    noise += w;
                else
                    rest += w;
            }
        }
        const int64_t count = static_cast<int64_t>(queryRows.size());
        SpanAttention out;
        out.toSpan = mean(toSpan, count);
        out.noise = mean(noise, count);
        out.sink = mean(sink, count);
        out.rest = mean(rest, count);
        out.rows = count;
        return out;
    } catch (const std::exception& e) {
        return Status::error(std::string("span attention failed: ") + e.what());
    }
}

SpanAttention averageSpanAttention(const std::vector<SpanAttention>& heads)
{
    SpanAttention out;
    if (heads.empty())
        return out;
    double toSpan = 0, noise = 0, sink = 0, rest = 0;
    int64_t rows = 0;
    for (const SpanAttention& h : heads) {
        toSpan += h.toSpan;
        noise += h.noise;
        sink += h.sink;
        rest += h.rest;
        rows += h.rows;
    }
    const auto count = static_cast<int64_t>(heads.size());
    out.toSpan = mean(toSpan, count);
    out.noise = mean(noise, count);
    out.sink = mean(sink, count);
    out.rest = mean(rest, count);
    out.rows = rows;
    return out;
}

Result<SpanAttention> paperAverage(const std::map<int64_t, std::vector<SpanAttention>>& byLayer)
{
    try {
        if (byLayer.empty())
            return Status::error("paper average needs at least one layer");
        std::vector<SpanAttention> layers;
        for (const auto& [layer, heads] : byLayer) {
            if (heads.empty())
                return Status::error("layer " + std::to_string(layer) + " has no heads to average");
            layers.push_back(averageSpanAttention(heads));
        }
        return averageSpanAttention(layers);
    } catch (const std::exception& e) {
        return Status::error(std::string("paper average failed: ") + e.what());
    }
}

namespace {

std::string formatNumber(double value)
{
    if (std::isnan(value))
        return "";
    if (std::isinf(value))
        return value > 0 ? "inf" : "-inf";
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.9g", value);
    return buf;
}

nlohmann::json jsonNumber(double value)
{
    return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json();
}

} // namespace

std::string metricsCsv(const std::vector<HeadMetrics>& metrics)
{
    std::string out
        = "layer,head,entropy,sink_mass,max_weight,mean_distance,negative_mass,lambda,mean_gate,gate_row_sum\n";
    for (const HeadMetrics& m : metrics) {
        out += std::to_string(m.layer) + "," + std::to_string(m.head);
        for (double v :
            {m.entropy, m.sinkMass, m.maxWeight, m.meanDistance, m.negativeMass, m.lambda, m.meanGate, m.gateRowSum})
            out += "," + formatNumber(v);
        out += "\n";
    }
    return out;
}

std::string metricsJson(const std::vector<HeadMetrics>& metrics)
{
    nlohmann::json array = nlohmann::json::array();
    for (const HeadMetrics& m : metrics) {
        nlohmann::json row = nlohmann::json::object();
        row["layer"] = m.layer;
        row["head"] = m.head;
        row["entropy"] = jsonNumber(m.entropy);
        row["sink_mass"] = jsonNumber(m.sinkMass);
        row["max_weight"] = jsonNumber(m.maxWeight);
        row["mean_distance"] = jsonNumber(m.meanDistance);
        row["negative_mass"] = jsonNumber(m.negativeMass);
        row["lambda"] = jsonNumber(m.lambda);
        row["mean_gate"] = jsonNumber(m.meanGate);
        row["gate_row_sum"] = jsonNumber(m.gateRowSum);
        array.push_back(std::move(row));
    }
    // Only numbers and fixed ASCII keys go in, so dump() has no invalid UTF-8 to throw on.
    return array.dump(2) + "\n";
}

std::string csvEscape(const std::string& field)
{
    // RFC 4180 quoting; a leading or trailing space is quoted too, so tokens like " the" survive readers
    // that trim unquoted fields.
    const bool edgeSpace = !field.empty() && (field.front() == ' ' || field.back() == ' ');
    if (field.find_first_of(",\"\r\n") == std::string::npos && !edgeSpace)
        return field;
    std::string out = "\"";
    for (char c : field) {
        if (c == '"')
            out += '"';
        out += c;
    }
    return out + "\"";
}

std::string mapCsv(const AttentionMap& map, const std::vector<std::string>& tokenLabels)
{
    auto label = [&](int64_t token) {
        return token >= 0 && static_cast<size_t>(token) < tokenLabels.size()
            ? csvEscape(tokenLabels[static_cast<size_t>(token)])
            : std::to_string(token);
    };
    // CRLF line ends (RFC 4180), which spreadsheets and csv readers expect.
    std::string out = "query\\key";
    for (int64_t j = 0; j < map.cols; ++j)
        out += "," + label(j);
    out += "\r\n";
    const int64_t firstQuery = map.cols - map.rows;
    for (int64_t i = 0; i < map.rows; ++i) {
        out += label(firstQuery + i);
        for (int64_t j = 0; j < map.cols; ++j) {
            const auto index = static_cast<size_t>(i * map.cols + j);
            out += ",";
            if (index < map.values.size())
                out += formatNumber(static_cast<double>(map.values[index]));
        }
        out += "\r\n";
    }
    return out;
}

} // namespace attn
