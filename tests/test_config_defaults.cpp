// SPDX-License-Identifier: GPL-3.0-or-later
// The one table of config defaults (config_defaults.h): its Hugging Face rows equal transformers' own config classes
// (tests/data/config-defaults/transformers.json, written by tests/reference/make_config_defaults.py), and every
// reader's result for a config that leaves the fields out carries the table's values: attnscope's config.json, the
// Hugging Face importer (each family), the CoPE paper's .pt checkpoints.
#include "attnscope/config.h"
#include "attnscope/config_defaults.h"
#include "attnscope/model_source.h"
#include "hf/hf_config.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <set>
#include <string>

namespace attn {
namespace {

nlohmann::json transformersDefaults()
{
    std::ifstream in(std::string(ATTNSCOPE_TEST_DATA_DIR) + "/config-defaults/transformers.json");
    return nlohmann::json::parse(in);
}

const std::set<std::string> kOwnSources = {"attnscope", "ram-cope"};

/// A fixture value as the table stores it (booleans as 0 / 1).
double tableValue(const nlohmann::json& value)
{
    return value.is_boolean() ? (value.get<bool>() ? 1.0 : 0.0) : value.get<double>();
}

TEST(ConfigDefaults, EveryRowIsNamedOnceAndSaysWhatItMeans)
{
    std::set<std::pair<std::string_view, std::string_view>> seen;
    for (const ConfigDefault& row : kConfigDefaults) {
        EXPECT_TRUE(seen.insert({row.source, row.key}).second) << row.source << " / " << row.key << " twice";
        EXPECT_FALSE(row.meaning.empty()) << row.source << " / " << row.key;
    }
    EXPECT_THROW(configDefault("llama", "no_such_field"), std::logic_error);
}

TEST(ConfigDefaults, HuggingFaceRowsEqualTransformersConfigClasses)
{
    const nlohmann::json families = transformersDefaults().at("families");
    size_t checked = 0;
    for (const ConfigDefault& row : kConfigDefaults) {
        if (kOwnSources.count(std::string(row.source)))
            continue;
        const std::string source(row.source), key(row.key);
        ASSERT_TRUE(families.contains(source)) << source << " is not a family the fixture knows";
        ASSERT_TRUE(families.at(source).contains(key)) << source << " / " << key << ": transformers has no default";
        EXPECT_DOUBLE_EQ(row.value, tableValue(families.at(source).at(key))) << source << " / " << key;
        ++checked;
    }
    EXPECT_GE(checked, 80u);
}

/// A config.json that names only the family: every field the importer reads comes from the table.
TEST(ConfigDefaults, TheHuggingFaceImporterTakesItsDefaultsFromTheTable)
{
    const nlohmann::json fixture = transformersDefaults();
    for (const auto& [family, expected] : fixture.at("families").items()) {
        SCOPED_TRACE(family);
        auto translated = hf::translateConfig({{"model_type", family}}, "config.json");
        ASSERT_TRUE(translated) << translated.message();
        const ModelConfig& c = translated->config;
        const bool gpt2 = family == "gpt2";
        EXPECT_EQ(c.vocabSize, configDefaultInt(family, "vocab_size"));
        EXPECT_EQ(c.dModel, configDefaultInt(family, gpt2 ? "n_embd" : "hidden_size"));
        EXPECT_EQ(c.nLayers, configDefaultInt(family, gpt2 ? "n_layer" : "num_hidden_layers"));
        EXPECT_EQ(c.normEps, configDefault(family, gpt2 ? "layer_norm_epsilon" : "rms_norm_eps"));
        EXPECT_EQ(c.tieEmbeddings, configDefaultBool(family, "tie_word_embeddings"));
        if (gpt2) {
            EXPECT_EQ(c.nHeads, configDefaultInt(family, "n_head"));
            EXPECT_EQ(c.maxSeqLen, configDefaultInt(family, "n_positions"));
            continue;
        }
        // DiffLlama counts sub-heads; the engine counts differential heads of two.
        const int64_t subHeads = family == "diffllama" ? 2 : 1;
        EXPECT_EQ(c.nHeads * subHeads, expected.at("num_attention_heads").get<int64_t>());
        EXPECT_EQ(c.nKvHeads * subHeads, expected.at("num_key_value_heads").get<int64_t>());
        // Qwen2Config has no head_dim: its attention uses hidden_size / heads.
        const int64_t headDim = expected.contains("head_dim")
            ? expected.at("head_dim").get<int64_t>()
            : c.dModel / expected.at("num_attention_heads").get<int64_t>();
        EXPECT_EQ(c.headDim, headDim);
        EXPECT_EQ(c.ffnHidden, configDefaultInt(family, "intermediate_size"));
        EXPECT_EQ(c.rope.theta, configDefault(family, "rope_theta"));
        if (family == "gemma2") {
            EXPECT_DOUBLE_EQ(c.arch.attnSoftcap, configDefault(family, "attn_logit_softcapping"));
            EXPECT_DOUBLE_EQ(c.arch.finalSoftcap, configDefault(family, "final_logit_softcapping"));
        }
    }
}

/// Which sizes are rules and which are values of their own: hidden_size 64 and 4 heads, as transformers reads them.
TEST(ConfigDefaults, DerivedSizesFollowTransformersRules)
{
    const nlohmann::json fixture = transformersDefaults();
    for (const auto& [family, expected] : fixture.at("hidden_size_64_heads_4").items()) {
        SCOPED_TRACE(family);
        nlohmann::json config = {{"model_type", family}, {"hidden_size", 64}, {"num_attention_heads", 4}};
        const int64_t kvHeads = expected.at("num_key_value_heads").get<int64_t>();
        auto translated = hf::translateConfig(config, "config.json");
        if (4 % kvHeads != 0) {
            // transformers keeps the class's own value (e.g. Qwen2's 32), which 4 heads cannot share: refused.
            ASSERT_FALSE(translated);
            EXPECT_NE(translated.message().find("n_kv_heads"), std::string::npos) << translated.message();
            continue;
        }
        ASSERT_TRUE(translated) << translated.message();
        const int64_t subHeads = family == "diffllama" ? 2 : 1;
        EXPECT_EQ(translated->config.nKvHeads * subHeads, kvHeads);
        EXPECT_EQ(translated->config.headDim, expected.at("head_dim").get<int64_t>());
    }
}

TEST(ConfigDefaults, AttnscopeConfigsTakeTheirOptionalFieldsFromTheTable)
{
    const std::string minimal = R"({"format": "attnscope-model", "format_version": 1, "vocab_size": 259, "d_model": 32,
        "n_layers": 1, "n_heads": 2, "head_dim": 16, "ffn_hidden": 64, "max_seq_len": 100, "attention": "softmax",
        "position": "rope+cope", "rope": {}, "cope": {}, "tokenizer": {"type": "bytes"}})";
    auto c = parseConfig(minimal);
    ASSERT_TRUE(c) << c.message();
    EXPECT_EQ(c->normEps, configDefault("attnscope", "norm_eps"));
    EXPECT_EQ(c->tieEmbeddings, configDefaultBool("attnscope", "tie_embeddings"));
    EXPECT_EQ(c->rope.theta, configDefault("attnscope", "rope.theta"));
    EXPECT_EQ(c->cope.sepKey, configDefaultBool("attnscope", "cope.sep_key"));
    EXPECT_EQ(c->cope.npos, defaultCopeNpos(100));
    EXPECT_EQ(c->tokenizer.addBos, configDefaultBool("attnscope", "tokenizer.add_bos.bytes"));
}

TEST(ConfigDefaults, CopeCheckpointsTakeTheirDefaultsFromTheTable)
{
    auto source = openModelSource(std::string(ATTNSCOPE_TEST_DATA_DIR) + "/ram-cope/cope-postnorm/cope-postnorm.pt");
    ASSERT_TRUE(source) << source.message();
    const ModelConfig& c = (*source)->config;
    EXPECT_EQ(c.normEps, configDefault("ram-cope", "layer_norm_eps"));
    EXPECT_EQ(c.tokenizer.addBos, configDefaultBool("ram-cope", "add_bos"));
}

} // namespace
} // namespace attn
