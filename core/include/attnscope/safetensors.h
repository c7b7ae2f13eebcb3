// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "attnscope/dtype.h"
#include "attnscope/status.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace attn {

/** @brief One tensor entry of a safetensors header. Offsets are relative to the data section. */
struct TensorInfo {
    std::string name;
    DType dtype = DType::F32;
    std::vector<int64_t> shape;
    uint64_t begin = 0;
    uint64_t end = 0;
    int64_t numel() const;
    uint64_t nbytes() const { return end - begin; }
};

/**
 * @brief A validated, memory-mapped .safetensors file (read-only).
 *
 * open() checks the header length, the JSON, the dtype names, the shapes, that every data range lies
 * inside the file, matches its shape, and that ranges neither overlap nor leave holes. Each class of
 * malformed file gets its own message naming the file, the tensor and the problem.
 */
class SafetensorsFile {
public:
    static Result<std::unique_ptr<SafetensorsFile>> open(const std::string& path);
    ~SafetensorsFile();
    SafetensorsFile(const SafetensorsFile&) = delete;
    SafetensorsFile& operator=(const SafetensorsFile&) = delete;

    const std::string& path() const { return m_path; }
    /// In header order as sorted by data offset.
    const std::vector<TensorInfo>& tensors() const { return m_tensors; }
    const TensorInfo* find(const std::string& name) const;
    /// Pointer to the first byte of the tensor's data inside the mapping (valid while this object lives).
    const uint8_t* data(const TensorInfo& info) const;
    const std::map<std::string, std::string>& metadata() const { return m_metadata; }
    uint64_t fileSize() const { return m_size; }

private:
    SafetensorsFile() = default;
    std::string m_path;
    const uint8_t* m_base = nullptr;
    uint64_t m_size = 0;
    uint64_t m_dataStart = 0;
    std::vector<TensorInfo> m_tensors;
    std::map<std::string, std::string> m_metadata;
};

/** @brief A tensor to write: raw little-endian bytes in the given dtype, C order. */
struct TensorToWrite {
    std::string name;
    DType dtype = DType::F32;
    std::vector<int64_t> shape;
    const void* data = nullptr;
    std::size_t nbytes = 0;
};

/**
 * @brief Writes a .safetensors file atomically (temp file + rename). Tensors are stored in the given
 * order; the header is padded to a multiple of 8 bytes. Fails on duplicate names or size mismatches.
 */
Status writeSafetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
    const std::map<std::string, std::string>& metadata = {});

} // namespace attn
