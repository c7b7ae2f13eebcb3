// SPDX-License-Identifier: GPL-3.0-or-later
// The real RAM CoPE checkpoint (tests/data/ram-cope/cope-postnorm, written by the official code under torch
// 1.13) against what torch.load reads from it (tests/data/pt/cope-postnorm.expected.json) and its README.
#include "test_pt_zip.h"

#include "attnscope/pt_checkpoint.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <map>
#include <set>

namespace attn {
namespace {

using Kind = PickleValue::Kind;
using nlohmann::json;

json expectedCope()
{
    std::ifstream in(test::ptDataDir() + "/cope-postnorm.expected.json");
    EXPECT_TRUE(in);
    return json::parse(in);
}

std::string copePath()
{
    return test::copeDir() + "/cope-postnorm.pt";
}

// The float64 checksums make_pt_fixtures.py computed with torch.
void expectSummary(const PtTensor& t, const json& e, const std::string& name)
{
    SCOPED_TRACE(name);
    EXPECT_EQ(t.shape, e.at("shape").get<std::vector<int64_t>>());
    EXPECT_EQ(e.at("dtype").get<std::string>(), "float32");
    EXPECT_EQ(t.dtype, PtScalarType::F32);
    const std::vector<float> v = t.toFloat32();
    ASSERT_FALSE(v.empty());
    double sum = 0, absSum = 0, weighted = 0;
    for (std::size_t i = 0; i < v.size(); ++i) {
        sum += v[i];
        absSum += std::fabs(v[i]);
        weighted += static_cast<double>(i + 1) * v[i];
    }
    // Same float32 inputs summed in float64; only the summation order differs.
    const double tol = 1e-9 * (1.0 + e.at("abs_sum").get<double>()) * static_cast<double>(v.size());
    EXPECT_NEAR(sum, e.at("sum").get<double>(), tol);
    EXPECT_NEAR(absSum, e.at("abs_sum").get<double>(), tol);
    EXPECT_NEAR(weighted, e.at("weighted_sum").get<double>(), tol * static_cast<double>(v.size()));
    const auto first = e.at("first").get<std::vector<double>>();
    for (std::size_t i = 0; i < first.size(); ++i)
        EXPECT_EQ(v[i], static_cast<float>(first[i]));
    EXPECT_EQ(v.back(), static_cast<float>(e.at("last").get<double>()));
}

TEST(PtRamCheckpoint, StateDictMatchesTorchAndTheReadme)
{
    const json e = expectedCope();
    auto checkpoint = PtCheckpoint::open(copePath());
    ASSERT_TRUE(checkpoint) << checkpoint.message();
    const PtCheckpoint& ck = **checkpoint;
    EXPECT_EQ(ck.archivePrefix(), "cope-postnorm");

    std::vector<std::string> topKeys;
    for (const auto& entry : ck.root().entries())
        topKeys.push_back(entry.first->asString());
    EXPECT_EQ(topKeys, e.at("top_keys").get<std::vector<std::string>>());

    auto model = listTensors(*ck.root().find("model"), "model");
    ASSERT_TRUE(model) << model.message();
    const json& expectedModel = e.at("model");
    ASSERT_EQ(model->size(), expectedModel.size());
    ASSERT_EQ(model->size(), 36u); // README: 36 entries
    std::map<const PtStorage*, std::vector<std::string>> byStorage;
    for (std::size_t i = 0; i < model->size(); ++i) {
        const PtNamedTensor& t = (*model)[i];
        EXPECT_EQ(t.name, expectedModel[i][0].get<std::string>());
        EXPECT_EQ(t.name.rfind("module.", 0), 0u);
        expectSummary(*t.tensor, expectedModel[i][1], t.name);
        byStorage[t.tensor->storage].push_back(t.name);
    }
    EXPECT_EQ(byStorage.size(), e.at("distinct_storages").get<std::size_t>());
    EXPECT_EQ(byStorage.size(), 35u); // README: 35 distinct storages
    std::vector<std::vector<std::string>> aliases;
    for (const auto& [storage, names] : byStorage) {
        if (names.size() > 1)
            aliases.push_back(names);
    }
    EXPECT_EQ(aliases, e.at("alias_groups").get<std::vector<std::vector<std::string>>>());
    ASSERT_EQ(aliases.size(), 1u);
    EXPECT_EQ(aliases[0], (std::vector<std::string> {"module.embed_toks.weight", "module.out_mod.weight"}));
    // README: the storages are 140 records of data/<key>; every one the pickle references is distinct per key.
    std::set<std::string> keys;
    for (const PtStorage* storage : ck.storages())
        keys.insert(storage->key);
    EXPECT_EQ(keys.size(), 140u);
}

TEST(PtRamCheckpoint, OptimizerLoggerAndTokenizerAreInertValues)
{
    const json e = expectedCope();
    auto checkpoint = PtCheckpoint::open(copePath());
    ASSERT_TRUE(checkpoint) << checkpoint.message();
    const PickleValue& root = (*checkpoint)->root();

    const PickleValue* state = root.find("optimizer")->find("state");
    ASSERT_TRUE(state && state->is(Kind::Dict));
    EXPECT_EQ(state->entries().size(), e.at("optimizer").at("state_count").get<std::size_t>());
    const PickleValue* first = state->entries()[0].second;
    EXPECT_EQ(state->entries()[0].first->asInt(), 0);
    const PtTensor& step = first->find("step")->tensor();
    EXPECT_TRUE(step.shape.empty());
    EXPECT_EQ(step.toFloat32()[0], e.at("optimizer").at("state0_step").get<float>());
    expectSummary(first->find("exp_avg")->tensor(), e.at("optimizer").at("state0_exp_avg"), "exp_avg");
    const PickleValue* group = root.find("optimizer")->find("param_groups")->items().at(0);
    EXPECT_EQ(group->find("lr")->asFloat(), e.at("optimizer").at("lr").get<double>());
    ASSERT_TRUE(group->find("betas")->is(Kind::Tuple));
    EXPECT_EQ(group->find("betas")->items()[1]->asFloat(), e.at("optimizer").at("betas")[1].get<double>());

    const PickleValue* logger = root.find("logger");
    EXPECT_EQ(logger->find("log")->items().size(), e.at("logger").at("epochs").get<std::size_t>());
    const PickleValue* metrics = logger->find("metrics");
    ASSERT_EQ(metrics->entries().size(), e.at("logger").at("metric_count").get<std::size_t>());
    EXPECT_EQ(metrics->entries()[0].first->asString(), e.at("logger").at("first_metric_name").get<std::string>());
    const PickleValue* metric = metrics->entries()[0].second;
    EXPECT_TRUE(metric->isObjectOf("src.utils.logger", "Metric")); // never imported: an inert object
    EXPECT_EQ(metric->attr("name")->asString(), e.at("logger").at("first_metric_name").get<std::string>());
    const PickleValue* lastEpoch = logger->find("log")->items().back();
    for (const auto& [name, value] : e.at("logger").at("last_epoch").items()) {
        ASSERT_NE(lastEpoch->find(name), nullptr) << name;
        const PickleValue& v = *lastEpoch->find(name);
        EXPECT_EQ(v.is(Kind::Int) ? static_cast<double>(v.asInt()) : v.asFloat(), value.get<double>()) << name;
    }
}

void expectConfig(const RamConfig& c, const json& cfg)
{
    EXPECT_EQ(c.model, cfg.at("model").get<std::string>());
    EXPECT_EQ(c.nlayers, cfg.at("nlayers").get<int64_t>());
    EXPECT_EQ(c.hidSz, cfg.at("hid_sz").get<int64_t>());
    EXPECT_EQ(c.nheads, cfg.at("nheads").get<int64_t>());
    EXPECT_EQ(c.headDim, cfg.at("head_dim").get<int64_t>());
    EXPECT_EQ(c.ffSz, cfg.at("ff_sz").get<int64_t>());
    EXPECT_EQ(c.posEmb, cfg.at("pos_emb").get<std::string>());
    EXPECT_EQ(c.blockSize, cfg.at("block_size").get<int64_t>());
    EXPECT_EQ(c.relPosMax.has_value(), !cfg.at("rel_pos_max").is_null());
    EXPECT_EQ(c.relPosExtend, cfg.at("rel_pos_extend").get<bool>());
    EXPECT_EQ(c.postNorm, cfg.at("post_norm").get<bool>());
    EXPECT_EQ(c.embTie, cfg.at("emb_tie").get<bool>());
    ASSERT_TRUE(cfg.at("cope_npos").is_null()); // so npos is block_size + 1 (README)
    EXPECT_EQ(c.copeNpos, cfg.at("block_size").get<int64_t>() + 1);
    EXPECT_EQ(c.copeSepKey, cfg.at("cope_sep_key").get<bool>());
    EXPECT_EQ(c.copeValGates, cfg.at("cope_val_gates").get<bool>());
    EXPECT_EQ(c.copeNodiv, cfg.at("cope_nodiv").get<bool>());
    EXPECT_EQ(c.copeLayers, cfg.at("cope_layers").get<int64_t>());
    EXPECT_EQ(c.copeShared, cfg.at("cope_shared").get<bool>());
    EXPECT_EQ(c.drop, cfg.at("drop").get<double>());
    ASSERT_TRUE(c.nvocab.has_value());
    EXPECT_EQ(*c.nvocab, cfg.at("nvocab").get<int64_t>());
}

TEST(PtRamCheckpoint, ReadRamCheckpointGivesConfigWeightsAndVocabulary)
{
    const json e = expectedCope();
    auto ram = readRamCheckpoint(copePath());
    ASSERT_TRUE(ram) << ram.message();
    expectConfig(ram->cfg, e.at("cfg"));
    // The README's command line: --nlayers 2 --hid-sz 64 --nheads 2 --block-size 128 --emb-tie --post-norm
    // --pos-emb cope.
    EXPECT_EQ(ram->cfg.nlayers, 2);
    EXPECT_EQ(ram->cfg.hidSz, 64);
    EXPECT_TRUE(ram->cfg.postNorm && ram->cfg.embTie);
    EXPECT_FALSE(ram->cfgOnly);
    EXPECT_TRUE(ram->hadModulePrefix);
    ASSERT_EQ(ram->tensors.size(), 36u);
    EXPECT_EQ(ram->tensors.front().name, "embed_toks.weight");
    EXPECT_EQ(ram->tensors.back().name, "out_mod.weight");
    EXPECT_EQ(ram->tensors.front().tensor->storage, ram->tensors.back().tensor->storage);
    EXPECT_EQ(ram->ind2word, e.at("ind2word").get<std::vector<std::string>>());
    EXPECT_EQ(ram->ind2word.size(), 21u);
    EXPECT_EQ(ram->ind2word.size(), e.at("word2ind_size").get<std::size_t>());
}

TEST(PtRamCheckpoint, TheCfgCompanionFileHasTheSameNamespace)
{
    const json e = expectedCope();
    auto ram = readRamCheckpoint(copePath() + ".cfg");
    ASSERT_TRUE(ram) << ram.message();
    EXPECT_TRUE(ram->cfgOnly);
    EXPECT_EQ(ram->file->archivePrefix(), "cope-postnorm.pt");
    EXPECT_TRUE(ram->tensors.empty());
    expectConfig(ram->cfg, e.at("cfg"));
}

TEST(PtRamCheckpoint, DefaultsApplyWhenFieldsAreAbsent)
{
    // namespace.pt has no head_dim/ff_sz, and cope_npos=None: the parser's derived defaults apply.
    auto ram = readRamCheckpoint(test::ptDataDir() + "/namespace.pt");
    ASSERT_TRUE(ram) << ram.message();
    EXPECT_EQ(ram->cfg.hidSz, 48);
    EXPECT_EQ(ram->cfg.headDim, 12);
    EXPECT_EQ(ram->cfg.ffSz, 192);
    EXPECT_EQ(ram->cfg.copeNpos, 17);
    EXPECT_EQ(ram->cfg.copeLayers, 1);
    EXPECT_FALSE(ram->cfg.nvocab.has_value());
}

TEST(PtRamCheckpoint, NonRamFilesAreRefusedWithWhatTheyHold)
{
    auto ram = readRamCheckpoint(test::ptDataDir() + "/dtypes.pt");
    ASSERT_FALSE(ram);
    EXPECT_NE(ram.message().find("not a RAM checkpoint: the top level is a dict of 10"), std::string::npos)
        << ram.message();
}

} // namespace
} // namespace attn
