// SPDX-License-Identifier: GPL-3.0-or-later
#include "attnscope/dtype.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

using namespace attn;

namespace {

float fromBits(uint32_t bits)
{
    float value;
    std::memcpy(&value, &bits, sizeof value);
    return value;
}

uint32_t toBits(float value)
{
    uint32_t bits;
    std::memcpy(&bits, &value, sizeof bits);
    return bits;
}

bool isHalfNan(uint16_t bits)
{
    return (bits & 0x7C00u) == 0x7C00u && (bits & 0x03FFu) != 0;
}
bool isBf16Nan(uint16_t bits)
{
    return (bits & 0x7F80u) == 0x7F80u && (bits & 0x007Fu) != 0;
}

} // namespace

TEST(DtypeNames, SizesAndNames)
{
    EXPECT_EQ(dtypeSize(DType::F32), 4u);
    EXPECT_EQ(dtypeSize(DType::F16), 2u);
    EXPECT_EQ(dtypeSize(DType::BF16), 2u);
    EXPECT_EQ(dtypeSize(DType::I64), 8u);
    EXPECT_EQ(dtypeName(DType::F32), "F32");
    EXPECT_EQ(dtypeName(DType::F16), "F16");
    EXPECT_EQ(dtypeName(DType::BF16), "BF16");
    EXPECT_EQ(dtypeName(DType::I64), "I64");
}

TEST(DtypeNames, ParseRoundTrips)
{
    for (DType dtype : {DType::F32, DType::F16, DType::BF16, DType::I64}) {
        Result<DType> parsed = parseDTypeName(dtypeName(dtype));
        ASSERT_TRUE(parsed) << parsed.message();
        EXPECT_EQ(*parsed, dtype);
    }
}

TEST(DtypeNames, ParseRejectsUnsupportedAndNamesIt)
{
    Result<DType> parsed = parseDTypeName("F64");
    ASSERT_FALSE(parsed);
    EXPECT_NE(parsed.message().find("unsupported dtype \"F64\""), std::string::npos) << parsed.message();
    for (const char* supported : {"F32", "F16", "BF16", "I64"})
        EXPECT_NE(parsed.message().find(supported), std::string::npos) << parsed.message();

    // The spec spells names in upper case; other readers reject lower case, so we do too.
    EXPECT_FALSE(parseDTypeName("f32"));
    EXPECT_FALSE(parseDTypeName(""));
}

TEST(DtypeHalf, KnownBitPatternsToFloat)
{
    EXPECT_EQ(halfToFloat(0x3C00), 1.0f);
    EXPECT_EQ(halfToFloat(0xC000), -2.0f);
    EXPECT_EQ(halfToFloat(0x3800), 0.5f);
    EXPECT_EQ(halfToFloat(0x7BFF), 65504.0f);
    EXPECT_EQ(halfToFloat(0x0400), std::ldexp(1.0f, -14)); // smallest normal
    EXPECT_EQ(halfToFloat(0x0001), std::ldexp(1.0f, -24)); // smallest subnormal
    EXPECT_EQ(halfToFloat(0x03FF), std::ldexp(1023.0f, -24)); // largest subnormal
    EXPECT_EQ(halfToFloat(0x8001), -std::ldexp(1.0f, -24));
    EXPECT_EQ(toBits(halfToFloat(0x0000)), 0x00000000u);
    EXPECT_EQ(toBits(halfToFloat(0x8000)), 0x80000000u); // negative zero keeps its sign
    EXPECT_EQ(halfToFloat(0x7C00), std::numeric_limits<float>::infinity());
    EXPECT_EQ(halfToFloat(0xFC00), -std::numeric_limits<float>::infinity());
    EXPECT_TRUE(std::isnan(halfToFloat(0x7E00)));
    EXPECT_TRUE(std::isnan(halfToFloat(0x7C01))); // signalling NaN with the lowest payload bit
}

