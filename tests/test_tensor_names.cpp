// SPDX-License-Identifier: GPL-3.0-or-later
// The one table of attnscope's tensor names (attnscope/tensor_names.h) against what other code wrote: every
// attnscope model file in the repository (the bundled models, written by the trainer; the reference fixtures, written
// by PyTorch) holds exactly the tensors expectedTensors lists for its config, names and shapes, and every imported
// fixture (Hugging Face folders, the CoPE paper's checkpoint, state_dict files) translates to exactly those names.
#include "attnscope/config.h"
#include "attnscope/model_format.h"
#include "attnscope/model_source.h"
#include "attnscope/safetensors.h"
#include "attnscope/tensor_names.h"
#include "fixture_models.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

namespace attn {
namespace {

using Shapes = std::map<std::string, std::vector<int64_t>>;

Shapes expectedShapes(const ModelConfig& config)
{
    Shapes out;
    for (const TensorSpec& spec : expectedTensors(config))
        EXPECT_TRUE(out.emplace(spec.name, spec.shape).second) << spec.name << " listed twice";
    return out;
}

TEST(TensorNames, EveryEntryHasOneNameThatFindsItAgain)
{
    std::set<std::string> names;
    for (const TensorEntry& e : tensorTable()) {
        EXPECT_TRUE(names.insert(e.name).second) << e.name << " twice";
        EXPECT_EQ(&tensorEntry(e.id), &e);
        int64_t layer = 99;
        if (e.part == TensorPart::Layer) {
            EXPECT_EQ(tensorName(e.id, 7), std::string("layers.7.") + e.name);
            EXPECT_EQ(findTensor(layerTensorName(12, e.id), &layer), &e) << e.name;
            EXPECT_EQ(layer, 12);
            EXPECT_EQ(findTensor(e.name), nullptr) << e.name << " without a layer is not a tensor";
        } else {
            EXPECT_EQ(tensorName(e.id, 7), e.name);
            EXPECT_EQ(findTensor(e.name, &layer), &e) << e.name;
            EXPECT_EQ(layer, -1);
            EXPECT_EQ(findTensor(std::string("layers.0.") + e.name), nullptr) << e.name << " is not a layer tensor";
        }
    }
    EXPECT_EQ(static_cast<int>(tensorTable().size()), kTensorIdCount);
}

TEST(TensorNames, ForeignNamesAreNotOurs)
{
    for (const char* name : {"", "layers.", "layers.0", "layers.0.", "layers..attn.pos_emb", "layers.x.attn.pos_emb",
             "layers.-1.attn.pos_emb", "layers.1234567890123456789012.attn.pos_emb",
             "model.layers.0.self_attn.q_proj.weight", "layers.0.attn.pos_emb.weight", "tok_embeddings",
             "lm_head.weight"})
        EXPECT_EQ(findTensor(name), nullptr) << name;
}

TEST(TensorNames, AttnscopeFilesHoldExactlyTheExpectedTensors)
{
    const std::vector<std::string> folders = test::fixtureModels().attnscope;
    ASSERT_FALSE(folders.empty());
    std::set<std::string> configsSeen; // the fixtures cover diff and softmax, every position kind, GQA, sep_key
    for (const std::string& dir : folders) {
        SCOPED_TRACE(dir);
        Result<ModelConfig> config = loadConfig(dir + "/" + kConfigFileName);
        ASSERT_TRUE(config.isOk()) << config.message();
        Result<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::open(dir + "/" + kWeightsFileName);
        ASSERT_TRUE(file.isOk()) << file.message();
        Shapes stored;
        int64_t storedElements = 0;
        for (const TensorInfo& info : (*file)->tensors()) {
            stored[info.name] = info.shape;
            storedElements += TensorSpec {info.name, info.shape}.numel();
        }
        EXPECT_EQ(stored, expectedShapes(*config));
        EXPECT_EQ(parameterCount(*config), storedElements);
        configsSeen.insert(toString(config->attention) + "/" + toString(config->position));
    }
    EXPECT_GE(configsSeen.size(), 8u);
}

TEST(TensorNames, ImportedFixturesTranslateToExactlyTheExpectedNames)
{
    const std::vector<std::string> paths = test::fixtureModels().imported;
    ASSERT_FALSE(paths.empty());
    for (const std::string& path : paths) {
        SCOPED_TRACE(path);
        Result<std::unique_ptr<ModelSource>> source = openModelSource(path);
        ASSERT_TRUE(source.isOk()) << source.message();
        std::set<std::string> translated, storedUsed;
        for (const auto& [name, recipe] : (*source)->recipes) {
            translated.insert(name);
            EXPECT_NE(findTensor(name), nullptr) << name;
            EXPECT_NE((*source)->find(recipe.source), nullptr) << recipe.source << " for " << name;
            storedUsed.insert(recipe.source);
        }
        std::set<std::string> expected;
        for (const auto& [name, shape] : expectedShapes((*source)->config))
            expected.insert(name);
        EXPECT_EQ(translated, expected);
        // Every stored tensor but the ones the source's own code ignores (rotary inv_freq buffers, GPT-2's causal mask
        // buffers, a tied head saved anyway: lm_head in transformers, out_mod in the CoPE code) feeds one of ours.
        for (const StoredTensor& t : (*source)->stored) {
            const bool ignoredByTransformers = t.name.find("inv_freq") != std::string::npos
                || t.name.find("attn.bias") != std::string::npos || t.name.find("masked_bias") != std::string::npos
                || ((t.name == "lm_head.weight" || t.name == "out_mod.weight") && (*source)->config.tieEmbeddings);
            if (!ignoredByTransformers) {
                EXPECT_TRUE(storedUsed.count(t.name)) << t.name << " is not translated to any of our tensors";
            }
        }
    }
}

} // namespace
} // namespace attn
