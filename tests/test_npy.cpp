// SPDX-License-Identifier: GPL-3.0-or-later
#include "attnscope/npy.h"

#include "test_helpers.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

using namespace attn;
using attn::test::TempDir;

namespace {

std::string rawBytes(const void* data, std::size_t size)
{
    return std::string(static_cast<const char*>(data), size);
}

// A .npy file from a hand-written header dict, the way another writer might produce it.
std::string makeNpy(const std::string& dict, const std::string& data, int major = 1)
{
    std::string header = dict + "\n";
    std::string bytes = std::string("\x93NUMPY", 6) + static_cast<char>(major) + '\0';
    const std::size_t length = header.size();
    bytes += static_cast<char>(length & 0xFF);
    bytes += static_cast<char>((length >> 8) & 0xFF);
    if (major >= 2)
        bytes += std::string(2, '\0');
    return bytes + header + data;
}

void expectReadFails(const std::string& bytes, const std::string& expectedFragment)
{
    TempDir dir;
    const std::string path = dir.file("bad.npy");
    attn::test::writeBytes(path, bytes);
    Result<NpyArray> array = readNpyFloat32(path);
    ASSERT_FALSE(array) << "expected failure mentioning: " << expectedFragment;
    EXPECT_NE(array.message().find(expectedFragment), std::string::npos) << array.message();
    EXPECT_NE(array.message().find(path), std::string::npos) << array.message();
}

} // namespace

TEST(NpyEncode, ExactHeaderFor2x3)
{
    const float values[6] = {1.0f, -2.0f, 0.5f, 3.25f, 0.0f, 1e-3f};
    const std::string bytes = encodeNpyFloat32(values, {2, 3});

    const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    // 10 bytes of magic/version/length + 59 dict + 58 spaces + '\n' = 128.
    const std::string expectedHeader
        = std::string("\x93NUMPY\x01\x00", 8) + std::string("\x76\x00", 2) + dict + std::string(58, ' ') + "\n";
    ASSERT_EQ(expectedHeader.size(), 128u);
    ASSERT_EQ(bytes.size(), 128u + sizeof values);
    EXPECT_EQ(bytes.substr(0, 128), expectedHeader);
    EXPECT_EQ(bytes.substr(128), rawBytes(values, sizeof values));
}

TEST(NpyEncode, OneDimensionalAndScalarShapes)
{
    const float values[5] = {1, 2, 3, 4, 5};
    const std::string vector = encodeNpyFloat32(values, {5});
    EXPECT_NE(vector.find("'shape': (5,), }"), std::string::npos);
    const std::string scalar = encodeNpyFloat32(values, {});
    EXPECT_NE(scalar.find("'shape': (), }"), std::string::npos);
    EXPECT_EQ(scalar.size() % 64, 4u); // one float after an aligned preamble
}

TEST(NpyEncode, PreambleIsAlwaysMultipleOf64)
{
    std::vector<float> values(1000, 1.0f);
    const std::vector<std::vector<int64_t>> shapes
        = {{}, {1}, {10}, {2, 3}, {1, 1, 1, 1, 1, 1, 1, 1}, {10, 10, 10}, {0}, {1000}};
    for (const auto& shape : shapes) {
        const std::string bytes = encodeNpyFloat32(values.data(), shape);
        int64_t count = 1;
        for (int64_t dim : shape)
            count *= dim;
        const std::size_t preamble = bytes.size() - static_cast<std::size_t>(count) * 4;
        EXPECT_EQ(preamble % 64, 0u) << preamble;
        const std::size_t headerLength = static_cast<unsigned char>(bytes[8])
            | (static_cast<std::size_t>(static_cast<unsigned char>(bytes[9])) << 8);
        EXPECT_EQ(10 + headerLength, preamble);
        EXPECT_EQ(bytes[preamble - 1], '\n');
    }
}

TEST(NpyRoundTrip, WriteThenRead)
{
    TempDir dir;
    const std::vector<std::vector<int64_t>> shapes = {{2, 3}, {7}, {}, {0, 4}, {2, 1, 3}};
    for (const auto& shape : shapes) {
        int64_t count = 1;
        for (int64_t dim : shape)
            count *= dim;
        std::vector<float> values(static_cast<std::size_t>(count));
        for (std::size_t i = 0; i < values.size(); ++i)
            values[i] = static_cast<float>(i) * 0.37f - 1.5f;
        const std::string path = dir.file("a.npy");
        ASSERT_TRUE(writeNpyFloat32(path, values.data(), shape));
        Result<NpyArray> array = readNpyFloat32(path);
        ASSERT_TRUE(array) << array.message();
        EXPECT_EQ(array->shape, shape);
        EXPECT_EQ(array->values, values);
    }
}

