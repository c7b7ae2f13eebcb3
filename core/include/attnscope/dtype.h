// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "attnscope/status.h"

#include <cstddef>
#include <cstdint>
#include <string>

namespace attn {

/// Element types a model file may store (safetensors names in parentheses).
enum class DType { F32, F16, BF16, I64 };

std::size_t dtypeSize(DType dtype);
/// "F32", "F16", "BF16", "I64".
std::string dtypeName(DType dtype);
/// Parses a safetensors dtype name; the error names the unsupported type.
Result<DType> parseDTypeName(const std::string& name);

/// IEEE binary16 <-> float, exact for every half value; float -> half rounds to nearest even.
float halfToFloat(uint16_t bits);
uint16_t floatToHalf(float value);
/// bfloat16 <-> float; float -> bf16 rounds to nearest even (NaN stays NaN).
float bf16ToFloat(uint16_t bits);
uint16_t floatToBf16(float value);

} // namespace attn
