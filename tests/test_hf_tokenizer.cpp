// SPDX-License-Identifier: GPL-3.0-or-later
// tokenizer.json against the Hugging Face `tokenizers` library: every fixture under tests/data/hf-tokenizers was
// built and encoded by tests/reference/make_hf_tokenizer_fixtures.py (ids, byte spans, decode); here the C++
// tokenizer must reproduce them. Plus the refusals of bad files and prompts, and the display strings.
#include "attnscope/fileio.h"
#include "attnscope/hf_tokenizer.h"
#include "test_helpers.h"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <functional>

using namespace attn;
using attn::test::TempDir;

namespace {

const std::string kFixtures = std::string(ATTNSCOPE_TEST_DATA_DIR) + "/hf-tokenizers";

std::vector<std::string> fixtureNames()
{
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(kFixtures))
        if (entry.is_directory())
            names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

class HfFixture : public ::testing::TestWithParam<std::string> { };

std::string quoted(const std::string& text)
{
    return nlohmann::json(text).dump();
}

} // namespace

TEST_P(HfFixture, IdsSpansAndDecodeMatchTheLibrary)
{
    const std::string dir = kFixtures + "/" + GetParam();
    auto tok = loadHfTokenizer(dir);
    ASSERT_TRUE(tok) << tok.message();
    const auto expected = nlohmann::json::parse(readFile(dir + "/expected.json").value());
    ASSERT_GT(expected["cases"].size(), 40u);
    for (const auto& c : expected["cases"]) {
        const std::string text = c["text"];
        const bool special = c["add_special_tokens"];
        SCOPED_TRACE(GetParam() + " text " + quoted(text) + (special ? " with" : " without") + " special tokens");
        auto encoding = (*tok)->encodeChecked(text, special);
        ASSERT_TRUE(encoding) << encoding.message();
        EXPECT_EQ(encoding->ids, c["ids"].get<std::vector<int64_t>>());
        std::vector<std::vector<size_t>> spans;
        for (const TokenSpan& span : encoding->spans)
            spans.push_back({span.begin, span.end});
        EXPECT_EQ(spans, c["spans"].get<std::vector<std::vector<size_t>>>());
        EXPECT_EQ((*tok)->decode(encoding->ids), c["decoded"].get<std::string>());
        if (special) {
            EXPECT_EQ((*tok)->encode(text), encoding->ids);
        }
    }
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, HfFixture, ::testing::ValuesIn(fixtureNames()), [](const ::testing::TestParamInfo<std::string>& info) {
        std::string name = info.param;
        for (char& c : name)
            if (!std::isalnum(static_cast<unsigned char>(c)))
                c = '_';
        return name;
    });

TEST(HfTokenizer, BosEosFromTokenizerConfig)
{
    auto llama = loadHfTokenizer(kFixtures + "/llama2-legacy");
    ASSERT_TRUE(llama) << llama.message();
    EXPECT_EQ((*llama)->bosId(), 1);
    EXPECT_EQ((*llama)->eosId(), 2); // an AddedToken dict in the config
    auto qwen = loadHfTokenizer(kFixtures + "/qwen2");
    ASSERT_TRUE(qwen) << qwen.message();
    EXPECT_FALSE((*qwen)->bosId()); // bos_token null: Qwen has none
    EXPECT_TRUE((*qwen)->eosId());
    auto bare = loadHfTokenizer(kFixtures + "/gpt2");
    ASSERT_TRUE(bare) << bare.message();
    EXPECT_FALSE((*bare)->bosId()); // no tokenizer_config.json
}

