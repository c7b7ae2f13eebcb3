// SPDX-License-Identifier: GPL-3.0-or-later
#include "attnscope/config.h"

#include "test_helpers.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

using attn::AttentionKind;
using attn::ModelConfig;
using attn::PositionKind;
using nlohmann::json;

namespace {

::testing::AssertionResult contains(const std::string& text, const std::string& part)
{
    if (text.find(part) != std::string::npos)
        return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "message \"" << text << "\" does not contain \"" << part << "\"";
}

// The contract's own example (docs/model-format.md): diff + rope+cope, every section present.
json exampleJson()
{
    return json::parse(R"({
      "format": "attnscope-model", "format_version": 1,
      "vocab_size": 259, "d_model": 64, "n_layers": 2, "n_heads": 2, "n_kv_heads": 2, "head_dim": 16,
      "ffn_hidden": 176, "norm_eps": 1e-5, "tie_embeddings": false, "max_seq_len": 256,
      "attention": "diff", "gqa": "flash", "position": "rope+cope",
      "rope": {"theta": 10000.0, "style": "interleaved", "freqs": "linspace"},
      "cope": {"npos": 257, "scaling": "code", "sep_key": false, "rope_query": "rotated"},
      "tokenizer": {"type": "bytes", "add_bos": true}
    })");
}

attn::Result<ModelConfig> parse(const json& j)
{
    return attn::parseConfig(j.dump());
}

// Parses and expects an error that starts with the file prefix and names `field`.
std::string expectError(const json& j, const std::string& field)
{
    auto r = parse(j);
    EXPECT_FALSE(r.isOk()) << "accepted: " << j.dump();
    if (r.isOk())
        return {};
    EXPECT_EQ(r.message().rfind("config.json: ", 0), 0u) << r.message();
    EXPECT_TRUE(contains(r.message(), field));
    return r.message();
}

void expectSameConfig(const ModelConfig& a, const ModelConfig& b)
{
    EXPECT_EQ(a.vocabSize, b.vocabSize);
    EXPECT_EQ(a.dModel, b.dModel);
    EXPECT_EQ(a.nLayers, b.nLayers);
    EXPECT_EQ(a.nHeads, b.nHeads);
    EXPECT_EQ(a.nKvHeads, b.nKvHeads);
    EXPECT_EQ(a.headDim, b.headDim);
    EXPECT_EQ(a.ffnHidden, b.ffnHidden);
    EXPECT_EQ(a.normEps, b.normEps);
    EXPECT_EQ(a.tieEmbeddings, b.tieEmbeddings);
    EXPECT_EQ(a.maxSeqLen, b.maxSeqLen);
    EXPECT_EQ(a.attention, b.attention);
    EXPECT_EQ(a.gqa, b.gqa);
    EXPECT_EQ(a.position, b.position);
    EXPECT_EQ(a.rope.theta, b.rope.theta);
    EXPECT_EQ(a.rope.style, b.rope.style);
    EXPECT_EQ(a.rope.freqs, b.rope.freqs);
    EXPECT_EQ(a.cope.npos, b.cope.npos);
    EXPECT_EQ(a.cope.scaling, b.cope.scaling);
    EXPECT_EQ(a.cope.sepKey, b.cope.sepKey);
    EXPECT_EQ(a.cope.ropeQuery, b.cope.ropeQuery);
    EXPECT_EQ(a.tokenizer.type, b.tokenizer.type);
    EXPECT_EQ(a.tokenizer.vocabFile, b.tokenizer.vocabFile);
    EXPECT_EQ(a.tokenizer.lowercase, b.tokenizer.lowercase);
    EXPECT_EQ(a.tokenizer.addBos, b.tokenizer.addBos);
}

// Non-default values wherever the kind uses a field, so a field the writer forgets shows up.
ModelConfig nonDefaultConfig(AttentionKind attention, PositionKind position)
{
    ModelConfig c;
    c.vocabSize = 259;
    c.dModel = 96;
    c.nLayers = 3;
    c.nHeads = 4;
    c.nKvHeads = 2;
    c.headDim = 12;
    c.ffnHidden = 200;
    c.normEps = 1e-6;
    c.tieEmbeddings = true;
    c.maxSeqLen = 128;
    c.attention = attention;
    c.position = position;
    if (c.isDiff())
        c.gqa = attn::GqaSemantics::Naive;
    if (c.hasRope())
        c.rope = {640000.0, attn::RopeStyle::RotateHalf, attn::RopeFreqs::Standard};
    if (c.hasCope()) {
        c.cope.npos = 65;
        c.cope.scaling = attn::CopeScaling::Appendix;
        c.cope.sepKey = true;
        if (position == PositionKind::RopeCope)
            c.cope.ropeQuery = attn::CopeRopeQuery::Unrotated;
    }
    c.tokenizer.addBos = false;
    return c;
}

