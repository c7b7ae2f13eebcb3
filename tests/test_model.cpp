// SPDX-License-Identifier: GPL-3.0-or-later
// Model loading (with the errors a user sees), capture semantics, cancellation, progress, generation,
// bf16 against fp32, and seeded init.
#include "attnscope/fileio.h"
#include "attnscope/model.h"
#include "attnscope/model_format.h"
#include "model_fixture.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <filesystem>

using namespace attn;
using namespace attn::test;

namespace {

CaptureRequest allMaps(const Model& m, const std::string& prompt, bool logits = false)
{
    CaptureRequest r {m.tokenizer().encode(prompt), {}, availableMapKinds(m.config(), logits)};
    for (int64_t layer = 0; layer < m.config().nLayers; ++layer)
        for (int64_t head = 0; head < m.config().nHeads; ++head)
            r.heads.push_back({layer, head});
    return r;
}

double rowSum(const AttentionMap& map, int64_t row)
{
    double sum = 0.0;
    for (int64_t j = 0; j <= row; ++j)
        sum += map.at(row, j);
    return sum;
}

} // namespace

TEST(ModelLoad, MissingDirectoryAndMissingConfigAreNamed)
{
    TempDir dir;
    auto missing = Model::load(dir.file("nope"));
    ASSERT_FALSE(missing);
    EXPECT_NE(missing.message().find("no such model folder or checkpoint file"), std::string::npos) << missing.message();
    auto empty = Model::load(dir.path());
    ASSERT_FALSE(empty);
    EXPECT_NE(empty.message().find("config.json"), std::string::npos) << empty.message();
}

TEST(ModelLoad, ConfigThatDoesNotMatchTheWeightsListsEveryProblem)
{
    TempDir dir;
    const std::string path = writeModel(dir, "m", smallConfig(AttentionKind::Diff, PositionKind::Rope));
    // Claim a different width and one more layer than the weights have.
    ModelConfig wrong = smallConfig(AttentionKind::Diff, PositionKind::Rope);
    wrong.dModel = 48;
    wrong.nLayers = 3;
    ASSERT_TRUE(writeFileAtomic(path + "/config.json", configToJson(wrong)));
    auto model = Model::load(path);
    ASSERT_FALSE(model);
    const std::string& msg = model.message();
    EXPECT_NE(msg.find("do not match"), std::string::npos) << msg;
    EXPECT_NE(msg.find("missing tensors"), std::string::npos) << msg;
    EXPECT_NE(msg.find("layers.2.attn.q_proj.weight"), std::string::npos) << msg;
    EXPECT_NE(msg.find("wrong shapes"), std::string::npos) << msg;
    EXPECT_NE(msg.find("tok_embeddings.weight"), std::string::npos) << msg;
}

TEST(ModelLoad, TruncatedWeightsFileIsReportedNotCrashed)
{
    TempDir dir;
    const std::string path = writeModel(dir, "m", smallConfig(AttentionKind::Softmax, PositionKind::Cope));
    const std::string weights = path + "/model.safetensors";
    std::filesystem::resize_file(weights, std::filesystem::file_size(weights) / 2);
    auto model = Model::load(path);
    ASSERT_FALSE(model);
    EXPECT_NE(model.message().find("model.safetensors"), std::string::npos) << model.message();
}

TEST(ModelLoad, ReportsSizeHashAndDevice)
{
    TempDir dir;
    const ModelConfig config = smallConfig(AttentionKind::Diff, PositionKind::RopeCope);
    const std::string path = writeModel(dir, "m", config);
    auto model = Model::load(path, {});
    ASSERT_TRUE(model) << model.message();
    EXPECT_EQ((*model)->parameterCount(), parameterCount(config));
    EXPECT_EQ((*model)->weightsHash().size(), 64u);
    EXPECT_EQ((*model)->deviceName(), cudaAvailable() ? "cuda:0" : "cpu");
}

