// SPDX-License-Identifier: GPL-3.0-or-later
#include "attnscope/metrics.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <limits>

using namespace attn;

namespace {

constexpr float kMasked = std::numeric_limits<float>::quiet_NaN();
// Inputs are float32 maps, so sums of values like 1/3 carry float rounding.
constexpr double kTol = 1e-6;

AttentionMap makeMap(MapKind kind, int64_t n, std::vector<float> values)
{
    AttentionMap map;
    map.kind = kind;
    map.rows = n;
    map.cols = n;
    map.values = std::move(values);
    return map;
}

// Uniform causal attention: row i puts 1/(i+1) on each visible key.
AttentionMap uniform3()
{
    const float t = 1.0f / 3.0f;
    return makeMap(MapKind::A, 3, {1.0f, kMasked, kMasked, 0.5f, 0.5f, kMasked, t, t, t});
}

// DN rows chosen by hand, one negative cell per row after the first; D = (1 - 0.3) * DN.
// DN: [1], [1.2, -0.2], [0.5, -0.25, 0.75].
AttentionMap diffD3()
{
    return makeMap(MapKind::D, 3, {0.7f, kMasked, kMasked, 0.84f, -0.14f, kMasked, 0.35f, -0.175f, 0.525f});
}
AttentionMap diffDN3()
{
    return makeMap(MapKind::DN, 3, {1.0f, kMasked, kMasked, 1.2f, -0.2f, kMasked, 0.5f, -0.25f, 0.75f});
}

// Segments of a 5-token prompt: 0 BOS, 1 context, 2 answer, 3 context, 4 query.
AttentionMap spanMap()
{
    return makeMap(MapKind::A, 5,
        {1.0f, kMasked, kMasked, kMasked, kMasked, //
            0.6f, 0.4f, kMasked, kMasked, kMasked, //
            0.5f, 0.25f, 0.25f, kMasked, kMasked, //
            0.25f, 0.25f, 0.25f, 0.25f, kMasked, //
            0.1f, 0.2f, 0.3f, 0.15f, 0.25f});
}

void expectError(const Status& status, const std::string& fragment)
{
    ASSERT_FALSE(status.isOk()) << "expected an error mentioning: " << fragment;
    EXPECT_NE(status.message().find(fragment), std::string::npos) << status.message();
}

void expectSpan(const SpanAttention& s, double toSpan, double noise, double sink, double rest, int64_t rows)
{
    EXPECT_NEAR(s.toSpan, toSpan, kTol);
    EXPECT_NEAR(s.noise, noise, kTol);
    EXPECT_NEAR(s.sink, sink, kTol);
    EXPECT_NEAR(s.rest, rest, kTol);
    EXPECT_EQ(s.rows, rows);
}

} // namespace

TEST(MetricsHead, UniformCausalSoftmax)
{
    Result<HeadMetrics> m = computeHeadMetrics(2, 5, uniform3(), kNoMetric, {});
    ASSERT_TRUE(m) << m.message();
    EXPECT_EQ(m->layer, 2);
    EXPECT_EQ(m->head, 5);
    // entropy_i = ln(i + 1): (0 + ln 2 + ln 3) / 3.
    EXPECT_NEAR(m->entropy, 0.5972531564093516, kTol);
    // Rows 1 and 2 only: (1/2 + 1/3) / 2 = 5/12.
    EXPECT_NEAR(m->sinkMass, 5.0 / 12.0, kTol);
    // (1 + 1/2 + 1/3) / 3 = 11/18.
    EXPECT_NEAR(m->maxWeight, 11.0 / 18.0, kTol);
    // Row distances 0, 0.5, (2 + 1 + 0)/3 = 1: mean 0.5.
    EXPECT_NEAR(m->meanDistance, 0.5, kTol);
    EXPECT_TRUE(std::isnan(m->negativeMass));
    EXPECT_TRUE(std::isnan(m->lambda));
    EXPECT_TRUE(std::isnan(m->meanGate));
    EXPECT_TRUE(std::isnan(m->gateRowSum));
}