const AttentionKind kAttentions[] = {AttentionKind::Softmax, AttentionKind::Diff};
const PositionKind kPositions[]
    = {PositionKind::None, PositionKind::Learned, PositionKind::Rope, PositionKind::Cope, PositionKind::RopeCope};

} // namespace

TEST(ConfigParse, ContractExample)
{
    auto r = parse(exampleJson());
    ASSERT_TRUE(r.isOk()) << r.message();
    EXPECT_EQ(r->attention, AttentionKind::Diff);
    EXPECT_EQ(r->position, PositionKind::RopeCope);
    EXPECT_EQ(r->dModel, 64);
    EXPECT_EQ(r->headDim, 16);
    EXPECT_EQ(r->cope.npos, 257);
    EXPECT_EQ(r->qSubHeads(), 4);
    EXPECT_EQ(r->valueHeadDim(), 32);
}

TEST(ConfigRoundTrip, EveryAttentionAndPositionCombination)
{
    for (AttentionKind attention : kAttentions) {
        for (PositionKind position : kPositions) {
            SCOPED_TRACE(attn::toString(attention) + " x " + attn::toString(position));
            const ModelConfig original = nonDefaultConfig(attention, position);
            const std::string text = attn::configToJson(original);
            auto back = attn::parseConfig(text);
            ASSERT_TRUE(back.isOk()) << back.message() << "\n" << text;
            expectSameConfig(original, *back);

            // Sections appear exactly where the kind uses them, so the writer never emits a file the
            // strict reader would reject, and every field is explicit.
            const json j = json::parse(text);
            EXPECT_EQ(j.contains("gqa"), original.isDiff());
            EXPECT_EQ(j.contains("rope"), original.hasRope());
            EXPECT_EQ(j.contains("cope"), original.hasCope());
            if (original.hasCope()) {
                EXPECT_EQ(j["cope"].contains("rope_query"), position == PositionKind::RopeCope);
            }
            for (const char* field : {"n_kv_heads", "norm_eps", "tie_embeddings"})
                EXPECT_TRUE(j.contains(field)) << field;
            EXPECT_TRUE(j["tokenizer"].contains("add_bos"));
        }
    }
}

TEST(ConfigRoundTrip, DefaultsAndWordTokenizer)
{
    ModelConfig c = nonDefaultConfig(AttentionKind::Softmax, PositionKind::Cope);
    c.vocabSize = 20;
    c.tokenizer.type = attn::TokenizerType::Word;
    c.tokenizer.vocabFile = "vocab.txt";
    c.tokenizer.lowercase = false;
    c.tokenizer.addBos = true; // the word default is false: must be written explicitly
    auto back = attn::parseConfig(attn::configToJson(c));
    ASSERT_TRUE(back.isOk()) << back.message();
    expectSameConfig(c, *back);

    const ModelConfig defaults = *parse(exampleJson());
    auto again = attn::parseConfig(attn::configToJson(defaults));
    ASSERT_TRUE(again.isOk()) << again.message();
    expectSameConfig(defaults, *again);
    EXPECT_EQ(attn::configToJson(*again), attn::configToJson(defaults));
}

