// SPDX-License-Identifier: GPL-3.0-or-later
#include "attnscope/tokenizer.h"

#include "test_helpers.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using attn::ByteTokenizer;
using attn::WordTokenizer;

namespace {

::testing::AssertionResult contains(const std::string& text, const std::string& part)
{
    if (text.find(part) != std::string::npos)
        return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "message \"" << text << "\" does not contain \"" << part << "\"";
}

// The CoPE counting vocabulary (cope.md 4.1) plus the special tokens.
const std::vector<std::string> kCountingVocab = {"<pad>", "<unk>", "<bos>", "<eos>", "pass;", "a", "=", "0", ";", "++;",
    "print", "hello", ",", "world", ".", "why", "?"};

std::unique_ptr<WordTokenizer> countingTokenizer(bool lowercase = true, bool addBos = false)
{
    auto r = WordTokenizer::fromVocab(kCountingVocab, lowercase, addBos);
    EXPECT_TRUE(r.isOk()) << r.message();
    return r.isOk() ? std::move(r).value() : nullptr;
}

} // namespace

TEST(TokenizerBytes, Utf8RoundTripWithBos)
{
    // Two-, three- and four-byte UTF-8 characters, plus control characters.
    const std::string text = "h\xC3\xA9llo \xE2\x86\x92 \xE4\xB8\x96\xE7\x95\x8C \xF0\x9F\x98\x80\n\tend";
    const ByteTokenizer tok;
    const auto ids = tok.encode(text);
    ASSERT_EQ(ids.size(), text.size() + 1);
    EXPECT_EQ(ids.front(), ByteTokenizer::kBos);
    for (size_t i = 0; i < text.size(); ++i)
        EXPECT_EQ(ids[i + 1], static_cast<unsigned char>(text[i]));
    EXPECT_EQ(tok.decode(ids), text);
}

TEST(TokenizerBytes, NoBosWhenDisabled)
{
    const ByteTokenizer tok(false);
    EXPECT_EQ(tok.encode("ab"), (std::vector<int64_t> {'a', 'b'}));
    EXPECT_TRUE(tok.encode("").empty());
    EXPECT_EQ(ByteTokenizer().encode(""), (std::vector<int64_t> {ByteTokenizer::kBos}));
}

TEST(TokenizerBytes, DecodeDropsSpecialTokens)
{
    const ByteTokenizer tok;
    EXPECT_EQ(tok.decode({ByteTokenizer::kBos, 'h', ByteTokenizer::kPad, 'i', ByteTokenizer::kEos}), "hi");
}

TEST(TokenizerBytes, VocabAndSpecialIds)
{
    const ByteTokenizer tok;
    EXPECT_EQ(tok.vocabSize(), 259);
    EXPECT_EQ(tok.bosId(), 256);
    EXPECT_EQ(tok.eosId(), 257);
}

TEST(TokenizerBytes, DisplayStrings)
{
    const ByteTokenizer tok;
    EXPECT_EQ(tok.display('a'), "a");
    EXPECT_EQ(tok.display('!'), "!");
    EXPECT_EQ(tok.display('~'), "~");
    EXPECT_EQ(tok.display(' '), "␣");
    EXPECT_EQ(tok.display('\n'), "⏎");
    EXPECT_EQ(tok.display('\t'), "⇥");
    EXPECT_EQ(tok.display('\r'), "␍");
    EXPECT_EQ(tok.display(0x00), "<0x00>");
    EXPECT_EQ(tok.display(0x07), "<0x07>");
    EXPECT_EQ(tok.display(0x1B), "<0x1B>");
    EXPECT_EQ(tok.display(0x7F), "<0x7F>");
    EXPECT_EQ(tok.display(0x80), "<0x80>");
    EXPECT_EQ(tok.display(0xE2), "<0xE2>");
    EXPECT_EQ(tok.display(0xFF), "<0xFF>");
    EXPECT_EQ(tok.display(ByteTokenizer::kBos), "<bos>");
    EXPECT_EQ(tok.display(ByteTokenizer::kEos), "<eos>");
    EXPECT_EQ(tok.display(ByteTokenizer::kPad), "<pad>");
    EXPECT_EQ(tok.display(999), "<id 999?>");
    EXPECT_EQ(tok.display(-1), "<id -1?>");
    // No byte ever gets an empty axis label.
    for (int64_t id = 0; id < tok.vocabSize(); ++id)
        EXPECT_FALSE(tok.display(id).empty()) << id;
}