TEST(HfTokenizer, DisplayMakesBytesAndSpacesVisible)
{
    auto gpt2 = loadHfTokenizer(kFixtures + "/gpt2");
    ASSERT_TRUE(gpt2) << gpt2.message();
    auto enc = (*gpt2)->encodeChecked("a b\n\t\xE2\x82\xAC", false); // "a b\n\t€"
    ASSERT_TRUE(enc) << enc.message();
    std::string labels;
    for (int64_t id : enc->ids)
        labels += (*gpt2)->display(id) + "|";
    // "€" is not in the small vocabulary: its three bytes are separate tokens, each an incomplete character.
    EXPECT_NE(labels.find("|␣"), std::string::npos) << labels;
    EXPECT_NE(labels.find("⏎"), std::string::npos) << labels;
    EXPECT_NE(labels.find("⇥"), std::string::npos) << labels;
    EXPECT_NE(labels.find("<0xE2>|"), std::string::npos) << labels;
    EXPECT_EQ(labels.find("Ġ"), std::string::npos) << labels;

    auto llama = loadHfTokenizer(kFixtures + "/llama2-legacy");
    ASSERT_TRUE(llama) << llama.message();
    auto sp = (*llama)->encodeChecked("hello 漢", false);
    ASSERT_TRUE(sp) << sp.message();
    std::string spLabels;
    for (int64_t id : sp->ids)
        spLabels += (*llama)->display(id) + "|";
    EXPECT_EQ(spLabels.find("▁"), std::string::npos) << spLabels;
    EXPECT_NE(spLabels.find("␣"), std::string::npos) << spLabels;
    EXPECT_NE(spLabels.find("<0xE6>|"), std::string::npos) << spLabels; // byte fallback of 漢
    EXPECT_EQ((*llama)->display(1), "<s>");
}

TEST(HfTokenizer, InvalidUtf8PromptIsRefusedWithItsOffset)
{
    for (const char* name : {"gpt2", "wordpiece"}) {
        auto tok = loadHfTokenizer(kFixtures + "/" + name);
        ASSERT_TRUE(tok) << tok.message();
        auto enc = (*tok)->encodeChecked(std::string("ab\xC3(x", 5));
        ASSERT_FALSE(enc);
        EXPECT_NE(enc.message().find("not valid UTF-8 at byte 2"), std::string::npos) << enc.message();
    }
    ByteTokenizer bytes;
    auto enc = bytes.encodeChecked("x\xFF");
    ASSERT_FALSE(enc);
    EXPECT_NE(enc.message().find("at byte 1"), std::string::npos) << enc.message();
}

TEST(HfTokenizer, ByteTokenizerSpans)
{
    ByteTokenizer bytes(true);
    auto enc = bytes.encodeChecked("hé");
    ASSERT_TRUE(enc) << enc.message();
    ASSERT_EQ(enc->ids.size(), 4u);
    EXPECT_EQ(enc->spans[0], (TokenSpan {0, 0}));
    EXPECT_EQ(enc->spans[2], (TokenSpan {1, 2}));
    EXPECT_EQ(bytes.encodeChecked("hé", false)->ids.size(), 3u);
}

TEST(HfTokenizer, WordTokenizerSpans)
{
    auto word = WordTokenizer::fromVocab({"<unk>", "<bos>", "a", "b", "."}, true, true);
    ASSERT_TRUE(word) << word.message();
    auto enc = (*word)->encodeChecked(" A  b.");
    ASSERT_TRUE(enc) << enc.message();
    EXPECT_EQ(enc->ids, (std::vector<int64_t> {1, 2, 3, 4}));
    EXPECT_EQ(enc->spans, (std::vector<TokenSpan> {{0, 0}, {1, 2}, {4, 5}, {5, 6}}));
    EXPECT_EQ((*word)->encode(" A  b."), enc->ids);
}

namespace {

// A copy of a fixture's tokenizer.json with one edit applied, in a temp dir.
std::string editedCopy(const TempDir& dir, const std::string& fixture, const std::function<void(nlohmann::json&)>& edit)
{
    auto root = nlohmann::json::parse(readFile(kFixtures + "/" + fixture + "/tokenizer.json").value());
    edit(root);
    attn::test::writeBytes(dir.file("tokenizer.json"), root.dump());
    return dir.path();
}

std::string loadError(const std::string& dir)
{
    auto tok = loadHfTokenizer(dir);
    return tok ? std::string("(loaded)") : tok.message();
}

} // namespace