TEST(ConfigParse, DefaultsFilled)
{
    json j = exampleJson();
    j.erase("n_kv_heads");
    j.erase("norm_eps");
    j.erase("tie_embeddings");
    j.erase("gqa");
    j.erase("rope");
    j.erase("cope");
    j["tokenizer"].erase("add_bos");
    auto r = parse(j);
    ASSERT_TRUE(r.isOk()) << r.message();
    EXPECT_EQ(r->nKvHeads, r->nHeads);
    EXPECT_EQ(r->normEps, 1e-5);
    EXPECT_FALSE(r->tieEmbeddings);
    EXPECT_EQ(r->gqa, attn::GqaSemantics::Flash);
    EXPECT_EQ(r->rope.theta, 10000.0);
    EXPECT_EQ(r->rope.style, attn::RopeStyle::Interleaved);
    EXPECT_EQ(r->rope.freqs, attn::RopeFreqs::Linspace);
    EXPECT_EQ(r->cope.scaling, attn::CopeScaling::Code);
    EXPECT_FALSE(r->cope.sepKey);
    EXPECT_EQ(r->cope.ropeQuery, attn::CopeRopeQuery::Rotated);
    EXPECT_TRUE(r->tokenizer.addBos);
}

TEST(ConfigParse, DefaultNposIsMaxSeqLenPlusOne)
{
    json j = exampleJson();
    j["max_seq_len"] = 512;
    j["cope"].erase("npos");
    auto r = parse(j);
    ASSERT_TRUE(r.isOk()) << r.message();
    EXPECT_EQ(r->cope.npos, 513);

    j.erase("cope"); // the whole section is optional too
    r = parse(j);
    ASSERT_TRUE(r.isOk()) << r.message();
    EXPECT_EQ(r->cope.npos, 513);

    j["cope"] = {{"npos", 7}};
    r = parse(j);
    ASSERT_TRUE(r.isOk()) << r.message();
    EXPECT_EQ(r->cope.npos, 7);
}

TEST(ConfigParse, WordTokenizerDefaults)
{
    json j = exampleJson();
    j["vocab_size"] = 30;
    j["tokenizer"] = {{"type", "word"}, {"vocab", "vocab.txt"}};
    auto r = parse(j);
    ASSERT_TRUE(r.isOk()) << r.message();
    EXPECT_EQ(r->tokenizer.type, attn::TokenizerType::Word);
    EXPECT_EQ(r->tokenizer.vocabFile, "vocab.txt");
    EXPECT_TRUE(r->tokenizer.lowercase);
    EXPECT_FALSE(r->tokenizer.addBos);
}

TEST(ConfigErrors, UnknownTopLevelField)
{
    json j = exampleJson();
    j["d_modell"] = 64;
    const std::string msg = expectError(j, "\"d_modell\"");
    EXPECT_TRUE(contains(msg, "unknown field"));
}

TEST(ConfigErrors, UnknownNestedField)
{
    json j = exampleJson();
    j["rope"]["thetaa"] = 1.0;
    const std::string msg = expectError(j, "\"rope.thetaa\"");
    EXPECT_TRUE(contains(msg, "theta, style, freqs"));

    j = exampleJson();
    j["cope"]["sepkey"] = true;
    expectError(j, "\"cope.sepkey\"");
    j = exampleJson();
    j["tokenizer"]["lower"] = true;
    expectError(j, "\"tokenizer.lower\"");
}

TEST(ConfigErrors, BadEnumValueListsAllowedValues)
{
    json j = exampleJson();
    j["attention"] = "dif";
    std::string msg = expectError(j, "\"attention\"");
    EXPECT_TRUE(contains(msg, "softmax, diff"));
    EXPECT_TRUE(contains(msg, "\"dif\""));

    j = exampleJson();
    j["position"] = "alibi";
    msg = expectError(j, "\"position\"");
    EXPECT_TRUE(contains(msg, "none, learned, rope, cope, rope+cope"));

    j = exampleJson();
    j["rope"]["style"] = "neox";
    expectError(j, "\"rope.style\"");
    j = exampleJson();
    j["cope"]["scaling"] = "paper";
    expectError(j, "\"cope.scaling\"");
    j = exampleJson();
    j["tokenizer"]["type"] = "bpe";
    expectError(j, "\"tokenizer.type\"");
}

TEST(ConfigErrors, WrongType)
{
    json j = exampleJson();
    j["d_model"] = "64";
    EXPECT_TRUE(contains(expectError(j, "\"d_model\""), "integer"));
    j = exampleJson();
    j["d_model"] = 64.5;
    expectError(j, "\"d_model\"");
    j = exampleJson();
    j["tie_embeddings"] = "yes";
    expectError(j, "\"tie_embeddings\"");
    j = exampleJson();
    j["rope"]["theta"] = "1e4";
    expectError(j, "\"rope.theta\"");
    j = exampleJson();
    j["rope"] = "default";
    expectError(j, "\"rope\"");
    j = exampleJson();
    j["attention"] = 1;
    expectError(j, "\"attention\"");
}

