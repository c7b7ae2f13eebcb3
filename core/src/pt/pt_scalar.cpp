// SPDX-License-Identifier: GPL-3.0-or-later
// Element types of torch storages and their conversion to float32.
#include "pt/pt_scalar.h"

#include <cstring>

namespace attn {

std::size_t ptScalarSize(PtScalarType type)
{
    switch (type) {
    case PtScalarType::F64:
    case PtScalarType::I64:
        return 8;
    case PtScalarType::F32:
    case PtScalarType::I32:
        return 4;
    case PtScalarType::F16:
    case PtScalarType::BF16:
    case PtScalarType::I16:
        return 2;
    case PtScalarType::I8:
    case PtScalarType::U8:
    case PtScalarType::Bool:
        return 1;
    }
    return 1;
}

std::string ptScalarName(PtScalarType type)
{
    switch (type) {
    case PtScalarType::F64:
        return "F64";
    case PtScalarType::F32:
        return "F32";
    case PtScalarType::F16:
        return "F16";
    case PtScalarType::BF16:
        return "BF16";
    case PtScalarType::I64:
        return "I64";
    case PtScalarType::I32:
        return "I32";
    case PtScalarType::I16:
        return "I16";
    case PtScalarType::I8:
        return "I8";
    case PtScalarType::U8:
        return "U8";
    case PtScalarType::Bool:
        return "BOOL";
    }
    return "?";
}

std::optional<DType> toModelDType(PtScalarType type)
{
    switch (type) {
    case PtScalarType::F32:
        return DType::F32;
    case PtScalarType::F16:
        return DType::F16;
    case PtScalarType::BF16:
        return DType::BF16;
    case PtScalarType::I64:
        return DType::I64;
    default:
        return std::nullopt;
    }
}

namespace detail {

template <typename T> T loadAs(const uint8_t* p)
{
    T value;
    std::memcpy(&value, p, sizeof value); // storages need not be aligned inside the zip
    return value;
}

float elementToFloat(PtScalarType type, const uint8_t* p)
{
    switch (type) {
    case PtScalarType::F64:
        return static_cast<float>(loadAs<double>(p));
    case PtScalarType::F32:
        return loadAs<float>(p);
    case PtScalarType::F16:
        return halfToFloat(loadAs<uint16_t>(p));
    case PtScalarType::BF16:
        return bf16ToFloat(loadAs<uint16_t>(p));
    case PtScalarType::I64:
        return static_cast<float>(loadAs<int64_t>(p));
    case PtScalarType::I32:
        return static_cast<float>(loadAs<int32_t>(p));
    case PtScalarType::I16:
        return static_cast<float>(loadAs<int16_t>(p));
    case PtScalarType::I8:
        return static_cast<float>(loadAs<int8_t>(p));
    case PtScalarType::U8:
        return static_cast<float>(*p);
    case PtScalarType::Bool:
        return *p ? 1.0f : 0.0f;
    }
    return 0.0f;
}

} // namespace detail

} // namespace attn