TEST(TokenizerWord, CopeCountingText)
{
    auto tok = countingTokenizer();
    ASSERT_TRUE(tok);
    const std::string text = "pass; a = 0 ; a ++; print a";
    EXPECT_EQ(tok->split(text), (std::vector<std::string> {"pass;", "a", "=", "0", ";", "a", "++;", "print", "a"}));
    EXPECT_EQ(tok->encode(text), (std::vector<int64_t> {4, 5, 6, 7, 8, 5, 9, 10, 5}));
    EXPECT_EQ(tok->decode(tok->encode(text)), text);
}

TEST(TokenizerWord, PunctuationSplitAndLowercase)
{
    auto tok = countingTokenizer();
    ASSERT_TRUE(tok);
    EXPECT_EQ(tok->split("Hello, world. Why?"), (std::vector<std::string> {"hello", ",", "world", ".", "why", "?"}));
    EXPECT_EQ(tok->encode("Hello, world. Why?"), (std::vector<int64_t> {11, 12, 13, 14, 15, 16}));
    EXPECT_EQ(tok->split("  a\t\tb\r\n\nc  "), (std::vector<std::string> {"a", "b", "c"}));

    auto cased = countingTokenizer(/*lowercase=*/false);
    ASSERT_TRUE(cased);
    EXPECT_EQ(cased->split("Hello, world."), (std::vector<std::string> {"Hello", ",", "world", "."}));
    EXPECT_EQ(cased->encode("Hello"), (std::vector<int64_t> {1})); // "Hello" is not in the vocab
}

TEST(TokenizerWord, UnknownWordsMapToUnk)
{
    auto tok = countingTokenizer();
    ASSERT_TRUE(tok);
    EXPECT_EQ(tok->encode("b = 0 ;"), (std::vector<int64_t> {1, 6, 7, 8}));
    EXPECT_EQ(tok->display(1), "<unk>");
}

TEST(TokenizerWord, BosDecodeAndDisplay)
{
    auto tok = countingTokenizer(true, /*addBos=*/true);
    ASSERT_TRUE(tok);
    EXPECT_EQ(tok->bosId(), 2);
    EXPECT_EQ(tok->eosId(), 3);
    EXPECT_EQ(tok->vocabSize(), static_cast<int64_t>(kCountingVocab.size()));
    EXPECT_EQ(tok->encode("print a"), (std::vector<int64_t> {2, 10, 5}));
    EXPECT_EQ(tok->decode({2, 10, 0, 5, 3}), "print a");
    EXPECT_EQ(tok->display(4), "pass;");
    EXPECT_EQ(tok->display(99), "<id 99?>");

    auto spaced = WordTokenizer::fromVocab({"<unk>", "a b", "x\ty", "\x01"}, true, false);
    ASSERT_TRUE(spaced.isOk()) << spaced.message();
    EXPECT_EQ(spaced.value()->display(1), "a␣b");
    EXPECT_EQ(spaced.value()->display(2), "x⇥y");
    EXPECT_EQ(spaced.value()->display(3), "<0x01>");
    EXPECT_FALSE(spaced.value()->bosId().has_value());
}