TEST(ConfigErrors, MissingRequiredField)
{
    for (const char* field : {"format", "format_version", "vocab_size", "d_model", "n_layers", "n_heads", "head_dim",
             "ffn_hidden", "max_seq_len", "attention", "position", "tokenizer"}) {
        json j = exampleJson();
        j.erase(field);
        const std::string msg = expectError(j, "\"" + std::string(field) + "\"");
        EXPECT_TRUE(contains(msg, "missing")) << field;
    }
    json j = exampleJson();
    j["tokenizer"] = {{"type", "word"}};
    expectError(j, "\"tokenizer.vocab\"");
}

TEST(ConfigErrors, SectionForAnotherPositionKind)
{
    json j = exampleJson();
    j["position"] = "cope";
    j["cope"].erase("rope_query");
    EXPECT_TRUE(contains(expectError(j, "\"rope\""), "position is \"cope\""));

    j = exampleJson();
    j["position"] = "rope";
    j.erase("rope");
    expectError(j, "\"cope\"");

    j = exampleJson();
    j["position"] = "cope";
    j.erase("rope");
    expectError(j, "\"cope.rope_query\"");
}

TEST(ConfigErrors, GqaWithSoftmax)
{
    json j = exampleJson();
    j["attention"] = "softmax";
    EXPECT_TRUE(contains(expectError(j, "\"gqa\""), "softmax"));
}

TEST(ConfigErrors, HeadsNotDivisibleByKvHeads)
{
    json j = exampleJson();
    j["n_heads"] = 6;
    j["n_kv_heads"] = 4;
    const std::string msg = expectError(j, "\"n_kv_heads\"");
    EXPECT_TRUE(contains(msg, "(6)"));
    EXPECT_TRUE(contains(msg, "(4)"));
}

TEST(ConfigErrors, OddHeadDimOnlyWithRope)
{
    json j = exampleJson();
    j["head_dim"] = 15;
    EXPECT_TRUE(contains(expectError(j, "\"head_dim\""), "15"));

    // Without RoPE nothing is rotated, so an odd width is fine.
    j["position"] = "cope";
    j.erase("rope");
    j["cope"].erase("rope_query");
    auto r = parse(j);
    EXPECT_TRUE(r.isOk()) << r.message();
}

TEST(ConfigErrors, BytesTokenizerNeedsVocab259)
{
    json j = exampleJson();
    j["vocab_size"] = 258;
    EXPECT_TRUE(contains(expectError(j, "\"vocab_size\""), "259"));
}

TEST(ConfigErrors, NonPositiveSizesAndValues)
{
    for (const char* field :
        {"vocab_size", "d_model", "n_layers", "n_heads", "n_kv_heads", "head_dim", "ffn_hidden", "max_seq_len"}) {
        json j = exampleJson();
        j[field] = 0;
        expectError(j, "\"" + std::string(field) + "\"");
    }
    json j = exampleJson();
    j["norm_eps"] = 0.0;
    expectError(j, "\"norm_eps\"");
    j = exampleJson();
    j["rope"]["theta"] = -1.0;
    expectError(j, "\"rope.theta\"");
    j = exampleJson();
    j["cope"]["npos"] = 1;
    expectError(j, "\"cope.npos\"");
}

TEST(ConfigErrors, FormatMarkerAndVersion)
{
    json j = exampleJson();
    j["format"] = "gguf";
    expectError(j, "\"format\"");
    j = exampleJson();
    j["format_version"] = 2;
    expectError(j, "\"format_version\"");
}

TEST(ConfigErrors, VocabFileMustStayInsideModelDir)
{
    for (const char* bad : {"../vocab.txt", "/etc/passwd", "sub/../../x", "", "dir/"}) {
        json j = exampleJson();
        j["vocab_size"] = 30;
        j["tokenizer"] = {{"type", "word"}, {"vocab", bad}};
        expectError(j, "\"tokenizer.vocab\"");
    }
    json j = exampleJson();
    j["tokenizer"]["vocab"] = "vocab.txt"; // a bytes tokenizer has no vocab file
    expectError(j, "\"tokenizer.vocab\"");
}

