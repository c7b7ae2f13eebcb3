// SPDX-License-Identifier: GPL-3.0-or-later
// Malformed and hostile .pt files: each is refused with its own message, and no global is ever run.
#include "test_helpers.h"
#include "test_pt_zip.h"

#include "attnscope/pt_checkpoint.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <sys/stat.h>

namespace attn {
namespace {

using Kind = PickleValue::Kind;
using namespace std::string_literals;

std::string le32(uint32_t value)
{
    std::string out;
    test::putLe(out, value, 4);
    return out;
}

// BINUNICODE text.
std::string str(const std::string& text)
{
    return "X" + le32(static_cast<uint32_t>(text.size())) + text;
}

// A _rebuild_tensor_v2 call over storage `key` of `storageType` with `numel` elements, as torch writes it.
std::string tensorPickle(const std::string& storageType, const std::string& key, int numel, int size)
{
    return "ctorch._utils\n_rebuild_tensor_v2\n((" + str("storage") + "ctorch\n" + storageType + "\n" + str(key)
        + str("cpu") + "K" + std::string(1, static_cast<char>(numel)) + "tQK\x00K"s
        + std::string(1, static_cast<char>(size)) + "\x85K\x01\x85\x89)tR";
}

Result<std::unique_ptr<PtCheckpoint>> openPickle(
    const std::string& pickle, const std::vector<std::pair<std::string, std::string>>& records = {})
{
    return PtCheckpoint::fromBytes(test::makeCheckpoint(pickle, records), "bad.pt");
}

void expectError(const Result<std::unique_ptr<PtCheckpoint>>& result, const std::string& text)
{
    ASSERT_FALSE(result) << "expected an error containing: " << text;
    EXPECT_NE(result.message().find(text), std::string::npos) << result.message();
}

std::vector<uint8_t> readFile(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

TEST(PtMalformed, HandMadeArchiveReadsBack)
{
    // The positive control for the cases below: the same helpers make a valid file.
    auto ok = openPickle(
        "\x80\x02}(" + str("w") + tensorPickle("FloatStorage", "0", 2, 2) + "u.", {{"0", std::string(8, '\0')}});
    ASSERT_TRUE(ok) << ok.message();
    EXPECT_EQ((*ok)->root().find("w")->tensor().shape, (std::vector<int64_t> {2}));
}

TEST(PtMalformed, TruncatedZip)
{
    std::vector<uint8_t> bytes = readFile(test::ptDataDir() + "/views.pt");
    ASSERT_GT(bytes.size(), 1000u);
    bytes.resize(bytes.size() / 2);
    expectError(PtCheckpoint::fromBytes(bytes, "cut.pt"), "cut.pt: not a valid zip archive (truncated or corrupt?)");
}

TEST(PtMalformed, NotAZip)
{
    expectError(PtCheckpoint::fromBytes({'h', 'e', 'l', 'l', 'o'}, "text.pt"),
        "text.pt: not a torch.save checkpoint (not a zip archive)");
    expectError(PtCheckpoint::fromBytes({}, "empty.pt"), "empty.pt: empty file");
}

TEST(PtMalformed, MissingDataPkl)
{
    expectError(PtCheckpoint::fromBytes(test::makeStoredZip({{"archive/version", "3\n"}}), "nopkl.pt"),
        "nopkl.pt: no <name>/data.pkl entry in the zip archive");
}

TEST(PtMalformed, StorageKeyWithoutRecord)
{
    expectError(openPickle("\x80\x02}(" + str("w") + tensorPickle("FloatStorage", "17", 2, 2) + "u."),
        "bad.pt: data.pkl: storage '17' has no record data/17 in the archive (BINPERSID) at byte");
}

TEST(PtMalformed, StorageDeclaresMoreThanItsRecordHolds)
{
    expectError(openPickle("\x80\x02}(" + str("w") + tensorPickle("FloatStorage", "0", 64, 2) + "u.",
                    {{"0", std::string(16, '\0')}}),
        "storage '0' declares 64 elements of F32 but its record holds 16 bytes");
}

TEST(PtMalformed, ViewBeyondItsStorage)
{
    expectError(openPickle("\x80\x02}(" + str("module.x.weight") + tensorPickle("FloatStorage", "17", 16, 64) + "u.",
                    {{"17", std::string(64, '\0')}}),
        "bad.pt: data.pkl: tensor 'module.x.weight' at root['module.x.weight']: storage '17' holds 64 bytes but the "
        "view needs 256");
}

TEST(PtMalformed, UnknownOpcode)
{
    expectError(openPickle("\x80\x02\xff."), "bad.pt: data.pkl: unknown opcode 0xff at byte 2");
    expectError(openPickle("\x80\x02I1\n."), "unsupported opcode INT (0x49); torch.save never writes it at byte 2");
}

TEST(PtMalformed, StackUnderflow)
{
    expectError(openPickle("\x80\x02]a."),
        "bad.pt: data.pkl: APPEND needs 2 value(s) on the stack but it holds 1 (stack underflow) at byte 3");
    expectError(openPickle("\x80\x02."), "STOP needs 1 value(s) on the stack but it holds 0");
}

TEST(PtMalformed, MarkMissing)
{
    expectError(openPickle("\x80\x02]K\x01K\x02"
                           "e."),
        "bad.pt: data.pkl: APPENDS without a MARK at byte 7");
    expectError(openPickle("\x80\x02K\x01t."), "TUPLE without a MARK at byte 4");
}

TEST(PtMalformed, DeepNestingBomb)
{
    // 100000 nested lists: the VM is iterative and the graph check refuses the depth before anything recurses.
    const std::size_t depth = 100000;
    const std::string pickle = "\x80\x02" + std::string(depth, ']') + std::string(depth - 1, 'a') + ".";
    expectError(openPickle(pickle), "bad.pt: data.pkl: values nest deeper than 1000 levels");
}

TEST(PtMalformed, HugeDeclaredStringLength)
{
    expectError(openPickle("\x80\x02X\xff\xff\xff\xff"),
        "BINUNICODE declares 4294967295 bytes, more than the 268435456 this reader accepts at byte 2");
    expectError(openPickle("\x80\x02X\xe8\x03\x00\x00"
                           "abc"s),
        "BINUNICODE needs 1000 operand bytes but only 3 remain (truncated data.pkl?) at byte 2");
    expectError(openPickle(std::string("\x80\x02\x8d") + std::string(8, '\x7f')), "BINUNICODE8 declares");
}

TEST(PtMalformed, GlobalsAreNeverCalled)
{
    test::TempDir dir;
    const std::string marker = dir.file("pwned");
    // os.system("touch <marker>") as a REDUCE: must become an inert object.
    auto result = openPickle("\x80\x02"
                             "cos\nsystem\n"
        + str("touch " + marker) + "\x85R.");
    ASSERT_TRUE(result) << result.message();
    const PickleValue& root = (*result)->root();
    ASSERT_TRUE(root.is(Kind::Object));
    EXPECT_TRUE(root.isObjectOf("os", "system"));
    ASSERT_EQ(root.args()->items().size(), 1u);
    EXPECT_EQ(root.args()->items()[0]->asString(), "touch " + marker);
    struct stat info { };
    EXPECT_NE(::stat(marker.c_str(), &info), 0) << "the global ran";
    // The same through STACK_GLOBAL + NEWOBJ + BUILD.
    auto viaNewObj = openPickle("\x80\x04\x8c\x08"
                                "builtins\x8c\x04"
                                "eval\x93)\x81}b.");
    ASSERT_TRUE(viaNewObj) << viaNewObj.message();
    EXPECT_TRUE((*viaNewObj)->root().isObjectOf("builtins", "eval"));
}

TEST(PtMalformed, UnknownStorageType)
{
    expectError(openPickle("\x80\x02}(" + str("w") + tensorPickle("ComplexFloatStorage", "0", 2, 2) + "u.",
                    {{"0", std::string(16, '\0')}}),
        "BINPERSID unknown storage type torch.ComplexFloatStorage");
}

TEST(PtMalformed, ReferenceCycle)
{
    expectError(openPickle("\x80\x02]q\x00h\x00"
                           "a."s),
        "contains itself (a reference cycle)");
}

TEST(PtMalformed, MemoAndStopErrors)
{
    expectError(openPickle("\x80\x02h\x05."), "BINGET reads memo entry 5, which was never stored at byte 2");
    expectError(openPickle("\x80\x02N"), "data end without STOP (truncated data.pkl?) at byte 3");
    expectError(openPickle("\x80\x09N."), "PROTO version 9 is newer than pickle protocol 5");
}

TEST(PtMalformed, TypeErrorsNameTheOperation)
{
    expectError(openPickle("\x80\x02K\x01K\x02s."), "SETITEM needs 3 value(s)");
    expectError(openPickle("\x80\x02)K\x01K\x02s."), "SETITEM sets items on a tuple of 0, not a dict");
    expectError(openPickle("\x80\x02K\x01)R."), "REDUCE calls the int 1, not a global");
    expectError(openPickle("\x80\x02K\x01K\x02"
                           "b."),
        "BUILD sets the state of the int 1, which has none");
}

TEST(PtMalformed, HugeTensorViewOfATinyStorage)
{
    // A stride-0 view is legal, but one whose dense copy dwarfs the file is refused (memory bomb).
    const std::string pickle = "\x80\x02}(" + str("w") + "ctorch._utils\n_rebuild_tensor_v2\n((" + str("storage")
        + "ctorch\nFloatStorage\n" + str("0") + str("cpu") + "K\x01tQK\x00J\x00\x00\x00\x40\x85K\x00\x85\x89)tRu."s;
    expectError(openPickle(pickle, {{"0", std::string(4, '\0')}}), "a dense copy takes 4294967296 bytes");
}

TEST(PtMalformed, LargeIntegersStayInert)
{
    // LONG1 with 9 bytes (2**64): kept as builtins.int with its bytes, not refused.
    auto result = openPickle(std::string("\x80\x02\x8a\x09") + std::string(8, '\0') + "\x01.");
    ASSERT_TRUE(result) << result.message();
    EXPECT_TRUE((*result)->root().isObjectOf("builtins", "int"));
    auto negative = openPickle("\x80\x02\x8a\x02\x00\xff."s);
    ASSERT_TRUE(negative) << negative.message();
    EXPECT_EQ((*negative)->root().asInt(), -256);
}

} // namespace
} // namespace attn