TEST(TokenizerWord, VocabErrors)
{
    auto noUnk = WordTokenizer::fromVocab({"a", "b"}, true, false);
    ASSERT_FALSE(noUnk.isOk());
    EXPECT_TRUE(contains(noUnk.message(), "<unk>"));

    auto noBos = WordTokenizer::fromVocab({"<unk>", "a"}, true, /*addBos=*/true);
    ASSERT_FALSE(noBos.isOk());
    EXPECT_TRUE(contains(noBos.message(), "<bos>"));

    auto dup = WordTokenizer::fromVocab({"<unk>", "a", "a"}, true, false);
    ASSERT_FALSE(dup.isOk());
    EXPECT_TRUE(contains(dup.message(), "duplicate"));
}

TEST(TokenizerWord, VocabFile)
{
    attn::test::TempDir dir;
    // CRLF line endings are accepted; the file's last newline is optional.
    attn::test::writeBytes(dir.file("vocab.txt"), "<pad>\r\n<unk>\r\npass;\r\na\r\n=\r\n0\r\n;");
    auto tok = WordTokenizer::fromVocabFile(dir.file("vocab.txt"), true, false);
    ASSERT_TRUE(tok.isOk()) << tok.message();
    EXPECT_EQ(tok.value()->vocab(), (std::vector<std::string> {"<pad>", "<unk>", "pass;", "a", "=", "0", ";"}));
    EXPECT_EQ(tok.value()->encode("pass; a = 0 ; b"), (std::vector<int64_t> {2, 3, 4, 5, 6, 1}));
}

TEST(TokenizerWord, VocabFileErrorsNameTheLine)
{
    attn::test::TempDir dir;
    attn::test::writeBytes(dir.file("empty.txt"), "<unk>\na\n\nb\n");
    auto r = WordTokenizer::fromVocabFile(dir.file("empty.txt"), true, false);
    ASSERT_FALSE(r.isOk());
    EXPECT_TRUE(contains(r.message(), "line 3"));
    EXPECT_TRUE(contains(r.message(), "empty"));

    attn::test::writeBytes(dir.file("dup.txt"), "<unk>\na\nb\na\n");
    r = WordTokenizer::fromVocabFile(dir.file("dup.txt"), true, false);
    ASSERT_FALSE(r.isOk());
    EXPECT_TRUE(contains(r.message(), "line 4"));
    EXPECT_TRUE(contains(r.message(), "line 2"));
    EXPECT_TRUE(contains(r.message(), "\"a\""));

    attn::test::writeBytes(dir.file("nounk.txt"), "a\nb\n");
    r = WordTokenizer::fromVocabFile(dir.file("nounk.txt"), true, false);
    ASSERT_FALSE(r.isOk());
    EXPECT_TRUE(contains(r.message(), "<unk>"));
    EXPECT_TRUE(contains(r.message(), "nounk.txt"));

    r = WordTokenizer::fromVocabFile(dir.file("absent.txt"), true, false);
    ASSERT_FALSE(r.isOk());
    EXPECT_TRUE(contains(r.message(), "absent.txt"));
}

TEST(TokenizerMake, BytesAndWord)
{
    attn::test::TempDir dir;
    attn::TokenizerConfig bytes;
    bytes.addBos = false;
    auto b = attn::makeTokenizer(bytes, dir.path());
    ASSERT_TRUE(b.isOk()) << b.message();
    EXPECT_EQ(b.value()->vocabSize(), 259);
    EXPECT_EQ(b.value()->encode("x"), (std::vector<int64_t> {'x'}));

    attn::TokenizerConfig word;
    word.type = attn::TokenizerType::Word;
    word.vocabFile = "vocab.txt";
    word.addBos = false;
    auto missing = attn::makeTokenizer(word, dir.path());
    ASSERT_FALSE(missing.isOk());
    EXPECT_TRUE(contains(missing.message(), dir.file("vocab.txt")));

    attn::test::writeBytes(dir.file("vocab.txt"), "<unk>\nhello\n");
    auto w = attn::makeTokenizer(word, dir.path());
    ASSERT_TRUE(w.isOk()) << w.message();
    EXPECT_EQ(w.value()->encode("Hello there"), (std::vector<int64_t> {1, 0}));
}