TEST(ModelInit, SameSeedSameWeightsOtherSeedOtherWeights)
{
    TempDir dir;
    const ModelConfig config = smallConfig(AttentionKind::Softmax, PositionKind::Rope);
    const std::string a = writeModel(dir, "a", config, 11);
    const std::string b = writeModel(dir, "b", config, 11);
    const std::string c = writeModel(dir, "c", config, 12);
    EXPECT_EQ(sha256File(a + "/model.safetensors").value(), sha256File(b + "/model.safetensors").value());
    EXPECT_NE(sha256File(a + "/model.safetensors").value(), sha256File(c + "/model.safetensors").value());
    const Status again = initRandomModel(a, config, 11, /*overwrite=*/false);
    EXPECT_FALSE(again);
    EXPECT_NE(again.message().find("already holds a model"), std::string::npos) << again.message();
}

TEST(ModelCapture, BadRequestsGetSpecificMessages)
{
    TempDir dir;
    auto model = Model::load(writeModel(dir, "m", smallConfig(AttentionKind::Softmax, PositionKind::Learned)));
    ASSERT_TRUE(model) << model.message();
    Model& m = **model;
    auto expectError = [&](const CaptureRequest& r, const std::string& needle) {
        auto result = m.capture(r);
        ASSERT_FALSE(result);
        EXPECT_NE(result.message().find(needle), std::string::npos) << result.message();
    };
    expectError({{}, {}, {}}, "empty");
    expectError({std::vector<int64_t>(65, 65), {}, {}}, "max_seq_len");
    expectError({{1, 2, 999}, {}, {}}, "outside the vocabulary");
    expectError({{1, 2}, {{5, 0}}, {MapKind::A}}, "layer 5 does not exist");
    expectError({{1, 2}, {{0, 7}}, {MapKind::A}}, "head 7 does not exist");
    expectError({{1, 2}, {{0, 0}}, {MapKind::D}}, "map kind D does not exist");
}

TEST(ModelCapture, MasksAreNanAndDistributionsSumToOne)
{
    TempDir dir;
    auto model = Model::load(writeModel(dir, "m", smallConfig(AttentionKind::Softmax, PositionKind::Cope)));
    ASSERT_TRUE(model) << model.message();
    auto result = (*model)->capture(allMaps(**model, "Alice was tired. She tried reading."));
    ASSERT_TRUE(result) << result.message();
    const int64_t n = static_cast<int64_t>(result->tokens.size());
    for (const AttentionMap& map : result->maps) {
        ASSERT_EQ(map.rows, n);
        ASSERT_EQ(map.cols, n);
        for (int64_t i = 0; i < n; ++i)
            for (int64_t j = 0; j < n; ++j)
                ASSERT_EQ(std::isnan(map.at(i, j)), j > i) << toString(map.kind) << " " << i << "," << j;
    }
    const AttentionMap* a = result->find(1, 1, MapKind::A);
    const AttentionMap* g = result->find(1, 1, MapKind::G);
    const AttentionMap* p = result->find(1, 1, MapKind::P);
    ASSERT_TRUE(a && g && p);
    for (int64_t i = 0; i < n; ++i) {
        EXPECT_NEAR(rowSum(*a, i), 1.0, 1e-5);
        // P[i][0] counts every gate of row i (npos exceeds the prompt, so nothing clamps).
        EXPECT_NEAR(p->at(i, 0), rowSum(*g, i), 1e-4);
        EXPECT_NEAR(p->at(i, i), g->at(i, i), 1e-6);
    }
    EXPECT_EQ(result->lastLogits.size(), 259u);
    EXPECT_TRUE(result->lambda.empty());
}

TEST(ModelCapture, OnlyRequestedHeadsAndKindsAreReturned)
{
    TempDir dir;
    auto model = Model::load(writeModel(dir, "m", smallConfig(AttentionKind::Diff, PositionKind::Rope)));
    ASSERT_TRUE(model) << model.message();
    CaptureRequest r {(*model)->tokenizer().encode("hello"), {{1, 0}, {1, 0}}, {MapKind::D, MapKind::A2}};
    auto result = (*model)->capture(r);
    ASSERT_TRUE(result) << result.message();
    ASSERT_EQ(result->maps.size(), 2u);
    EXPECT_TRUE(result->find(1, 0, MapKind::D));
    EXPECT_TRUE(result->find(1, 0, MapKind::A2));
    ASSERT_EQ(result->lambda.size(), 2u); // lambda of every layer, whatever was captured
    const AttentionMap& d = *result->find(1, 0, MapKind::D);
    for (int64_t i = 0; i < d.rows; ++i)
        EXPECT_NEAR(rowSum(d, i), 1.0 - result->lambda[1], 1e-5);
}

