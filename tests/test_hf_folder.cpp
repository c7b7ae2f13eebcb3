// SPDX-License-Identifier: GPL-3.0-or-later
//
// Opening Hugging Face folders: what is read, and that everything attnscope cannot represent is refused by name
// before any weight is loaded (openModelSource, torch-free). The numbers themselves are checked against transformers
// in test_hf_models.cpp.

#include "attnscope/model_source.h"
#include "attnscope/safetensors.h"
#include "test_helpers.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <sstream>
#include <string>

namespace fs = std::filesystem;

namespace {

const std::string kHf = std::string(ATTNSCOPE_TEST_DATA_DIR) + "/hf";

nlohmann::json readJson(const std::string& path)
{
    std::ifstream in(path);
    std::ostringstream text;
    text << in.rdbuf();
    return nlohmann::json::parse(text.str());
}

void writeJson(const std::string& path, const nlohmann::json& value)
{
    attn::test::writeBytes(path, value.dump(2));
}

/// A writable copy of a fixture folder.
struct FolderCopy {
    explicit FolderCopy(const std::string& fixture)
    {
        fs::copy(kHf + "/" + fixture, dir(), fs::copy_options::recursive);
    }
    std::string dir() const { return tmp.path() + "/model"; }
    std::string file(const std::string& name) const { return dir() + "/" + name; }
    void editConfig(const std::function<void(nlohmann::json&)>& edit) const
    {
        nlohmann::json config = readJson(file("config.json"));
        edit(config);
        writeJson(file("config.json"), config);
    }
    attn::test::TempDir tmp;
};

std::string openError(const std::string& dir)
{
    auto source = attn::openModelSource(dir);
    EXPECT_FALSE(source.isOk()) << dir << " opened although it should have been refused";
    return source.isOk() ? std::string() : source.message();
}

#define EXPECT_MENTIONS(message, text) EXPECT_NE((message).find(text), std::string::npos) << (message)

TEST(HfFolder, OpensLlamaWithStoredDtypeAndTiedHead)
{
    auto source = attn::openModelSource(kHf + "/llama3_tied_bf16");
    ASSERT_TRUE(source.isOk()) << source.message();
    const attn::ModelSource& s = **source;
    EXPECT_EQ(s.format, "huggingface");
    EXPECT_EQ(s.config.arch.family, "llama");
    EXPECT_TRUE(s.config.tieEmbeddings);
    EXPECT_EQ(s.config.rope.scaling.type, attn::RopeScalingType::Llama3);
    EXPECT_EQ(s.config.rope.style, attn::RopeStyle::RotateHalf);
    EXPECT_EQ(s.config.nKvHeads, 2);
    ASSERT_NE(s.find("model.embed_tokens.weight"), nullptr);
    EXPECT_EQ(s.find("model.embed_tokens.weight")->dtype, attn::DType::BF16); // kept as stored
    EXPECT_EQ(s.recipes.count("output.weight"), 0u); // tied: the embedding serves
    EXPECT_EQ(s.recipes.at("layers.1.attn.out_proj.weight").source, "model.layers.1.self_attn.o_proj.weight");
}

TEST(HfFolder, ReadsShardsThroughTheIndex)
{
    auto source = attn::openModelSource(kHf + "/llama_linear_bias_sharded");
    ASSERT_TRUE(source.isOk()) << source.message();
    EXPECT_EQ((*source)->weightFiles.size(), 6u);
    EXPECT_TRUE((*source)->config.arch.qkvBias);
    EXPECT_TRUE((*source)->config.arch.mlpBias);
}

TEST(HfFolder, DiffLlamaBecomesDifferentialHeadsWithInterleavedSubHeads)
{
    auto source = attn::openModelSource(kHf + "/diffllama_gqa");
    ASSERT_TRUE(source.isOk()) << source.message();
    const attn::ModelConfig& c = (*source)->config;
    EXPECT_TRUE(c.isDiff());
    EXPECT_EQ(c.nHeads, 4); // 8 sub-heads as stored
    EXPECT_EQ(c.nKvHeads, 2); // 4 kv sub-heads as stored
    EXPECT_DOUBLE_EQ(c.arch.sublnEps, c.normEps);
    // q sub-head 2h + g <- DiffLlama sub-head g H + h: rows of sub-heads 0, 4, 1, 5, ...
    const attn::TensorRecipe& q = (*source)->recipes.at("layers.0.attn.q_proj.weight");
    ASSERT_EQ(q.rows.size(), 8u);
    const int64_t d = c.headDim;
    EXPECT_EQ(q.rows[0].begin, 0 * d);
    EXPECT_EQ(q.rows[1].begin, 4 * d);
    EXPECT_EQ(q.rows[2].begin, 1 * d);
    EXPECT_EQ(q.rows[3].begin, 5 * d);
}

TEST(HfFolder, Gpt2ConvWeightsAreTransposedAndSplit)
{
    auto source = attn::openModelSource(kHf + "/gpt2_inverse_layer"); // the Hub's names, no "transformer."
    ASSERT_TRUE(source.isOk()) << source.message();
    const attn::TensorRecipe& k = (*source)->recipes.at("layers.0.attn.k_proj.weight");
    EXPECT_EQ(k.source, "h.0.attn.c_attn.weight");
    EXPECT_TRUE(k.transpose);
    ASSERT_EQ(k.rows.size(), 1u);
    EXPECT_EQ(k.rows[0].begin, 32);
    EXPECT_TRUE((*source)->config.arch.scaleByInverseLayer);
}

TEST(HfFolder, RefusesUnknownModelTypeByName)
{
    FolderCopy f("llama_gqa");
    f.editConfig([](nlohmann::json& c) { c["model_type"] = "mamba"; });
    const std::string message = openError(f.dir());
    EXPECT_MENTIONS(message, "model_type \"mamba\" is not supported");
    EXPECT_MENTIONS(message, "diffllama");
}

TEST(HfFolder, RefusesQuantizedAndUnknownRope)
{
    FolderCopy quantized("llama_gqa");
    quantized.editConfig([](nlohmann::json& c) { c["quantization_config"] = {{"quant_method", "gptq"}}; });
    EXPECT_MENTIONS(openError(quantized.dir()), "quantized weights (\"quantization_config\": gptq)");

    FolderCopy rope("llama_dynamic_v4"); // transformers 4 style: rope_scaling with "type"
    rope.editConfig([](nlohmann::json& c) { c["rope_scaling"]["type"] = "su"; });
    EXPECT_MENTIONS(openError(rope.dir()), "rope type \"su\" is not supported");
}

TEST(HfFolder, RefusesOddDiffLlamaSubHeads)
{
    FolderCopy f("diffllama_gqa");
    f.editConfig([](nlohmann::json& c) { c["num_key_value_heads"] = 1; });
    EXPECT_MENTIONS(openError(f.dir()), "both must be even");
}

TEST(HfFolder, ListsEveryMissingUnexpectedAndMisShapedTensor)
{
    FolderCopy f("llama_gqa");
    f.editConfig([](nlohmann::json& c) {
        c["num_hidden_layers"] = 3; // layer 2's tensors are missing
        c["intermediate_size"] = 40; // every MLP tensor is mis-shaped
        c["tie_word_embeddings"] = true; // lm_head.weight is then ignored, as transformers does
    });
    const std::string message = openError(f.dir());
    EXPECT_MENTIONS(message, "missing tensors (9)"); // every tensor of layer 2
    EXPECT_MENTIONS(message, "model.layers.2.self_attn.q_proj.weight");
    EXPECT_MENTIONS(message, "wrong shapes (6)");
    EXPECT_MENTIONS(message, "model.layers.0.mlp.up_proj.weight: the file has [48, 32], the config needs [40, 32]");
}

TEST(HfFolder, RefusesBrokenShardSets)
{
    FolderCopy missing("llama_linear_bias_sharded");
    fs::remove(missing.file("model-00003-of-00006.safetensors"));
    EXPECT_MENTIONS(openError(missing.dir()), "names the shard model-00003-of-00006.safetensors, which is missing");

    FolderCopy moved("llama_linear_bias_sharded");
    nlohmann::json index = readJson(moved.file("model.safetensors.index.json"));
    const std::string name = "model.embed_tokens.weight";
    const std::string shard = index["weight_map"][name];
    index["weight_map"][name] = shard == "model-00001-of-00006.safetensors" ? "model-00002-of-00006.safetensors"
                                                                            : "model-00001-of-00006.safetensors";
    writeJson(moved.file("model.safetensors.index.json"), index);
    EXPECT_MENTIONS(openError(moved.dir()), "puts tensor " + name);

    FolderCopy twice("llama_linear_bias_sharded");
    const float one = 1.0f;
    ASSERT_TRUE(
        attn::writeSafetensors(twice.file("extra.safetensors"), {{name, attn::DType::F32, {1}, &one, sizeof one}})
            .isOk());
    index = readJson(twice.file("model.safetensors.index.json"));
    index["weight_map"]["lm_head.weight"] = "extra.safetensors"; // the index opens it; it holds a duplicate
    writeJson(twice.file("model.safetensors.index.json"), index);
    EXPECT_MENTIONS(openError(twice.dir()), "is in two shards");

    FolderCopy escaping("llama_linear_bias_sharded");
    index = readJson(escaping.file("model.safetensors.index.json"));
    index["weight_map"][name] = "../outside.safetensors";
    writeJson(escaping.file("model.safetensors.index.json"), index);
    EXPECT_MENTIONS(openError(escaping.dir()), "is not a file name in this folder");
}

TEST(HfFolder, RefusesTruncatedWeightsAndFloat8)
{
    FolderCopy truncated("llama_gqa");
    const auto size = fs::file_size(truncated.file("model.safetensors"));
    fs::resize_file(truncated.file("model.safetensors"), size / 2);
    EXPECT_MENTIONS(openError(truncated.dir()), "model.safetensors");

    FolderCopy f8("llama_gqa");
    const std::string header = R"({"x":{"dtype":"F8_E4M3","shape":[4],"data_offsets":[0,4]}})";
    std::string bytes(8, '\0');
    for (size_t i = 0; i < 8; ++i)
        bytes[i] = static_cast<char>((header.size() >> (8 * i)) & 0xFF);
    attn::test::writeBytes(f8.file("model.safetensors"), bytes + header + std::string(4, '\0'));
    EXPECT_MENTIONS(openError(f8.dir()), "F8_E4M3");
}

TEST(HfFolder, RefusesATokenizerWithAnUnknownComponent)
{
    FolderCopy f("llama_gqa");
    nlohmann::json tok = readJson(f.file("tokenizer.json"));
    tok["pre_tokenizer"] = {{"type", "FancySplit"}};
    writeJson(f.file("tokenizer.json"), tok);
    const std::string message = openError(f.dir());
    EXPECT_MENTIONS(message, "FancySplit");
}

TEST(HfFolder, ReadsTransformers4And5RopeKeysAlike)
{
    // qwen2_yarn_v4 was rewritten in the transformers 4 style; write it back in the 5 style and compare.
    auto v4 = attn::openModelSource(kHf + "/qwen2_yarn_v4");
    ASSERT_TRUE(v4.isOk()) << v4.message();
    FolderCopy f("qwen2_yarn_v4");
    f.editConfig([](nlohmann::json& c) {
        nlohmann::json params = c["rope_scaling"];
        params["rope_type"] = params["type"];
        params.erase("type");
        params["rope_theta"] = c["rope_theta"];
        c.erase("rope_scaling");
        c.erase("rope_theta");
        c["rope_parameters"] = params;
        c["dtype"] = c["torch_dtype"];
        c.erase("torch_dtype");
    });
    auto v5 = attn::openModelSource(f.dir());
    ASSERT_TRUE(v5.isOk()) << v5.message();
    const attn::RopeConfig& a = (*v4)->config.rope;
    const attn::RopeConfig& b = (*v5)->config.rope;
    EXPECT_EQ(a.scaling.type, attn::RopeScalingType::Yarn);
    EXPECT_EQ(b.scaling.type, a.scaling.type);
    EXPECT_DOUBLE_EQ(b.scaling.factor, 4.0);
    EXPECT_EQ(b.scaling.originalMaxPositions, 32768);
    EXPECT_DOUBLE_EQ(b.theta, a.theta);
}

} // namespace