TEST(DtypeHalf, KnownFloatsToBits)
{
    EXPECT_EQ(floatToHalf(1.0f), 0x3C00);
    EXPECT_EQ(floatToHalf(-2.0f), 0xC000);
    EXPECT_EQ(floatToHalf(65504.0f), 0x7BFF);
    EXPECT_EQ(floatToHalf(std::ldexp(1.0f, -24)), 0x0001);
    EXPECT_EQ(floatToHalf(0.0f), 0x0000);
    EXPECT_EQ(floatToHalf(-0.0f), 0x8000);
    EXPECT_EQ(floatToHalf(std::numeric_limits<float>::infinity()), 0x7C00);
    EXPECT_EQ(floatToHalf(-std::numeric_limits<float>::infinity()), 0xFC00);
    EXPECT_TRUE(isHalfNan(floatToHalf(std::numeric_limits<float>::quiet_NaN())));
    // A NaN whose payload sits only in the low bits must not truncate to Inf.
    EXPECT_TRUE(isHalfNan(floatToHalf(fromBits(0x7F800001u))));
    EXPECT_TRUE(isHalfNan(floatToHalf(fromBits(0xFF800001u))));
}

TEST(DtypeHalf, RoundsToNearestEven)
{
    const float ulp = std::ldexp(1.0f, -10); // spacing of halves in [1, 2)
    // Exactly halfway between 0x3C00 (even) and 0x3C01: ties go to the even one.
    EXPECT_EQ(floatToHalf(1.0f + ulp / 2), 0x3C00);
    // Halfway between 0x3C01 and 0x3C02 (even): rounds up.
    EXPECT_EQ(floatToHalf(1.0f + 3 * ulp / 2), 0x3C02);
    // Just above / below halfway.
    EXPECT_EQ(floatToHalf(std::nextafter(1.0f + ulp / 2, 2.0f)), 0x3C01);
    EXPECT_EQ(floatToHalf(std::nextafter(1.0f + 3 * ulp / 2, 0.0f)), 0x3C01);
    // Negative values round symmetrically.
    EXPECT_EQ(floatToHalf(-(1.0f + ulp / 2)), 0xBC00);
    // Mantissa carry into the exponent: just under 2 rounds to 2.0.
    EXPECT_EQ(floatToHalf(std::nextafter(2.0f, 0.0f)), 0x4000);
}

TEST(DtypeHalf, OverflowAndUnderflow)
{
    EXPECT_EQ(floatToHalf(65519.0f), 0x7BFF); // below the halfway point to 65536
    EXPECT_EQ(floatToHalf(65520.0f), 0x7C00); // tie; 0x7BFF is odd, so it rounds to Inf
    EXPECT_EQ(floatToHalf(1e10f), 0x7C00);
    EXPECT_EQ(floatToHalf(-1e10f), 0xFC00);
    EXPECT_EQ(floatToHalf(std::numeric_limits<float>::max()), 0x7C00);

    const float tiny = std::ldexp(1.0f, -25); // half the smallest subnormal
    EXPECT_EQ(floatToHalf(tiny), 0x0000); // tie with 0 (even)
    EXPECT_EQ(floatToHalf(-tiny), 0x8000);
    EXPECT_EQ(floatToHalf(std::nextafter(tiny, 1.0f)), 0x0001);
    EXPECT_EQ(floatToHalf(3 * tiny), 0x0002); // tie between 1 and 2 goes to 2
    EXPECT_EQ(floatToHalf(5 * tiny), 0x0002); // tie between 2 and 3 goes to 2
    EXPECT_EQ(floatToHalf(std::ldexp(1.0f, -30)), 0x0000);
    EXPECT_EQ(floatToHalf(std::numeric_limits<float>::denorm_min()), 0x0000);
    // Halfway between the largest subnormal 0x03FF and the smallest normal 0x0400: goes to 0x0400.
    EXPECT_EQ(floatToHalf(std::ldexp(2047.0f, -25)), 0x0400);
    EXPECT_EQ(floatToHalf(std::ldexp(1023.0f, -24)), 0x03FF);
}