TEST(MetricsHead, SinkHeadSoftmax)
{
    // Rows [1], [0.75, 0.25], [0.5, 0.25, 0.25]; the future cells hold junk that must be ignored.
    AttentionMap map = makeMap(MapKind::A, 3, {1.0f, 7.0f, kMasked, 0.75f, 0.25f, -3.0f, 0.5f, 0.25f, 0.25f});
    Result<HeadMetrics> m = computeHeadMetrics(0, 0, map, 0.5 /* ignored for A */, {});
    ASSERT_TRUE(m) << m.message();
    // Row 1: -(0.75 ln 0.75 + 0.25 ln 0.25) = 0.5623351446; row 2: 1.0397207708.
    EXPECT_NEAR(m->entropy, 0.5340186384862421, 1e-12);
    EXPECT_DOUBLE_EQ(m->sinkMass, 0.625); // (0.75 + 0.5) / 2
    EXPECT_DOUBLE_EQ(m->maxWeight, 0.75); // (1 + 0.75 + 0.5) / 3
    // Row 1: 0.75 * 1; row 2: 0.5 * 2 + 0.25 * 1 = 1.25; (0 + 0.75 + 1.25) / 3.
    EXPECT_NEAR(m->meanDistance, 2.0 / 3.0, 1e-12);
    EXPECT_TRUE(std::isnan(m->lambda));
}

TEST(MetricsHead, DiffWithNegativeCellNormalisedByOneMinusLambda)
{
    for (const AttentionMap& map : {diffD3(), diffDN3()}) {
        SCOPED_TRACE(toString(map.kind));
        Result<HeadMetrics> m = computeHeadMetrics(1, 3, map, 0.3, {});
        ASSERT_TRUE(m) << m.message();
        // On DN: negative cells 0.2 and 0.25 -> (0 + 0.2 + 0.25) / 3.
        EXPECT_NEAR(m->negativeMass, 0.15, kTol);
        EXPECT_NEAR(m->sinkMass, 0.85, kTol); // (1.2 + 0.5) / 2
        EXPECT_NEAR(m->maxWeight, 0.9833333333333334, kTol); // (1 + 1.2 + 0.75) / 3
        // p from |DN|: row 1 (6/7, 1/7) -> 0.4101163183; row 2 (1/3, 1/6, 1/2) -> 1.0114042647.
        EXPECT_NEAR(m->entropy, 0.4738401943319202, kTol);
        // Row 1: 1.2 * 1 / 1.4 = 6/7; row 2: (0.5 * 2 + 0.25 * 1) / 1.5 = 5/6; mean 71/126.
        EXPECT_NEAR(m->meanDistance, 71.0 / 126.0, kTol);
        EXPECT_DOUBLE_EQ(m->lambda, 0.3);
        EXPECT_TRUE(std::isnan(m->meanGate));
    }
    // DN does not need lambda; the lambda column is then simply unknown.
    Result<HeadMetrics> noLambda = computeHeadMetrics(0, 0, diffDN3(), kNoMetric, {});
    ASSERT_TRUE(noLambda) << noLambda.message();
    EXPECT_TRUE(std::isnan(noLambda->lambda));
    EXPECT_NEAR(noLambda->negativeMass, 0.15, kTol);
}

TEST(MetricsHead, CopeGates)
{
    AttentionMap g = makeMap(MapKind::G, 3, {0.5f, kMasked, kMasked, 1.0f, 0.5f, kMasked, 0.25f, 1.0f, 0.75f});
    // Visible total 4 over 6 cells and 3 rows.
    Result<HeadMetrics> m = computeHeadMetrics(0, 0, uniform3(), kNoMetric, {&g});
    ASSERT_TRUE(m) << m.message();
    EXPECT_DOUBLE_EQ(m->meanGate, 4.0 / 6.0);
    EXPECT_DOUBLE_EQ(m->gateRowSum, 4.0 / 3.0);

    // diff+CoPE: G1 as above, G2 all ones (mean 1, row sums 1, 2, 3 -> 2); the groups are averaged.
    AttentionMap g1 = g;
    g1.kind = MapKind::G1;
    AttentionMap g2 = makeMap(MapKind::G2, 3, {1.0f, kMasked, kMasked, 1.0f, 1.0f, kMasked, 1.0f, 1.0f, 1.0f});
    Result<HeadMetrics> d = computeHeadMetrics(0, 0, diffD3(), 0.3, {&g2, &g1});
    ASSERT_TRUE(d) << d.message();
    EXPECT_DOUBLE_EQ(d->meanGate, 5.0 / 6.0);
    EXPECT_DOUBLE_EQ(d->gateRowSum, 5.0 / 3.0);
    EXPECT_NEAR(d->negativeMass, 0.15, kTol);
}

