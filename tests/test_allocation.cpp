// SPDX-License-Identifier: GPL-3.0-or-later
// The DIFF paper's Table 3 allocation over a whole capture (attnscope/allocation.h) against hand computations.
#include "attnscope/allocation.h"

#include <gtest/gtest.h>

#include <cmath>

namespace attn {
namespace {

/// A 4x4 causal map whose rows 0..2 are uniform and whose last row is `last`.
AttentionMap map4(int64_t layer, int64_t head, MapKind kind, std::vector<float> last, float rowScale = 1.0f)
{
    AttentionMap m;
    m.layer = layer;
    m.head = head;
    m.kind = kind;
    m.rows = m.cols = 4;
    m.values.assign(16, std::nanf(""));
    for (int64_t i = 0; i < 3; ++i)
        for (int64_t j = 0; j <= i; ++j)
            m.values[static_cast<size_t>(i * 4 + j)] = rowScale / static_cast<float>(i + 1);
    for (size_t j = 0; j < 4; ++j)
        m.values[12 + j] = last[j];
    return m;
}

AllocationLayout lastRowLayout(bool bos)
{
    AllocationLayout l;
    l.spanBegin = 1; // the answer is token 1
    l.spanEnd = 2;
    l.noiseEnd = 3; // token 3 is the question
    l.queryRows = {3};
    l.firstTokenIsBos = bos;
    return l;
}

CaptureResult softmaxCapture()
{
    CaptureResult c;
    c.maps.push_back(map4(0, 0, MapKind::A, {0.1f, 0.2f, 0.3f, 0.4f}));
    c.maps.push_back(map4(0, 1, MapKind::A, {0.4f, 0.3f, 0.2f, 0.1f}));
    c.maps.push_back(map4(1, 0, MapKind::A, {0.1f, 0.6f, 0.2f, 0.1f}));
    return c;
}

TEST(WordRange, MapsCharactersToWordIndices)
{
    const std::string text = "the magic number of riga is 4 8 . what";
    auto r = wordRange(text, 4, 19); // "magic number of"
    ASSERT_TRUE(r) << r.message();
    EXPECT_EQ(r->first, 1);
    EXPECT_EQ(r->second, 4);
    r = wordRange(text, 0, text.size());
    ASSERT_TRUE(r);
    EXPECT_EQ(r->first, 0);
    EXPECT_EQ(r->second, countWords(text));
    EXPECT_EQ(countWords(text), 10);
    EXPECT_EQ(countWords("  a  b "), 2);
    EXPECT_FALSE(wordRange(text, 5, 5));
    EXPECT_FALSE(wordRange(text, 0, text.size() + 1));
    EXPECT_NE(wordRange("a   b", 1, 3).message().find("whitespace"), std::string::npos);
}

TEST(CaptureAllocation, SoftmaxHeadsAveragedOverHeadsThenLayers)
{
    // Layer 0: heads (span .2, bos .1, noise .3, query .4) and (.3, .4, .2, .1) -> mean (.25, .25, .25, .25).
    // Layer 1: (.6, .1, .2, .1). Paper average = mean of the two layers (a plain mean over the three heads
    // would give a span of .3667 instead of .425).
    auto a = captureAllocation(softmaxCapture(), lastRowLayout(true));
    ASSERT_TRUE(a) << a.message();
    EXPECT_NEAR(a->toSpan, 0.425, 1e-6);
    EXPECT_NEAR(a->sink, 0.175, 1e-6);
    EXPECT_NEAR(a->noise, 0.225, 1e-6);
    EXPECT_NEAR(a->rest, 0.175, 1e-6);
}

TEST(CaptureAllocation, WithoutBosTheFirstTokenIsNoise)
{
    auto a = captureAllocation(softmaxCapture(), lastRowLayout(false));
    ASSERT_TRUE(a) << a.message();
    EXPECT_NEAR(a->toSpan, 0.425, 1e-6);
    EXPECT_NEAR(a->sink, 0.0, 1e-12);
    EXPECT_NEAR(a->noise, 0.4, 1e-6);
    EXPECT_NEAR(a->rest, 0.175, 1e-6);
}

TEST(CaptureAllocation, DiffHeadsAreNormalisedByOneMinusLambdaAndDnWins)
{
    // D rows sum to 1 - lambda = 0.5; D / 0.5 of the last row is (.1, .6, -.1, .4): the negative weight on
    // the noise token stays negative (DIFF cancels noise), it is not clipped.
    CaptureResult c;
    c.lambda = {0.5};
    c.maps.push_back(map4(0, 0, MapKind::D, {0.05f, 0.3f, -0.05f, 0.2f}, 0.5f));
    AllocationLayout layout = lastRowLayout(true);
    layout.queryRows = {2, 3}; // row 2 is uniform over keys 0..2 after normalisation: (1/3 each)
    auto a = captureAllocation(c, layout);
    ASSERT_TRUE(a) << a.message();
    EXPECT_NEAR(a->toSpan, (1.0 / 3 + 0.6) / 2, 1e-6);
    EXPECT_NEAR(a->sink, (1.0 / 3 + 0.1) / 2, 1e-6);
    EXPECT_NEAR(a->noise, (1.0 / 3 - 0.1) / 2, 1e-6);
    EXPECT_NEAR(a->rest, (0.0 + 0.4) / 2, 1e-6);
    EXPECT_EQ(a->rows, 2);

    // With DN captured too, the head is counted once, from DN as it is.
    c.maps.push_back(map4(0, 0, MapKind::DN, {0.25f, 0.25f, 0.25f, 0.25f}));
    c.maps.push_back(map4(0, 0, MapKind::A1, {1.0f, 0.0f, 0.0f, 0.0f})); // not an attention for the allocation
    layout.queryRows = {3};
    a = captureAllocation(c, layout);
    ASSERT_TRUE(a) << a.message();
    EXPECT_NEAR(a->toSpan, 0.25, 1e-6);
    EXPECT_NEAR(a->noise, 0.25, 1e-6);
    EXPECT_EQ(a->rows, 1);
}

TEST(CaptureAllocation, ErrorsNameTheProblem)
{
    CaptureResult empty;
    EXPECT_NE(captureAllocation(empty, lastRowLayout(true)).message().find("no attention map"), std::string::npos);

    CaptureResult noLambda;
    noLambda.maps.push_back(map4(1, 0, MapKind::D, {0.05f, 0.3f, -0.05f, 0.2f}, 0.5f));
    EXPECT_NE(captureAllocation(noLambda, lastRowLayout(true)).message().find("lambda"), std::string::npos);

    AllocationLayout outside = lastRowLayout(true);
    outside.spanEnd = 9;
    const std::string message = captureAllocation(softmaxCapture(), outside).message();
    EXPECT_NE(message.find("layer 0 head 0"), std::string::npos) << message;
}

} // namespace
} // namespace attn
