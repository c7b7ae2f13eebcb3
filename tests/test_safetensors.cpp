// SPDX-License-Identifier: GPL-3.0-or-later
#include "attnscope/safetensors.h"

#include "attnscope/fileio.h"
#include "test_helpers.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstring>

using namespace attn;
using attn::test::TempDir;

namespace {

std::string lengthPrefix(uint64_t length)
{
    std::string bytes;
    for (int i = 0; i < 8; ++i)
        bytes.push_back(static_cast<char>((length >> (8 * i)) & 0xFF));
    return bytes;
}

// A safetensors file assembled by hand: length prefix, header text as given, data bytes.
std::string makeFile(const std::string& header, const std::string& data)
{
    return lengthPrefix(header.size()) + header + data;
}

// Writes `bytes`, opens them and expects failure with a message naming the file and every fragment.
void expectOpenFails(const std::string& bytes, const std::vector<std::string>& fragments)
{
    TempDir dir;
    const std::string path = dir.file("bad.safetensors");
    attn::test::writeBytes(path, bytes);
    auto opened = SafetensorsFile::open(path);
    ASSERT_FALSE(opened) << "expected failure mentioning: " << fragments.front();
    EXPECT_NE(opened.message().find(path), std::string::npos) << opened.message();
    for (const auto& fragment : fragments)
        EXPECT_NE(opened.message().find(fragment), std::string::npos) << "missing '" << fragment << "' in\n"
                                                                      << opened.message();
}

std::string entry(const std::string& dtype, const std::string& shape, uint64_t begin, uint64_t end)
{
    return "{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" + std::to_string(begin) + ","
        + std::to_string(end) + "]}";
}

} // namespace

TEST(SafetensorsRoundTrip, EveryDtypeBitExactWithMetadata)
{
    const float f32[6] = {1.0f, -2.5f, 3.0e-38f, 0.0f, -0.0f, 65504.0f};
    const uint16_t f16[4] = {0x3C00, 0x7E01, 0x0001, 0xFC00}; // includes a NaN payload and -Inf
    const uint16_t bf16[3] = {0x3F80, 0x7FC1, 0x8000};
    const int64_t i64[2] = {-1, 0x7FFFFFFFFFFFFFFF};
    const std::vector<TensorToWrite> tensors = {
        {"layers.0.weight", DType::F32, {2, 3}, f32, sizeof f32},
        {"half", DType::F16, {4}, f16, sizeof f16},
        {"brain", DType::BF16, {3, 1}, bf16, sizeof bf16},
        {"ids", DType::I64, {2}, i64, sizeof i64},
        {"scalar", DType::F32, {}, f32, 4},
        {"empty", DType::F16, {0, 5}, nullptr, 0},
    };
    const std::map<std::string, std::string> metadata = {{"format", "pt"}, {"note", "ünïcode \"quoted\""}};

    TempDir dir;
    const std::string path = dir.file("model.safetensors");
    Status written = writeSafetensors(path, tensors, metadata);
    ASSERT_TRUE(written) << written.message();

    auto opened = SafetensorsFile::open(path);
    ASSERT_TRUE(opened) << opened.message();
    const SafetensorsFile& file = **opened;
    EXPECT_EQ(file.path(), path);
    EXPECT_EQ(file.metadata(), metadata);
    ASSERT_EQ(file.tensors().size(), tensors.size());
    for (const auto& expected : tensors) {
        const TensorInfo* info = file.find(expected.name);
        ASSERT_NE(info, nullptr) << expected.name;
        EXPECT_EQ(info->dtype, expected.dtype) << expected.name;
        EXPECT_EQ(info->shape, expected.shape) << expected.name;
        EXPECT_EQ(info->nbytes(), expected.nbytes) << expected.name;
        if (expected.nbytes > 0) {
            EXPECT_EQ(std::memcmp(file.data(*info), expected.data, expected.nbytes), 0) << expected.name;
        }
    }
    EXPECT_EQ(file.find("layers.0.weight")->numel(), 6);
    EXPECT_EQ(file.find("scalar")->numel(), 1);
    EXPECT_EQ(file.find("empty")->numel(), 0);
    EXPECT_EQ(file.find("missing"), nullptr);

    // Written in the given order with contiguous offsets, so sorted-by-offset is the same order.
    for (std::size_t i = 1; i < file.tensors().size(); ++i)
        EXPECT_LE(file.tensors()[i - 1].end, file.tensors()[i].begin);
    EXPECT_EQ(file.tensors().front().name, "layers.0.weight");

    // The header is padded to 8 bytes, so the data section starts aligned.
    Result<std::string> bytes = readFile(path);
    ASSERT_TRUE(bytes);
    uint64_t headerLength = 0;
    for (int i = 7; i >= 0; --i)
        headerLength = (headerLength << 8) | static_cast<unsigned char>((*bytes)[static_cast<std::size_t>(i)]);
    EXPECT_EQ(headerLength % 8, 0u);
    EXPECT_EQ(file.fileSize(), bytes->size());
    EXPECT_EQ(bytes->size(), 8 + headerLength + sizeof f32 + sizeof f16 + sizeof bf16 + sizeof i64 + 4);
}

