// SPDX-License-Identifier: GPL-3.0-or-later
// Per-split evaluation, the needle test's attention allocation per depth, and <bos> in trained sequences.
#include "attnscope/task_eval.h"
#include "attnscope/tokenizer.h"
#include "attnscope/trainer.h"
#include "engine/trainer_data.h"
#include "test_helpers.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace attn {
namespace {

using test::TempDir;

const DeviceSpec kCpu {DeviceSpec::Type::Cpu, 0};

TaskOptions smallNeedles()
{
    TaskOptions t;
    t.contextWords = 24;
    t.nNeedles = 2;
    t.seed = 3;
    return t;
}

/// A barely trained model (2 steps): enough for a loadable model with the task's vocabulary.
void makeModel(const std::string& dir, TaskKind task, const TaskOptions& t, AttentionKind attention, bool bos)
{
    TrainOptions o;
    o.outDir = dir;
    o.model.dModel = 32;
    o.model.nLayers = 2;
    o.model.nHeads = attention == AttentionKind::Diff ? 1 : 2;
    o.model.attention = attention;
    o.model.maxSeqLen = 128;
    o.task = task;
    o.taskOptions = t;
    o.steps = 2;
    o.batchSize = 4;
    o.evalEvery = 0;
    o.evalSamples = 4;
    o.addBos = bos;
    o.device = kCpu;
    Status s = train(o);
    ASSERT_TRUE(s.isOk()) << s.message();
}

TEST(TrainerBos, TheSequenceStartsWithBosAndTheAnswerHasNone)
{
    std::vector<std::string> vocab = {"<pad>", "<unk>", "<bos>", "<eos>", "print", "a", "7"};
    auto tok = WordTokenizer::fromVocab(vocab, true, /*addBos=*/true);
    ASSERT_TRUE(tok) << tok.message();
    // Initialised, not assigned: GCC 12 at -O3 in C++20 (LibTorch 2.x's standard) reports a bogus
    // -Wstringop-overflow for `s.answer = "7"`.
    TaskSample s {"a", "print a", "7"};
    const engine::EncodedSample e = engine::encodeSample(**tok, s, 64, /*withEos=*/true);
    // <bos> a print a 7 <eos>: input drops the last token, target the first.
    EXPECT_EQ(e.input, (std::vector<int64_t> {2, 5, 4, 5, 6}));
    EXPECT_EQ(e.target, (std::vector<int64_t> {5, 4, 5, 6, 3}));
    EXPECT_EQ(e.answerBegin, 3); // target[3] = "7", the first answer token, and no <bos> among the targets
}

TEST(TaskEval, FlipFlopSplitsAreEvaluatedOnTheirOwnOptions)
{
    TempDir dir;
    TaskOptions t;
    t.length = 32;
    t.seed = 11;
    makeModel(dir.path(), TaskKind::FlipFlop, t, AttentionKind::Softmax, false);
    auto splits = evaluateSplits(dir.path(), TaskKind::FlipFlop, t, 40, kCpu);
    ASSERT_TRUE(splits) << splits.message();
    ASSERT_EQ(splits->size(), 3u);
    EXPECT_EQ((*splits)[1].name, "sparse");
    EXPECT_DOUBLE_EQ((*splits)[2].options.pIgnore, 0.1);
    for (const SplitResult& s : *splits) {
        auto direct = evaluate(dir.path(), TaskKind::FlipFlop, s.options, 40, kCpu);
        ASSERT_TRUE(direct) << direct.message();
        EXPECT_EQ(s.result.samples, 40);
        EXPECT_DOUBLE_EQ(s.result.accuracy, direct->accuracy) << s.name;
        EXPECT_DOUBLE_EQ(s.result.tokenAccuracy, direct->tokenAccuracy) << s.name;
    }
}

void expectAllocation(const std::string& dir, bool bos)
{
    const TaskOptions t = smallNeedles();
    auto rows = needleAllocation(dir, t, 3, paperDepths(), kCpu);
    ASSERT_TRUE(rows) << rows.message();
    ASSERT_EQ(rows->size(), 5u);
    for (size_t k = 0; k < rows->size(); ++k) {
        const DepthAllocation& d = (*rows)[k];
        EXPECT_EQ(d.depthPercent, paperDepths()[k]);
        EXPECT_EQ(d.result.samples, 3);
        EXPECT_EQ(d.attention.rows, 3 * 4) << "4 answer digits generated per sample";
        // The four segments partition every answer-generating row, for softmax and D / (1 - lambda) rows.
        const SpanAttention& a = d.attention;
        EXPECT_NEAR(a.toSpan + a.noise + a.sink + a.rest, 1.0, 1e-4);
        EXPECT_GT(a.toSpan, 0.0);
        EXPECT_GT(std::abs(a.noise), 0.0);
        if (bos)
            EXPECT_GT(a.sink, 0.0);
        else
            EXPECT_EQ(a.sink, 0.0) << "without <bos> token 0 is a context word, counted as noise";
        TaskOptions at = t;
        at.depthPercent = d.depthPercent;
        auto direct = evaluate(dir, TaskKind::Needles, at, 3, kCpu);
        ASSERT_TRUE(direct) << direct.message();
        EXPECT_DOUBLE_EQ(d.result.accuracy, direct->accuracy);
    }
}

TEST(TaskEval, NeedleAllocationSoftmaxWithBos)
{
    TempDir dir;
    makeModel(dir.path(), TaskKind::Needles, smallNeedles(), AttentionKind::Softmax, true);
    expectAllocation(dir.path(), true);
}

TEST(TaskEval, NeedleAllocationDiffWithoutBos)
{
    TempDir dir;
    makeModel(dir.path(), TaskKind::Needles, smallNeedles(), AttentionKind::Diff, false);
    expectAllocation(dir.path(), false);
}

TEST(TaskEval, NeedleAllocationExplainsPromptsThatDoNotFit)
{
    TempDir dir;
    makeModel(dir.path(), TaskKind::Needles, smallNeedles(), AttentionKind::Softmax, true);
    TaskOptions longer = smallNeedles();
    longer.contextWords = 200;
    auto rows = needleAllocation(dir.path(), longer, 1, {50}, kCpu);
    ASSERT_FALSE(rows);
    EXPECT_NE(rows.message().find("max_seq_len"), std::string::npos) << rows.message();
}

} // namespace
} // namespace attn