TEST(HfTokenizer, UnknownComponentTypesAreRefusedByName)
{
    TempDir a, b, c, d;
    EXPECT_NE(loadError(editedCopy(a, "gpt2", [](auto& j) { j["pre_tokenizer"]["type"] = "Foo"; }))
                  .find("tokenizer.json: pre_tokenizer type 'Foo' is not supported"),
        std::string::npos);
    EXPECT_NE(loadError(editedCopy(b, "qwen2",
                            [](auto& j) {
                                j["normalizer"] = {{"type", "Precompiled"}};
                            }))
                  .find("normalizer type 'Precompiled' is not supported"),
        std::string::npos);
    EXPECT_NE(loadError(editedCopy(c, "gpt2", [](auto& j) { j["model"]["type"] = "Unigram"; }))
                  .find("model type 'Unigram' is not supported"),
        std::string::npos);
    EXPECT_NE(loadError(editedCopy(d, "llama3",
                            [](auto& j) { j["pre_tokenizer"]["pretokenizers"][0]["type"] = "BertPreTokenizer"; }))
                  .find("pre_tokenizer type 'BertPreTokenizer' is not supported (at pre_tokenizer.pretokenizers[0])"),
        std::string::npos);
}

TEST(HfTokenizer, BadModelsGetSpecificMessages)
{
    TempDir a, b, c, d, e;
    const std::string noSpace = loadError(editedCopy(a, "gpt2", [](auto& j) { j["model"]["merges"][3] = "ab"; }));
    EXPECT_NE(noSpace.find("model.merges[3]: \"ab\" has no space"), std::string::npos) << noSpace;
    const std::string unknown = loadError(editedCopy(b, "llama3", [](auto& j) {
        j["model"]["merges"][0] = nlohmann::json::array({"zz_not_there", "a"});
    }));
    EXPECT_NE(unknown.find("model.merges[0]: merge names token 'zz_not_there', which is not in model.vocab"),
        std::string::npos)
        << unknown;
    const std::string range = loadError(editedCopy(c, "gpt2", [](auto& j) { j["model"]["vocab"]["a"] = -4; }));
    EXPECT_NE(range.find("model.vocab: id -4 of 'a' is out of range"), std::string::npos) << range;
    const std::string duplicate = loadError(editedCopy(d, "gpt2", [](auto& j) { j["model"]["vocab"]["a"] = 5; }));
    EXPECT_NE(duplicate.find("is given to both"), std::string::npos) << duplicate;
    const std::string unk = loadError(editedCopy(e, "wordpiece", [](auto& j) { j["model"]["unk_token"] = "[NOPE]"; }));
    EXPECT_NE(unk.find("model.unk_token: '[NOPE]' is not in model.vocab"), std::string::npos) << unk;
}

TEST(HfTokenizer, TruncatedJsonAndMissingFile)
{
    TempDir dir;
    const std::string text = readFile(kFixtures + "/gpt2/tokenizer.json").value();
    attn::test::writeBytes(dir.file("tokenizer.json"), text.substr(0, text.size() / 2));
    const std::string message = loadError(dir.path());
    EXPECT_NE(message.find("tokenizer.json: not valid JSON"), std::string::npos) << message;
    TempDir empty;
    EXPECT_NE(loadError(empty.path()).find("tokenizer.json not found"), std::string::npos);
}

// Load and encode speed on the largest fixture; the Release numbers are in the report (this guards gross slips).
TEST(HfTokenizer, LoadsAndEncodesQuickly)
{
    const auto start = std::chrono::steady_clock::now();
    auto tok = loadHfTokenizer(kFixtures + "/llama3");
    ASSERT_TRUE(tok) << tok.message();
    std::string text;
    while (text.size() < 40000)
        text += "The quick brown fox's jumps, 12345 times: def f(x):\n\treturn x**2  # 漢字 😀\n";
    auto enc = (*tok)->encodeChecked(text);
    ASSERT_TRUE(enc) << enc.message();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_GT(enc->ids.size(), 10000u);
    EXPECT_LT(seconds, 20.0);
}