TEST(SafetensorsRoundTrip, HeaderLayout)
{
    const float values[2] = {1.0f, 2.0f};
    TempDir dir;
    const std::string path = dir.file("a.safetensors");
    ASSERT_TRUE(writeSafetensors(path, {{"b", DType::F32, {1}, values, 4}, {"a", DType::F32, {1}, values + 1, 4}}));
    Result<std::string> bytes = readFile(path);
    ASSERT_TRUE(bytes);
    const uint64_t headerLength = static_cast<unsigned char>((*bytes)[0]);
    const std::string header = bytes->substr(8, headerLength);
    // No metadata given: no "__metadata__" key. Tensors keep the caller's order and tile the data.
    EXPECT_EQ(header.find("__metadata__"), std::string::npos);
    const auto json = nlohmann::json::parse(header);
    EXPECT_EQ(json["b"]["data_offsets"], nlohmann::json({0, 4}));
    EXPECT_EQ(json["a"]["data_offsets"], nlohmann::json({4, 8}));
    EXPECT_EQ(json["a"]["dtype"], "F32");
    EXPECT_LT(header.find("\"b\""), header.find("\"a\""));
    // Padding is JSON whitespace after the closing brace.
    EXPECT_EQ(header.size() % 8, 0u);
    EXPECT_EQ(header.substr(header.rfind('}') + 1).find_first_not_of(' '), std::string::npos);
}

TEST(SafetensorsRoundTrip, TensorsSortedByOffsetNotHeaderOrder)
{
    // Hand-made, unpadded header listing tensors out of data order, as other writers may do.
    const std::string header = "{\"late\":" + entry("F32", "[1]", 4, 8) + ",\"early\":" + entry("F32", "[1]", 0, 4)
        + ",\"__metadata__\":{\"k\":\"v\"}}";
    TempDir dir;
    const std::string path = dir.file("x.safetensors");
    attn::test::writeBytes(path, makeFile(header, std::string(8, '\x01')));
    auto opened = SafetensorsFile::open(path);
    ASSERT_TRUE(opened) << opened.message();
    ASSERT_EQ((*opened)->tensors().size(), 2u);
    EXPECT_EQ((*opened)->tensors()[0].name, "early");
    EXPECT_EQ((*opened)->tensors()[1].name, "late");
    EXPECT_EQ((*opened)->metadata().at("k"), "v");
}

TEST(SafetensorsRoundTrip, EmptyFileWithNoTensors)
{
    TempDir dir;
    const std::string path = dir.file("empty.safetensors");
    ASSERT_TRUE(writeSafetensors(path, {}));
    auto opened = SafetensorsFile::open(path);
    ASSERT_TRUE(opened) << opened.message();
    EXPECT_TRUE((*opened)->tensors().empty());
    EXPECT_TRUE((*opened)->metadata().empty());
}

TEST(SafetensorsWrite, RejectsDuplicateNames)
{
    const float value = 1.0f;
    TempDir dir;
    const std::string path = dir.file("dup.safetensors");
    Status status = writeSafetensors(path, {{"w", DType::F32, {1}, &value, 4}, {"w", DType::F32, {1}, &value, 4}});
    ASSERT_FALSE(status);
    EXPECT_NE(status.message().find("duplicate"), std::string::npos) << status.message();
    EXPECT_NE(status.message().find("\"w\""), std::string::npos) << status.message();
    EXPECT_FALSE(fileExists(path));
}