TEST(MetricsHead, SingleTokenHasNoSinkMass)
{
    Result<HeadMetrics> m = computeHeadMetrics(0, 0, makeMap(MapKind::A, 1, {1.0f}), kNoMetric, {});
    ASSERT_TRUE(m) << m.message();
    EXPECT_TRUE(std::isnan(m->sinkMass));
    EXPECT_DOUBLE_EQ(m->entropy, 0.0);
    EXPECT_DOUBLE_EQ(m->maxWeight, 1.0);
    EXPECT_DOUBLE_EQ(m->meanDistance, 0.0);
}

TEST(MetricsHead, RejectsBadInputs)
{
    AttentionMap nonSquare = uniform3();
    nonSquare.rows = 1;
    expectError(computeHeadMetrics(0, 0, nonSquare, kNoMetric, {}).status(), "not square");
    AttentionMap shortValues = uniform3();
    shortValues.values.pop_back();
    expectError(computeHeadMetrics(0, 0, shortValues, kNoMetric, {}).status(), "holds 8 values, expected 9");
    expectError(computeHeadMetrics(0, 0, makeMap(MapKind::A, 0, {}), kNoMetric, {}).status(), "empty");
    AttentionMap notAttention = uniform3();
    notAttention.kind = MapKind::G;
    expectError(computeHeadMetrics(0, 0, notAttention, kNoMetric, {}).status(), "got G");
    AttentionMap nanVisible = uniform3();
    nanVisible.values[3] = kMasked;
    expectError(computeHeadMetrics(4, 1, nanVisible, kNoMetric, {}).status(), "(row 1, col 0)");
    expectError(computeHeadMetrics(4, 1, nanVisible, kNoMetric, {}).status(), "layer 4 head 1");
    expectError(computeHeadMetrics(0, 0, diffD3(), kNoMetric, {}).status(), "needs the layer's lambda");
    expectError(computeHeadMetrics(0, 0, diffD3(), 1.0, {}).status(), "lambda = 1");

    expectError(computeHeadMetrics(0, 0, uniform3(), kNoMetric, {nullptr}).status(), "null gate");
    AttentionMap smallGate = makeMap(MapKind::G, 1, {1.0f});
    expectError(computeHeadMetrics(0, 0, uniform3(), kNoMetric, {&smallGate}).status(), "does not match");
    AttentionMap g = uniform3();
    g.kind = MapKind::G;
    expectError(computeHeadMetrics(0, 0, uniform3(), kNoMetric, {&g, &g}).status(), "must be G1 and G2");
    const AttentionMap attentionAsGate = uniform3();
    expectError(computeHeadMetrics(0, 0, uniform3(), kNoMetric, {&attentionAsGate}).status(), "gate maps must be");
}

TEST(MetricsSpan, SegmentsOfTheLastToken)
{
    // Last row [0.1, 0.2, 0.3, 0.15, 0.25]: answer = key 2, noise = keys 1 and 3, query = key 4.
    Result<SpanAttention> s = spanAttention(spanMap(), kNoMetric, {}, 2, 3, 4);
    ASSERT_TRUE(s) << s.message();
    expectSpan(*s, 0.3, 0.35, 0.1, 0.25, 1);
    EXPECT_NEAR(s->toSpan + s->noise + s->sink + s->rest, 1.0, kTol);

    // Rows 3 and 4: row 3 [0.25 x 4] gives span 0.25, noise 0.5, sink 0.25, rest 0.
    Result<SpanAttention> two = spanAttention(spanMap(), kNoMetric, {3, 4}, 2, 3, 4);
    ASSERT_TRUE(two) << two.message();
    expectSpan(*two, 0.275, 0.425, 0.175, 0.125, 2);
}

TEST(MetricsSpan, NoiseEndHandling)
{
    // -1: no query segment, so key 4 is noise too.
    Result<SpanAttention> all = spanAttention(spanMap(), kNoMetric, {4}, 2, 3, -1);
    ASSERT_TRUE(all) << all.message();
    expectSpan(*all, 0.3, 0.6, 0.1, 0.0, 1);
    // 0 or 1: nothing is noise; everything outside sink and span is rest.
    for (int64_t noiseEnd : {0, 1}) {
        Result<SpanAttention> none = spanAttention(spanMap(), kNoMetric, {4}, 2, 3, noiseEnd);
        ASSERT_TRUE(none) << none.message();
        expectSpan(*none, 0.3, 0.0, 0.1, 0.6, 1);
    }
    // noiseEnd = cols is the same as -1.
    Result<SpanAttention> five = spanAttention(spanMap(), kNoMetric, {4}, 2, 3, 5);
    ASSERT_TRUE(five) << five.message();
    expectSpan(*five, 0.3, 0.6, 0.1, 0.0, 1);
}

