// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "attnscope/status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace attn {

/** @brief A float32 array read from .npy. */
struct NpyArray {
    std::vector<int64_t> shape;
    std::vector<float> values;
};

/** @brief Encodes a C-order little-endian float32 array as .npy (format 1.0) bytes. */
std::string encodeNpyFloat32(const float* data, const std::vector<int64_t>& shape);
/** @brief Writes a C-order float32 .npy file atomically. */
Status writeNpyFloat32(const std::string& path, const float* data, const std::vector<int64_t>& shape);
/** @brief Reads a little-endian float32 (or float64, converted) C-order .npy file. */
Result<NpyArray> readNpyFloat32(const std::string& path);
/// The same from the file's bytes in memory; `name` names it in messages (for tests and fuzzing).
Result<NpyArray> parseNpyFloat32(const std::string& bytes, const std::string& name);

} // namespace attn