TEST(SafetensorsWrite, RejectsSizeMismatch)
{
    const float values[3] = {};
    TempDir dir;
    Status status = writeSafetensors(dir.file("a.safetensors"), {{"w", DType::F16, {3}, values, 12}});
    ASSERT_FALSE(status);
    EXPECT_NE(status.message().find("needs 6"), std::string::npos) << status.message();
    EXPECT_NE(status.message().find("\"w\""), std::string::npos) << status.message();
}

TEST(SafetensorsWrite, RejectsNullDataAndReservedName)
{
    const float value = 1.0f;
    TempDir dir;
    Status status = writeSafetensors(dir.file("a.safetensors"), {{"w", DType::F32, {1}, nullptr, 4}});
    ASSERT_FALSE(status);
    EXPECT_NE(status.message().find("null"), std::string::npos) << status.message();
    EXPECT_FALSE(writeSafetensors(dir.file("b.safetensors"), {{"__metadata__", DType::F32, {1}, &value, 4}}));
    EXPECT_FALSE(writeSafetensors(dir.file("c.safetensors"), {{"w", DType::F32, {-1}, &value, 4}}));
}

TEST(SafetensorsOpen, MissingFile)
{
    TempDir dir;
    auto opened = SafetensorsFile::open(dir.file("absent.safetensors"));
    ASSERT_FALSE(opened);
    EXPECT_NE(opened.message().find("absent.safetensors"), std::string::npos) << opened.message();
}

TEST(SafetensorsOpen, FileShorterThan8Bytes)
{
    expectOpenFails("abc", {"shorter than the 8-byte"});
    expectOpenFails("", {"shorter than the 8-byte"});
}

TEST(SafetensorsOpen, HeaderLengthLargerThanFile)
{
    expectOpenFails(lengthPrefix(1000) + "{}", {"header length 1000", "larger than the file"});
}

TEST(SafetensorsOpen, HeaderLengthAbsurd)
{
    expectOpenFails(lengthPrefix(uint64_t(1) << 40) + "{}", {"exceeds", "limit"});
}

TEST(SafetensorsOpen, HeaderNotValidJson)
{
    // The parser's own text ("parse error ... syntax error") pinpoints the place for the user.
    expectOpenFails(makeFile("{\"w\": ", ""), {"not valid JSON", "parse error"});
}

TEST(SafetensorsOpen, HeaderNotAnObject)
{
    expectOpenFails(makeFile("[1, 2]", ""), {"not a JSON object", "array"});
}

TEST(SafetensorsOpen, EntryNotAnObject)
{
    expectOpenFails(makeFile("{\"w\": 5}", ""), {"\"w\"", "not a JSON object"});
}

TEST(SafetensorsOpen, EntryMissingKey)
{
    expectOpenFails(makeFile("{\"w\": {\"dtype\":\"F32\",\"shape\":[1]}}", std::string(4, '\0')),
        {"\"w\"", "missing key \"data_offsets\""});
}

TEST(SafetensorsOpen, EntryExtraKey)
{
    expectOpenFails(
        makeFile("{\"w\": {\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"foo\":1}}", std::string(4, '\0')),
        {"\"w\"", "unexpected key \"foo\""});
}

TEST(SafetensorsOpen, UnknownDtype)
{
    expectOpenFails(makeFile("{\"w\":" + entry("F64", "[1]", 0, 8) + "}", std::string(8, '\0')),
        {"\"w\"", "unsupported dtype \"F64\""});
    expectOpenFails(makeFile("{\"w\":{\"dtype\":7,\"shape\":[1],\"data_offsets\":[0,4]}}", std::string(4, '\0')),
        {"\"w\"", "dtype is not a string"});
}

TEST(SafetensorsOpen, ShapeNotNonNegativeIntegers)
{
    for (const std::string shape : {"[2,-1]", "[1.5]", "\"abc\"", "[[1]]"}) {
        expectOpenFails(makeFile("{\"w\":" + entry("F32", shape, 0, 4) + "}", std::string(4, '\0')),
            {"\"w\"", "shape is not a list of non-negative integers"});
    }
}