TEST(MetricsSpan, PartsSumToOneForEverySoftmaxRow)
{
    for (int64_t row = 0; row < 5; ++row) {
        Result<SpanAttention> s = spanAttention(spanMap(), kNoMetric, {row}, 2, 4, 4);
        ASSERT_TRUE(s) << s.message();
        EXPECT_NEAR(s->toSpan + s->noise + s->sink + s->rest, 1.0, kTol) << "row " << row;
    }
    // A row before the span sees none of it: row 1 [0.6, 0.4] -> sink 0.6, noise 0.4.
    Result<SpanAttention> early = spanAttention(spanMap(), kNoMetric, {1}, 2, 3, 4);
    ASSERT_TRUE(early) << early.message();
    expectSpan(*early, 0.0, 0.4, 0.6, 0.0, 1);
}

TEST(MetricsSpan, SpanHoldingTheFirstTokenTakesItFromTheSink)
{
    Result<SpanAttention> s = spanAttention(spanMap(), kNoMetric, {4}, 0, 2, 4);
    ASSERT_TRUE(s) << s.message();
    expectSpan(*s, 0.3, 0.45, 0.0, 0.25, 1);
}

TEST(MetricsSpan, DiffRowsAreDividedByOneMinusLambda)
{
    // Last DN row [0.5, -0.25, 0.75]; span = key 2, noise = key 1 (negative).
    for (const AttentionMap& map : {diffD3(), diffDN3()}) {
        SCOPED_TRACE(toString(map.kind));
        Result<SpanAttention> s = spanAttention(map, 0.3, {}, 2, 3, -1);
        ASSERT_TRUE(s) << s.message();
        expectSpan(*s, 0.75, -0.25, 0.5, 0.0, 1);
        EXPECT_NEAR(s->toSpan + s->noise + s->sink + s->rest, 1.0, kTol);
    }
    // Without the division D would give 0.525 on the span; a missing lambda is an error, not that.
    expectError(spanAttention(diffD3(), kNoMetric, {}, 2, 3, -1).status(), "1 - lambda");
}

TEST(MetricsSpan, RejectsBadArguments)
{
    const AttentionMap map = spanMap();
    expectError(spanAttention(map, kNoMetric, {}, 5, 6, -1).status(), "span [5, 6) lies outside the 5 key positions");
    expectError(spanAttention(map, kNoMetric, {}, -1, 2, -1).status(), "lies outside");
    expectError(spanAttention(map, kNoMetric, {}, 2, 6, -1).status(), "lies outside");
    expectError(spanAttention(map, kNoMetric, {}, 2, 2, -1).status(), "empty span [2, 2)");
    expectError(spanAttention(map, kNoMetric, {}, 3, 2, -1).status(), "empty span");
    expectError(spanAttention(map, kNoMetric, {5}, 2, 3, -1).status(), "query row 5 is out of range [0, 5)");
    expectError(spanAttention(map, kNoMetric, {-1}, 2, 3, -1).status(), "query row -1");
    expectError(spanAttention(map, kNoMetric, {}, 2, 3, -2).status(), "noise end -2");
    expectError(spanAttention(map, kNoMetric, {}, 2, 3, 6).status(), "noise end 6");
    AttentionMap gate = map;
    gate.kind = MapKind::P;
    expectError(spanAttention(gate, kNoMetric, {}, 2, 3, -1).status(), "got P");
}

