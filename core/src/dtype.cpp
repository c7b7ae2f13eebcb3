// SPDX-License-Identifier: GPL-3.0-or-later
#include "attnscope/dtype.h"

#include "json_limits.h"

#include <cmath>
#include <cstring>

namespace attn {

namespace {

// memcpy is the portable way to reinterpret bits before C++20's std::bit_cast; compilers reduce
// it to a register move.
uint32_t floatBits(float value)
{
    uint32_t bits;
    std::memcpy(&bits, &value, sizeof bits);
    return bits;
}

float bitsToFloat(uint32_t bits)
{
    float value;
    std::memcpy(&value, &bits, sizeof value);
    return value;
}

// Rounds `value >> shift` to nearest, ties to even. shift is in [1, 31].
uint32_t shiftRoundNearestEven(uint32_t value, unsigned shift)
{
    const uint32_t quotient = value >> shift;
    const uint32_t remainder = value & ((1u << shift) - 1u);
    const uint32_t halfway = 1u << (shift - 1u);
    if (remainder > halfway || (remainder == halfway && (quotient & 1u)))
        return quotient + 1u;
    return quotient;
}

} // namespace

std::size_t dtypeSize(DType dtype)
{
    switch (dtype) {
    case DType::F32:
        return 4;
    case DType::F16:
    case DType::BF16:
        return 2;
    case DType::I64:
        return 8;
    }
    return 0;
}

std::string dtypeName(DType dtype)
{
    switch (dtype) {
    case DType::F32:
        return "F32";
    case DType::F16:
        return "F16";
    case DType::BF16:
        return "BF16";
    case DType::I64:
        return "I64";
    }
    return "?";
}

Result<DType> parseDTypeName(const std::string& name)
{
    // Names are case-sensitive: the safetensors spec spells them in upper case, and accepting "f32"
    // would let files through that other readers reject.
    for (DType dtype : {DType::F32, DType::F16, DType::BF16, DType::I64}) {
        if (name == dtypeName(dtype))
            return dtype;
    }
    return Status::error("unsupported dtype \"" + detail::textExcerpt(name) + "\" (supported: F32, F16, BF16, I64)");
}

float halfToFloat(uint16_t bits)
{
    const uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
    const uint32_t exponent = (bits >> 10) & 0x1Fu;
    const uint32_t mantissa = bits & 0x3FFu;

    if (exponent == 0) {
        if (mantissa == 0)
            return bitsToFloat(sign); // signed zero
        // Subnormal: mantissa * 2^-24. Both factors are exact in float, so the product is too.
        const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
        return sign ? -magnitude : magnitude;
    }
    if (exponent == 0x1F) {
        // Inf, or NaN with its payload kept in the top mantissa bits so a round trip is bit-exact.
        return bitsToFloat(sign | 0x7F800000u | (mantissa << 13));
    }
    // Normal: rebias the exponent from 15 to 127 and widen the mantissa.
    return bitsToFloat(sign | ((exponent + 127u - 15u) << 23) | (mantissa << 13));
}

uint16_t floatToHalf(float value)
{
    const uint32_t bits = floatBits(value);
    const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
    const uint32_t magnitude = bits & 0x7FFFFFFFu;

    if (magnitude >= 0x7F800000u) {
        if (magnitude == 0x7F800000u)
            return sign | 0x7C00u;
        // NaN: keep the top payload bits and force the quiet bit so truncation cannot make it Inf.
        return static_cast<uint16_t>(sign | 0x7E00u | ((magnitude & 0x7FFFFFu) >> 13));
    }

    const int exponent = static_cast<int>(magnitude >> 23) - 127;
    const uint32_t mantissa = magnitude & 0x7FFFFFu;

    if (exponent > 15)
        return sign | 0x7C00u; // beyond the largest finite half even before rounding
    if (exponent >= -14) {
        // Normal half. Rounding the 23-bit mantissa to 10 bits may carry into the exponent, which is
        // exactly right (1.111..1 x 2^e rounds to 1.0 x 2^(e+1)), and from 2^15 into Inf.
        const uint32_t combined = (static_cast<uint32_t>(exponent + 15) << 23) | mantissa;
        return static_cast<uint16_t>(sign | shiftRoundNearestEven(combined, 13));
    }
    if (exponent < -25)
        return sign; // below half the smallest subnormal (2^-25): rounds to zero
    // Subnormal half, counted in units of 2^-24: value = (1.mantissa) * 2^exponent
    // = (0x800000 | mantissa) * 2^(exponent - 23), so shift right by -(exponent + 1) bits, in [14, 24].
    // A carry out of 0x3FF gives 0x400, the smallest normal, which is again right.
    const uint32_t full = 0x800000u | mantissa;
    return static_cast<uint16_t>(sign | shiftRoundNearestEven(full, static_cast<unsigned>(-(exponent + 1))));
}

float bf16ToFloat(uint16_t bits)
{
    return bitsToFloat(static_cast<uint32_t>(bits) << 16);
}

uint16_t floatToBf16(float value)
{
    const uint32_t bits = floatBits(value);
    if ((bits & 0x7FFFFFFFu) > 0x7F800000u) {
        // NaN: rounding could carry the payload into the exponent, and truncation could clear it to
        // Inf; set the quiet bit instead.
        return static_cast<uint16_t>((bits >> 16) | 0x0040u);
    }
    // bf16 is the top half of a float, so rounding is on the low 16 bits; the carry into the exponent
    // (and from the largest finite values into Inf) is the correct IEEE result.
    return static_cast<uint16_t>(shiftRoundNearestEven(bits, 16));
}

} // namespace attn
