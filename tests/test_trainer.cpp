// SPDX-License-Identifier: GPL-3.0-or-later
// The trainer: a tiny run learns, resume continues the same run, cancel checkpoints, evaluate agrees.
#include "attnscope/fileio.h"
#include "attnscope/init.h"
#include "attnscope/safetensors.h"
#include "attnscope/trainer.h"
#include "engine/weights.h"
#include "test_helpers.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <memory>

namespace attn {
namespace {

using test::TempDir;
using json = nlohmann::json;

TaskOptions tinyCounting()
{
    TaskOptions t;
    t.nVars = 1;
    t.maxSteps = 8;
    return t;
}

TrainOptions tinyRun(const std::string& dir, int64_t steps)
{
    TrainOptions o;
    o.outDir = dir;
    o.model.dModel = 32;
    o.model.nLayers = 2;
    o.model.nHeads = 2;
    o.model.maxSeqLen = 64;
    o.model.position = PositionKind::Rope;
    o.task = TaskKind::Counting;
    o.taskOptions = tinyCounting();
    o.steps = steps;
    o.batchSize = 32;
    o.lr = 3e-3;
    o.warmupSteps = 20;
    o.evalEvery = 0;
    o.evalSamples = 64;
    o.checkpointEvery = 0;
    o.logEvery = 1;
    o.seed = 7;
    o.device.type = DeviceSpec::Type::Cpu;
    return o;
}

json readJson(const std::string& path)
{
    auto text = readFile(path);
    EXPECT_TRUE(text.isOk()) << text.message();
    return text ? json::parse(*text) : json();
}

/// One trained tiny model shared by the tests that only read it.
class TrainerTrained : public ::testing::Test {
protected:
    static void SetUpTestSuite()
    {
        dir = std::make_unique<TempDir>();
        Status s = train(tinyRun(dir->path(), 200), [](const TrainProgress& p) { losses.push_back(p.loss); });
        ASSERT_TRUE(s.isOk()) << s.message();
    }
    static void TearDownTestSuite() { dir.reset(); }
    static std::unique_ptr<TempDir> dir;
    static std::vector<double> losses;
};
std::unique_ptr<TempDir> TrainerTrained::dir;
std::vector<double> TrainerTrained::losses;

double mean(const std::vector<double>& v, size_t begin, size_t end)
{
    double sum = 0;
    for (size_t i = begin; i < end; ++i)
        sum += v[i];
    return sum / static_cast<double>(end - begin);
}

TEST_F(TrainerTrained, LossFallsFarBelowItsStart)
{
    ASSERT_EQ(losses.size(), 200u);
    const double first = mean(losses, 0, 10);
    const double last = mean(losses, 190, 200);
    EXPECT_LT(last, 0.4 * first) << "first " << first << " last " << last;
    const json log = readJson(dir->file("train.json"));
    EXPECT_EQ(log.at("losses").size(), 200u);
    EXPECT_EQ(log.at("step").get<int64_t>(), 200);
    EXPECT_TRUE(log.at("finished").get<bool>());
    EXPECT_EQ(log.at("evals").size(), 1u);
    EXPECT_EQ(log.at("device").get<std::string>(), "cpu");
    EXPECT_TRUE(fileExists(dir->file("checkpoint.safetensors")));
    EXPECT_TRUE(Model::load(dir->path()).isOk());
}

TEST_F(TrainerTrained, EvaluateBeatsRandomInit)
{
    TaskOptions heldOut = tinyCounting();
    heldOut.seed = 7 + 1000003;
    auto trained = evaluate(dir->path(), TaskKind::Counting, heldOut, 128, DeviceSpec {DeviceSpec::Type::Cpu, 0});
    ASSERT_TRUE(trained.isOk()) << trained.message();
    EXPECT_EQ(trained->samples, 128);
    EXPECT_GE(trained->accuracy, 0.0);
    EXPECT_LE(trained->accuracy, 1.0);

    TempDir randomDir;
    auto loaded = Model::load(dir->path());
    ASSERT_TRUE(loaded.isOk()) << loaded.message();
    const ModelConfig config = (*loaded)->config();
    auto vocab = taskVocabulary(TaskKind::Counting, tinyCounting());
    ASSERT_TRUE(initRandomModel(randomDir.path(), config, 99, false, vocab).isOk());
    auto random = evaluate(randomDir.path(), TaskKind::Counting, heldOut, 128, DeviceSpec {DeviceSpec::Type::Cpu, 0});
    ASSERT_TRUE(random.isOk()) << random.message();
    EXPECT_GT(trained->accuracy, random->accuracy) << "trained " << trained->accuracy << " random " << random->accuracy;
    EXPECT_GT(trained->tokenAccuracy, random->tokenAccuracy);
}

std::map<std::string, at::Tensor> readAll(const std::string& path)
{
    std::map<std::string, at::Tensor> out;
    auto file = SafetensorsFile::open(path);
    EXPECT_TRUE(file.isOk()) << file.message();
    if (file)
        for (const TensorInfo& info : (*file)->tensors())
            out[info.name] = engine::readTensor(**file, info);
    return out;
}

TEST(Trainer, ResumeContinuesTheSameRun)
{
    TempDir a, b;
    ASSERT_TRUE(train(tinyRun(a.path(), 40)).isOk());

    std::atomic<bool> stop {false};
    Status first = train(
        tinyRun(b.path(), 40), [&](const TrainProgress& p) { stop = p.step == 20; }, &stop);
    ASSERT_FALSE(first.isOk());
    EXPECT_NE(first.message().find("cancelled at step 20"), std::string::npos) << first.message();
    TrainOptions resume = tinyRun(b.path(), 40);
    resume.resume = true;
    Status second = train(resume);
    ASSERT_TRUE(second.isOk()) << second.message();

    const auto ta = readAll(a.file("model.safetensors"));
    const auto tb = readAll(b.file("model.safetensors"));
    ASSERT_EQ(ta.size(), tb.size());
    for (const auto& [name, t] : ta) {
        ASSERT_TRUE(tb.count(name)) << name;
        EXPECT_LT((t - tb.at(name)).abs().max().item<double>(), 1e-6) << name;
    }
    const json la = readJson(a.file("train.json")).at("losses");
    const json lb = readJson(b.file("train.json")).at("losses");
    ASSERT_EQ(la.size(), 40u);
    ASSERT_EQ(lb.size(), 40u);
    for (size_t i = 20; i < 40; ++i) {
        EXPECT_EQ(la[i][0].get<int64_t>(), lb[i][0].get<int64_t>());
        EXPECT_NEAR(la[i][1].get<double>(), lb[i][1].get<double>(), 1e-6) << "step " << i + 1;
    }
}

TEST(Trainer, CancelSavesACheckpoint)
{
    TempDir dir;
    std::atomic<bool> cancel {true};
    Status s = train(tinyRun(dir.path(), 10), {}, &cancel);
    ASSERT_FALSE(s.isOk());
    EXPECT_NE(s.message().find("cancelled at step 0"), std::string::npos) << s.message();
    EXPECT_TRUE(fileExists(dir.file("model.safetensors")));
    EXPECT_TRUE(fileExists(dir.file("checkpoint.safetensors")));
    EXPECT_EQ(readJson(dir.file("train_state.json")).at("step").get<int64_t>(), 0);
}

TEST(Trainer, RefusesANonEmptyDirectoryWithoutResume)
{
    TempDir dir;
    test::writeBytes(dir.file("notes.txt"), "mine");
    Status s = train(tinyRun(dir.path(), 5));
    ASSERT_FALSE(s.isOk());
    EXPECT_NE(s.message().find("not empty"), std::string::npos) << s.message();
    EXPECT_FALSE(fileExists(dir.file("model.safetensors")));
}

} // namespace
} // namespace attn