TEST(ConfigErrors, InvalidJsonAndDuplicateKeys)
{
    auto r = attn::parseConfig("{\"format\": ");
    ASSERT_FALSE(r.isOk());
    EXPECT_EQ(r.message().rfind("config.json: ", 0), 0u) << r.message();

    r = attn::parseConfig("[1, 2]");
    ASSERT_FALSE(r.isOk());
    EXPECT_TRUE(contains(r.message(), "object"));

    std::string text = exampleJson().dump();
    text.insert(text.size() - 1, ",\"d_model\": 32"); // a second d_model that would silently win
    r = attn::parseConfig(text);
    ASSERT_FALSE(r.isOk());
    EXPECT_TRUE(contains(r.message(), "duplicate key \"d_model\""));
}

TEST(ConfigLoad, ReadsFileAndNamesPathOnError)
{
    attn::test::TempDir dir;
    attn::test::writeBytes(dir.file("config.json"), exampleJson().dump());
    auto r = attn::loadConfig(dir.file("config.json"));
    ASSERT_TRUE(r.isOk()) << r.message();
    EXPECT_EQ(r->nLayers, 2);

    json j = exampleJson();
    j["n_layerz"] = 2;
    attn::test::writeBytes(dir.file("config.json"), j.dump());
    r = attn::loadConfig(dir.file("config.json"));
    ASSERT_FALSE(r.isOk());
    EXPECT_TRUE(contains(r.message(), dir.file("config.json")));
    EXPECT_TRUE(contains(r.message(), "\"n_layerz\""));

    r = attn::loadConfig(dir.file("absent.json"));
    ASSERT_FALSE(r.isOk());
    EXPECT_TRUE(contains(r.message(), "absent.json"));
}

TEST(ConfigValidate, ReportsEveryProblem)
{
    ModelConfig c = nonDefaultConfig(AttentionKind::Diff, PositionKind::Rope);
    EXPECT_TRUE(attn::validateConfig(c).isOk()) << attn::validateConfig(c).message();
    c.dModel = 0;
    c.headDim = 7;
    const attn::Status s = attn::validateConfig(c);
    ASSERT_FALSE(s.isOk());
    EXPECT_TRUE(contains(s.message(), "\"d_model\""));
    EXPECT_TRUE(contains(s.message(), "\"head_dim\""));
}

TEST(ConfigEnums, NamesRoundTrip)
{
    for (AttentionKind kind : kAttentions) {
        auto back = attn::parseAttentionKind(attn::toString(kind));
        ASSERT_TRUE(back.isOk());
        EXPECT_EQ(*back, kind);
    }
    for (PositionKind kind : kPositions) {
        auto back = attn::parsePositionKind(attn::toString(kind));
        ASSERT_TRUE(back.isOk());
        EXPECT_EQ(*back, kind);
    }
    EXPECT_EQ(attn::toString(PositionKind::RopeCope), "rope+cope");
    EXPECT_EQ(attn::toString(attn::RopeStyle::RotateHalf), "rotate_half");
    EXPECT_EQ(attn::toString(attn::GqaSemantics::Naive), "naive");

    auto bad = attn::parsePositionKind("alibi");
    ASSERT_FALSE(bad.isOk());
    EXPECT_TRUE(contains(bad.message(), "alibi"));
    EXPECT_TRUE(contains(bad.message(), "rope+cope"));
    EXPECT_FALSE(attn::parseAttentionKind("Diff").isOk()); // names are case-sensitive, as in the file
}

TEST(ConfigLambdaInit, MatchesDiffPaperTable)
{
    // diff-attention.md 1.2, depth 0-based.
    const std::vector<std::pair<int64_t, double>> table = {{0, 0.2}, {1, 0.355509067590969}, {2, 0.470713018343584},
        {3, 0.556058204155641}, {4, 0.619283472852679}, {5, 0.666121903910942}, {6, 0.700820667067048},
        {7, 0.726526143048211}, {8, 0.745569228026353}, {9, 0.759676692356150}, {10, 0.770127758979282},
        {11, 0.777870099559256}, {23, 0.799395328742571}, {27, 0.799817876517153}};
    for (const auto& [depth, expected] : table)
        EXPECT_NEAR(attn::lambdaInit(depth), expected, 1e-12) << "depth " << depth;
}