TEST(MetricsAggregate, PaperAverageIsHeadsThenLayers)
{
    std::map<int64_t, std::vector<SpanAttention>> byLayer;
    byLayer[0] = {{0.2, 0.4, 0.3, 0.1, 1}, {0.4, 0.2, 0.1, 0.3, 1}}; // layer mean 0.3, 0.3, 0.2, 0.2
    byLayer[1] = {{0.6, 0.0, 0.2, 0.2, 1}};
    Result<SpanAttention> avg = paperAverage(byLayer);
    ASSERT_TRUE(avg) << avg.message();
    // Heads first: toSpan (0.3 + 0.6) / 2 = 0.45, where a flat mean of all heads would give 0.4.
    expectSpan(*avg, 0.45, 0.15, 0.2, 0.2, 3);

    const SpanAttention layer0 = averageSpanAttention(byLayer[0]);
    expectSpan(layer0, 0.3, 0.3, 0.2, 0.2, 2);
    const SpanAttention none = averageSpanAttention({});
    EXPECT_TRUE(std::isnan(none.toSpan));
    EXPECT_EQ(none.rows, 0);

    expectError(paperAverage({}).status(), "at least one layer");
    byLayer[7] = {};
    expectError(paperAverage(byLayer).status(), "layer 7 has no heads");
}

namespace {
std::vector<HeadMetrics> twoHeads()
{
    HeadMetrics softmax;
    softmax.layer = 1;
    softmax.head = 2;
    softmax.entropy = 0.5;
    softmax.sinkMass = 0.25;
    softmax.maxWeight = 1.0;
    softmax.meanDistance = 1.0 / 3.0;
    HeadMetrics diff {0, 0, 1.25, 0.125, 0.75, 2.0, 0.15, 0.3, 0.5, 1.5};
    return {softmax, diff};
}
} // namespace

TEST(MetricsExport, CsvWritesNanAsEmptyCells)
{
    EXPECT_EQ(metricsCsv(twoHeads()),
        "layer,head,entropy,sink_mass,max_weight,mean_distance,negative_mass,lambda,mean_gate,gate_row_sum\n"
        "1,2,0.5,0.25,1,0.333333333,,,,\n"
        "0,0,1.25,0.125,0.75,2,0.15,0.3,0.5,1.5\n");
    EXPECT_EQ(metricsCsv({}),
        "layer,head,entropy,sink_mass,max_weight,mean_distance,negative_mass,lambda,mean_gate,gate_row_sum\n");
}

TEST(MetricsExport, JsonWritesNanAsNull)
{
    const nlohmann::json doc = nlohmann::json::parse(metricsJson(twoHeads()));
    ASSERT_TRUE(doc.is_array());
    ASSERT_EQ(doc.size(), 2u);
    EXPECT_EQ(doc[0]["layer"], 1);
    EXPECT_EQ(doc[0]["head"], 2);
    EXPECT_DOUBLE_EQ(doc[0]["mean_distance"].get<double>(), 1.0 / 3.0); // full double precision
    for (const char* key : {"negative_mass", "lambda", "mean_gate", "gate_row_sum"})
        EXPECT_TRUE(doc[0][key].is_null()) << key;
    EXPECT_DOUBLE_EQ(doc[1]["negative_mass"].get<double>(), 0.15);
    EXPECT_DOUBLE_EQ(doc[1]["lambda"].get<double>(), 0.3);
    EXPECT_EQ(doc[1].size(), 10u);
    EXPECT_EQ(metricsJson({}), "[]\n");
}

TEST(MetricsExport, CsvEscape)
{
    EXPECT_EQ(csvEscape("plain"), "plain");
    EXPECT_EQ(csvEscape(""), "");
    EXPECT_EQ(csvEscape("a,b"), "\"a,b\"");
    EXPECT_EQ(csvEscape("say \"hi\""), "\"say \"\"hi\"\"\"");
    EXPECT_EQ(csvEscape("x\ny"), "\"x\ny\"");
    EXPECT_EQ(csvEscape("x\ry"), "\"x\ry\"");
}

TEST(MetricsExport, MapCsvLabelsAndMaskedCells)
{
    AttentionMap map = makeMap(MapKind::A, 2, {1.0f, kMasked, 0.25f, 0.75f});
    EXPECT_EQ(mapCsv(map, {",", "\"q\""}),
        "query\\key,\",\",\"\"\"q\"\"\"\r\n"
        "\",\",1,\r\n"
        "\"\"\"q\"\"\",0.25,0.75\r\n");
    // A missing label falls back to the token index; edge spaces are quoted.
    EXPECT_EQ(mapCsv(map, {" the"}), "query\\key,\" the\",1\r\n\" the\",1,\r\n1,0.25,0.75\r\n");
    // float32 values round-trip with 9 significant digits.
    AttentionMap third = makeMap(MapKind::A, 1, {1.0f / 3.0f});
    EXPECT_EQ(mapCsv(third, {"a"}), "query\\key,a\r\na,0.333333343\r\n");
}