TEST(NpyRoundTrip, WriteRejectsNegativeDimensionAndNullData)
{
    TempDir dir;
    const float value = 1.0f;
    EXPECT_FALSE(writeNpyFloat32(dir.file("neg.npy"), &value, {-1}));
    EXPECT_FALSE(writeNpyFloat32(dir.file("null.npy"), nullptr, {2}));
    EXPECT_TRUE(writeNpyFloat32(dir.file("empty.npy"), nullptr, {0}));
}

TEST(NpyRead, ConvertsFloat64)
{
    const double values[3] = {1.5, -0.25, 1e300};
    TempDir dir;
    const std::string path = dir.file("f8.npy");
    attn::test::writeBytes(
        path, makeNpy("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", rawBytes(values, sizeof values)));
    Result<NpyArray> array = readNpyFloat32(path);
    ASSERT_TRUE(array) << array.message();
    EXPECT_EQ(array->shape, (std::vector<int64_t> {3}));
    ASSERT_EQ(array->values.size(), 3u);
    EXPECT_EQ(array->values[0], 1.5f);
    EXPECT_EQ(array->values[1], -0.25f);
    EXPECT_TRUE(std::isinf(array->values[2]));
}

TEST(NpyRead, AcceptsOtherKeyOrderQuotesAndVersion2)
{
    const float values[4] = {1, 2, 3, 4};
    TempDir dir;
    const std::string path = dir.file("v2.npy");
    // Keys in another order, double quotes, no trailing comma, Python 2 longs, format 2.0.
    attn::test::writeBytes(path,
        makeNpy(
            "{\"shape\": (2L, 2L), \"fortran_order\": False, \"descr\": \"<f4\"}", rawBytes(values, sizeof values), 2));
    Result<NpyArray> array = readNpyFloat32(path);
    ASSERT_TRUE(array) << array.message();
    EXPECT_EQ(array->shape, (std::vector<int64_t> {2, 2}));
    EXPECT_EQ(array->values, (std::vector<float> {1, 2, 3, 4}));
}

TEST(NpyRead, RejectsFortranOrder)
{
    const float values[4] = {};
    expectReadFails(
        makeNpy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", rawBytes(values, sizeof values)),
        "Fortran");
}

TEST(NpyRead, RejectsBigEndian)
{
    const float values[4] = {};
    expectReadFails(
        makeNpy("{'descr': '>f4', 'fortran_order': False, 'shape': (4,), }", rawBytes(values, sizeof values)),
        "big-endian");
}

TEST(NpyRead, RejectsOtherTypes)
{
    const int64_t values[2] = {};
    expectReadFails(
        makeNpy("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", rawBytes(values, sizeof values)),
        "unsupported dtype '<i8'");
}

TEST(NpyRead, RejectsSizeMismatch)
{
    const float values[5] = {};
    // Shape says 6 elements (24 bytes); the file holds 20 bytes, then 28.
    expectReadFails(
        makeNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", rawBytes(values, sizeof values)),
        "holds 20 data bytes");
    expectReadFails(makeNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
                        rawBytes(values, sizeof values) + std::string(8, '\0')),
        "needs 24");
}

TEST(NpyRead, RejectsMalformedHeaders)
{
    expectReadFails("not an npy file at all", "magic");
    expectReadFails(makeNpy("{'descr': '<f4', 'fortran_order': False}", ""), "'shape'");
    expectReadFails(makeNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1}", ""), "unsupported");
    expectReadFails(makeNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': True}", ""), "'x'");
    expectReadFails(makeNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3)}", ""), "integer");
    expectReadFails(makeNpy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,)}", ""), "unsupported");
    expectReadFails(makeNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)", ""), "malformed");
    std::string truncated = makeNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", "");
    truncated.resize(20);
    expectReadFails(truncated, "past the end");
}

TEST(NpyRead, MissingFile)
{
    TempDir dir;
    Result<NpyArray> array = readNpyFloat32(dir.file("absent.npy"));
    ASSERT_FALSE(array);
    EXPECT_NE(array.message().find("absent.npy"), std::string::npos);
}