TEST(ModelCapture, CancelStopsTheRunAndProgressCountsLayers)
{
    TempDir dir;
    auto model = Model::load(writeModel(dir, "m", smallConfig(AttentionKind::Softmax, PositionKind::Rope)));
    ASSERT_TRUE(model) << model.message();
    std::atomic<bool> cancel {false};
    std::vector<int64_t> seen;
    RunControl control;
    control.cancel = &cancel;
    control.onLayer = [&](int64_t done, int64_t total) {
        seen.push_back(done);
        EXPECT_EQ(total, 2);
        cancel = true; // cancel after the first layer
    };
    auto result = (*model)->capture(allMaps(**model, "some text"), control);
    ASSERT_FALSE(result);
    EXPECT_NE(result.message().find("cancelled"), std::string::npos) << result.message();
    EXPECT_EQ(seen, (std::vector<int64_t> {1}));
    // The model is still usable afterwards.
    cancel = false;
    control.onLayer = nullptr;
    EXPECT_TRUE((*model)->capture(allMaps(**model, "some text"), control));
}

TEST(ModelGenerate, GreedyDecodingIsDeterministicAndBounded)
{
    TempDir dir;
    auto model = Model::load(writeModel(dir, "m", smallConfig(AttentionKind::Diff, PositionKind::Cope)));
    ASSERT_TRUE(model) << model.message();
    const std::vector<int64_t> prompt = (*model)->tokenizer().encode("abc");
    auto first = (*model)->generate(prompt, 5);
    auto second = (*model)->generate(prompt, 5);
    ASSERT_TRUE(first) << first.message();
    ASSERT_TRUE(second);
    EXPECT_EQ(*first, *second);
    EXPECT_GE(first->size(), 1u);
    EXPECT_LE(first->size(), 5u);
    // The first generated token is the argmax of the prompt's last-position logits.
    auto capture = (*model)->capture({prompt, {}, {}});
    ASSERT_TRUE(capture);
    const auto& logits = capture->lastLogits;
    EXPECT_EQ((*first)[0], std::max_element(logits.begin(), logits.end()) - logits.begin());
    auto tooMany = (*model)->generate(prompt, 100);
    ASSERT_FALSE(tooMany);
    EXPECT_NE(tooMany.message().find("max_seq_len"), std::string::npos);
}

TEST(ModelCapture, Bf16MapsStayCloseToFp32)
{
    TempDir dir;
    const std::string path = writeModel(dir, "m", smallConfig(AttentionKind::Diff, PositionKind::RopeCope));
    LoadOptions bf16;
    bf16.device.type = DeviceSpec::Type::Cpu;
    bf16.dtype = ComputeDType::BF16;
    LoadOptions fp32;
    fp32.device.type = DeviceSpec::Type::Cpu;
    auto a = Model::load(path, fp32);
    auto b = Model::load(path, bf16);
    ASSERT_TRUE(a && b);
    auto ra = (*a)->capture(allMaps(**a, "The quick brown fox"));
    auto rb = (*b)->capture(allMaps(**b, "The quick brown fox"));
    ASSERT_TRUE(ra && rb) << rb.message();
    for (const AttentionMap& ma : ra->maps) {
        if (ma.kind == MapKind::B1 || ma.kind == MapKind::B2 || ma.kind == MapKind::P1 || ma.kind == MapKind::P2)
            continue; // position logits and counts are unbounded: compared relative below
        const AttentionMap* mb = rb->find(ma.layer, ma.head, ma.kind);
        ASSERT_TRUE(mb);
        double worst = 0.0;
        for (size_t i = 0; i < ma.values.size(); ++i)
            if (!std::isnan(ma.values[i]))
                worst = std::max(worst, static_cast<double>(std::fabs(ma.values[i] - mb->values[i])));
        EXPECT_LE(worst, 5e-2) << toString(ma.kind); // bf16 has ~3 significant digits, through 2 layers
        EXPECT_GT(worst, 0.0) << "bf16 should differ from fp32 somewhere; is the dtype applied?";
    }
}