TEST(DtypeHalf, EveryHalfRoundTripsBitExact)
{
    for (uint32_t bits = 0; bits <= 0xFFFF; ++bits) {
        const uint16_t half = static_cast<uint16_t>(bits);
        const float value = halfToFloat(half);
        if (isHalfNan(half)) {
            ASSERT_TRUE(std::isnan(value)) << std::hex << bits;
            ASSERT_TRUE(isHalfNan(floatToHalf(value))) << std::hex << bits;
            continue;
        }
        ASSERT_EQ(floatToHalf(value), half) << std::hex << bits;
        // Cross-check the decoding against the textbook formula for finite values.
        const uint32_t exponent = (bits >> 10) & 0x1F;
        const uint32_t mantissa = bits & 0x3FF;
        if (exponent == 0x1F)
            continue;
        const float magnitude = exponent == 0 ? std::ldexp(static_cast<float>(mantissa), -24)
                                              : std::ldexp(1.0f + mantissa / 1024.0f, static_cast<int>(exponent) - 15);
        ASSERT_EQ(value, (bits & 0x8000) ? -magnitude : magnitude) << std::hex << bits;
    }
}

TEST(DtypeBf16, KnownBitPatterns)
{
    EXPECT_EQ(floatToBf16(1.0f), 0x3F80);
    EXPECT_EQ(bf16ToFloat(0x3F80), 1.0f);
    EXPECT_EQ(floatToBf16(-2.0f), 0xC000);
    EXPECT_EQ(bf16ToFloat(0xC000), -2.0f);
    EXPECT_EQ(floatToBf16(3.14159265f), 0x4049); // 0x40490FDB: low half below halfway, rounds down
    EXPECT_EQ(floatToBf16(-0.0f), 0x8000);
    EXPECT_EQ(floatToBf16(std::numeric_limits<float>::infinity()), 0x7F80);
    EXPECT_EQ(bf16ToFloat(0xFF80), -std::numeric_limits<float>::infinity());
    EXPECT_EQ(bf16ToFloat(0x0001), fromBits(0x00010000u)); // float subnormal, kept exactly
}

TEST(DtypeBf16, RoundsToNearestEven)
{
    EXPECT_EQ(floatToBf16(fromBits(0x3F808000u)), 0x3F80); // tie, 0x3F80 even
    EXPECT_EQ(floatToBf16(fromBits(0x3F818000u)), 0x3F82); // tie, 0x3F82 even
    EXPECT_EQ(floatToBf16(fromBits(0x3F808001u)), 0x3F81); // above halfway
    EXPECT_EQ(floatToBf16(fromBits(0x3F817FFFu)), 0x3F81); // below halfway
    EXPECT_EQ(floatToBf16(fromBits(0xBF808000u)), 0xBF80); // negative tie
    EXPECT_EQ(floatToBf16(fromBits(0x3FFFFFFFu)), 0x4000); // carry into the exponent
    EXPECT_EQ(floatToBf16(std::numeric_limits<float>::max()), 0x7F80); // rounds up to Inf
}

TEST(DtypeBf16, NanStaysNan)
{
    EXPECT_TRUE(isBf16Nan(floatToBf16(std::numeric_limits<float>::quiet_NaN())));
    // Payload only in the low 16 bits: truncation alone would give Inf (0x7F80).
    EXPECT_TRUE(isBf16Nan(floatToBf16(fromBits(0x7F800001u))));
    EXPECT_TRUE(isBf16Nan(floatToBf16(fromBits(0xFF80FFFFu))));
    EXPECT_EQ(floatToBf16(fromBits(0xFF80FFFFu)) & 0x8000, 0x8000); // sign kept
    EXPECT_TRUE(std::isnan(bf16ToFloat(0x7FC0)));
}

TEST(DtypeBf16, EveryBf16RoundTripsBitExact)
{
    for (uint32_t bits = 0; bits <= 0xFFFF; ++bits) {
        const uint16_t bf = static_cast<uint16_t>(bits);
        const float value = bf16ToFloat(bf);
        ASSERT_EQ(toBits(value), bits << 16);
        if (isBf16Nan(bf))
            ASSERT_TRUE(isBf16Nan(floatToBf16(value))) << std::hex << bits;
        else
            ASSERT_EQ(floatToBf16(value), bf) << std::hex << bits;
    }
}