TEST(SafetensorsOpen, DataOffsetsMalformed)
{
    const std::string data(8, '\0');
    for (const std::string offsets : {"[4]", "[0,4,8]", "[-1,3]", "[0,\"4\"]", "4"}) {
        expectOpenFails(makeFile("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":" + offsets + "}}", data),
            {"\"w\"", "data_offsets is not a list of two non-negative integers"});
    }
    expectOpenFails(makeFile("{\"w\":" + entry("F32", "[0]", 8, 4) + "}", data), {"\"w\"", "begin 8 is after end 4"});
}

TEST(SafetensorsOpen, ByteLengthDoesNotMatchShape)
{
    expectOpenFails(makeFile("{\"w\":" + entry("F32", "[2]", 0, 4) + "}", std::string(4, '\0')),
        {"\"w\"", "span 4 bytes", "needs 8 bytes"});
}

TEST(SafetensorsOpen, RangePastEndOfFile)
{
    expectOpenFails(makeFile("{\"w\":" + entry("F32", "[2]", 0, 8) + "}", std::string(4, '\0')),
        {"\"w\"", "past the end of the file"});
}

TEST(SafetensorsOpen, OverlappingRanges)
{
    const std::string header = "{\"a\":" + entry("F32", "[2]", 0, 8) + ",\"b\":" + entry("F32", "[2]", 4, 12) + "}";
    expectOpenFails(makeFile(header, std::string(12, '\0')), {"\"a\"", "\"b\"", "overlap"});
}

TEST(SafetensorsOpen, HoleBetweenRanges)
{
    const std::string header = "{\"a\":" + entry("F32", "[1]", 0, 4) + ",\"b\":" + entry("F32", "[1]", 8, 12) + "}";
    expectOpenFails(makeFile(header, std::string(12, '\0')), {"\"a\"", "\"b\"", "hole", "does not allow holes"});
    // A hole before the first tensor too.
    expectOpenFails(
        makeFile("{\"a\":" + entry("F32", "[1]", 4, 8) + "}", std::string(8, '\0')), {"before tensor \"a\"", "hole"});
}

TEST(SafetensorsOpen, UnusedTrailingBytes)
{
    expectOpenFails(makeFile("{\"a\":" + entry("F32", "[1]", 0, 4) + "}", std::string(8, '\0')),
        {"4 unused trailing bytes", "does not allow holes"});
}

TEST(SafetensorsOpen, MetadataNotStringMap)
{
    const std::string tensor = "\"w\":" + entry("F32", "[1]", 0, 4);
    expectOpenFails(makeFile("{\"__metadata__\":{\"epoch\":3}," + tensor + "}", std::string(4, '\0')),
        {"__metadata__", "map of strings to strings", "\"epoch\""});
    expectOpenFails(
        makeFile("{\"__metadata__\":[\"x\"]," + tensor + "}", std::string(4, '\0')), {"__metadata__", "strings"});
}

TEST(SafetensorsOpen, DuplicateTensorName)
{
    const std::string header = "{\"w\":" + entry("F32", "[1]", 0, 4) + ",\"w\":" + entry("F32", "[1]", 4, 8) + "}";
    expectOpenFails(makeFile(header, std::string(8, '\0')), {"\"w\"", "more than once"});
}

TEST(SafetensorsOpen, ZeroSizeTensorsAndNestedKeysAreFine)
{
    // A zero-byte tensor where another begins is not an overlap; equal keys at different depths are
    // not duplicates.
    const std::string header = "{\"dtype\":" + entry("F32", "[1]", 0, 4) + ",\"e\":" + entry("F16", "[0]", 0, 0)
        + ",\"__metadata__\":{\"shape\":\"x\"}}";
    TempDir dir;
    const std::string path = dir.file("ok.safetensors");
    attn::test::writeBytes(path, makeFile(header, std::string(4, '\0')));
    auto opened = SafetensorsFile::open(path);
    ASSERT_TRUE(opened) << opened.message();
    EXPECT_EQ((*opened)->tensors().size(), 2u);
    EXPECT_EQ((*opened)->tensors()[0].name, "e");
}
