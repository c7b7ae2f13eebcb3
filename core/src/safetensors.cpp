// SPDX-License-Identifier: GPL-3.0-or-later
#include "attnscope/safetensors.h"

#include "fd_guard.h"
#include "json_limits.h"

#include "attnscope/fileio.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <set>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace attn {

namespace {

// A header this large is not a model file (real headers are kilobytes); refusing it early avoids
// handing a corrupt length to the JSON parser.
constexpr uint64_t kMaxHeaderBytes = 100ull * 1000 * 1000;
const char* const kMetadataKey = "__metadata__";

std::string quoted(const std::string& text)
{
    return "\"" + text + "\"";
}

// Tensor names come from the file: a hostile one can be megabytes long or hold control bytes.
std::string quotedName(const std::string& name)
{
    return quoted(detail::textExcerpt(name, 120));
}

Status fileError(const std::string& path, const std::string& what)
{
    return Status::error("safetensors file " + quoted(path) + ": " + what);
}

Status tensorError(const std::string& path, const std::string& tensor, const std::string& what)
{
    return fileError(path, "tensor " + quotedName(tensor) + ": " + what);
}

// Non-negative JSON integer as uint64. nlohmann stores non-negative literals as number_unsigned
// and negative ones as number_integer; floats (including 2.0) are rejected as not integers.
bool asUnsigned(const nlohmann::json& value, uint64_t& out)
{
    if (value.is_number_unsigned()) {
        out = value.get<uint64_t>();
        return true;
    }
    if (value.is_number_integer() && value.get<int64_t>() >= 0) {
        out = static_cast<uint64_t>(value.get<int64_t>());
        return true;
    }
    return false;
}

// numel * elemsize, or false on overflow (a hostile shape must not wrap around to a small size).
bool byteSize(const std::vector<int64_t>& shape, std::size_t elemSize, uint64_t& out)
{
    uint64_t total = elemSize;
    for (int64_t dim : shape) {
        if (dim != 0 && total > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(dim))
            return false;
        total *= static_cast<uint64_t>(dim);
    }
    out = total;
    return true;
}

std::string shapeText(const std::vector<int64_t>& shape)
{
    std::string text = "[";
    for (std::size_t i = 0; i < shape.size(); ++i)
        text += (i ? ", " : "") + std::to_string(shape[i]);
    return text + "]";
}

using detail::FdGuard;

// Parses one tensor entry; `entry` is the JSON value stored under `name`.
Result<TensorInfo> parseEntry(const std::string& path, const std::string& name, const nlohmann::json& entry)
{
    if (!entry.is_object())
        return tensorError(path, name, "entry is not a JSON object (got " + std::string(entry.type_name()) + ")");
    for (const char* key : {"dtype", "shape", "data_offsets"}) {
        if (!entry.contains(key))
            return tensorError(path, name, "missing key " + quoted(key));
    }
    for (const auto& item : entry.items()) {
        if (item.key() != "dtype" && item.key() != "shape" && item.key() != "data_offsets") {
            return tensorError(
                path, name, "unexpected key " + quotedName(item.key()) + " (allowed: dtype, shape, data_offsets)");
        }
    }

    TensorInfo info;
    info.name = name;

    const auto& dtype = entry["dtype"];
    if (!dtype.is_string())
        return tensorError(path, name, "dtype is not a string");
    Result<DType> parsed = parseDTypeName(dtype.get<std::string>());
    if (!parsed)
        return tensorError(path, name, parsed.message());
    info.dtype = *parsed;

    const auto& shape = entry["shape"];
    if (!shape.is_array())
        return tensorError(path, name, "shape is not a list of non-negative integers");
    for (const auto& dim : shape) {
        uint64_t value = 0;
        if (!asUnsigned(dim, value) || value > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
            return tensorError(
                path, name, "shape is not a list of non-negative integers: " + detail::jsonExcerpt(shape));
        info.shape.push_back(static_cast<int64_t>(value));
    }

    const auto& offsets = entry["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2 || !asUnsigned(offsets[0], info.begin)
        || !asUnsigned(offsets[1], info.end)) {
        return tensorError(
            path, name, "data_offsets is not a list of two non-negative integers: " + detail::jsonExcerpt(offsets));
    }
    if (info.begin > info.end) {
        return tensorError(path, name,
            "data_offsets begin " + std::to_string(info.begin) + " is after end " + std::to_string(info.end));
    }

    uint64_t expected = 0;
    if (!byteSize(info.shape, dtypeSize(info.dtype), expected))
        return tensorError(path, name, "shape " + shapeText(info.shape) + " is too large (byte size overflows)");
    if (info.nbytes() != expected) {
        return tensorError(path, name,
            "data_offsets span " + std::to_string(info.nbytes()) + " bytes but shape " + shapeText(info.shape) + " of "
                + dtypeName(info.dtype) + " needs " + std::to_string(expected) + " bytes");
    }
    return info;
}

Status parseMetadata(const std::string& path, const nlohmann::json& value, std::map<std::string, std::string>& metadata)
{
    if (!value.is_object())
        return fileError(path, "__metadata__ is not a map of strings to strings");
    for (const auto& item : value.items()) {
        if (!item.value().is_string()) {
            return fileError(path,
                "__metadata__ is not a map of strings to strings: value of " + quotedName(item.key()) + " is "
                    + item.value().type_name());
        }
        metadata[item.key()] = item.value().get<std::string>();
    }
    return Status::ok();
}

} // namespace

int64_t TensorInfo::numel() const
{
    int64_t count = 1;
    for (int64_t dim : shape)
        count *= dim;
    return count;
}

SafetensorsFile::~SafetensorsFile()
{
    if (m_base)
        ::munmap(const_cast<uint8_t*>(m_base), m_size);
}

const TensorInfo* SafetensorsFile::find(const std::string& name) const
{
    // Linear: files hold at most a few thousand tensors and lookups happen once per load.
    for (const auto& info : m_tensors) {
        if (info.name == name)
            return &info;
    }
    return nullptr;
}

const uint8_t* SafetensorsFile::data(const TensorInfo& info) const
{
    return m_base + m_dataStart + info.begin;
}

Result<std::unique_ptr<SafetensorsFile>> SafetensorsFile::open(const std::string& path)
{
    try {
        struct stat st { };
        std::string openError;
        FdGuard fd(detail::openRegularFile(path, st, openError));
        if (fd.get() < 0)
            return fileError(path, openError);
        const uint64_t size = static_cast<uint64_t>(st.st_size);
        if (size < 8)
            return fileError(path, "file is " + std::to_string(size) + " bytes, shorter than the 8-byte header length");

        std::unique_ptr<SafetensorsFile> file(new SafetensorsFile());
        file->m_path = path;
        void* mapping = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd.get(), 0);
        if (mapping == MAP_FAILED)
            return fileError(path, std::string("cannot memory-map: ") + std::strerror(errno));
        // From here the destructor owns the mapping, so every early return below unmaps it.
        file->m_base = static_cast<const uint8_t*>(mapping);
        file->m_size = size;

        uint64_t headerLength = 0;
        for (int i = 7; i >= 0; --i)
            headerLength = (headerLength << 8) | file->m_base[i];
        if (headerLength > kMaxHeaderBytes) {
            return fileError(path,
                "header length " + std::to_string(headerLength) + " exceeds the " + std::to_string(kMaxHeaderBytes)
                    + "-byte limit (corrupt or not a safetensors file)");
        }
        if (headerLength > size - 8) {
            return fileError(path,
                "header length " + std::to_string(headerLength) + " is larger than the file (" + std::to_string(size)
                    + " bytes)");
        }
        file->m_dataStart = 8 + headerLength;

        // Duplicate keys are refused at every level: a tensor name given twice, or a dtype given twice in one entry,
        // would otherwise keep its last value silently.
        const char* headerBegin = reinterpret_cast<const char*>(file->m_base + 8);
        nlohmann::json header;
        if (Status parsed = detail::parseUntrustedJson({headerBegin, headerLength}, {}, header); !parsed)
            return fileError(path, "header: " + parsed.message());
        if (!header.is_object())
            return fileError(path, "header is not a JSON object (got " + std::string(header.type_name()) + ")");

        for (const auto& item : header.items()) {
            if (item.key() == kMetadataKey) {
                if (Status status = parseMetadata(path, item.value(), file->m_metadata); !status)
                    return status;
                continue;
            }
            Result<TensorInfo> info = parseEntry(path, item.key(), item.value());
            if (!info)
                return info.status();
            if (info->end > size - file->m_dataStart) {
                return tensorError(path, item.key(),
                    "data range [" + std::to_string(info->begin) + ", " + std::to_string(info->end)
                        + ") runs past the end of the file (data section is " + std::to_string(size - file->m_dataStart)
                        + " bytes)");
            }
            file->m_tensors.push_back(std::move(*info));
        }

        auto& tensors = file->m_tensors;
        // Ties on begin: zero-byte tensors first, so one sitting where another starts is not an overlap.
        std::sort(tensors.begin(), tensors.end(), [](const TensorInfo& a, const TensorInfo& b) {
            if (a.begin != b.begin)
                return a.begin < b.begin;
            if (a.end != b.end)
                return a.end < b.end;
            return a.name < b.name;
        });

        // The format requires the ranges to tile the data section exactly, like the reference reader.
        uint64_t cursor = 0;
        const TensorInfo* previous = nullptr;
        for (const auto& info : tensors) {
            if (info.begin < cursor) {
                return fileError(path,
                    "data ranges of tensors " + quotedName(previous->name) + " [" + std::to_string(previous->begin)
                        + ", " + std::to_string(previous->end) + ") and " + quotedName(info.name) + " ["
                        + std::to_string(info.begin) + ", " + std::to_string(info.end) + ") overlap");
            }
            if (info.begin > cursor) {
                const std::string where
                    = previous ? "between tensors " + quotedName(previous->name) + " and " : "before ";
                return fileError(path,
                    "hole of " + std::to_string(info.begin - cursor) + " unused bytes " + where
                        + (previous ? "" : "tensor ") + quotedName(info.name)
                        + " (the safetensors format does not allow holes in the data section)");
            }
            cursor = info.end;
            previous = &info;
        }
        const uint64_t dataBytes = size - file->m_dataStart;
        if (cursor != dataBytes) {
            return fileError(path,
                std::to_string(dataBytes - cursor) + " unused trailing bytes at the end of the data section"
                    + " (the safetensors format does not allow holes in the data section)");
        }
        return file;
    } catch (const std::exception& e) {
        return fileError(path, std::string("unexpected error: ") + e.what());
    }
}

Status writeSafetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
    const std::map<std::string, std::string>& metadata)
{
    try {
        // ordered_json keeps the caller's order in the header, so the file reads the way it was built.
        nlohmann::ordered_json header = nlohmann::ordered_json::object();
        if (!metadata.empty()) {
            nlohmann::ordered_json meta = nlohmann::ordered_json::object();
            for (const auto& [key, value] : metadata)
                meta[key] = value;
            header[kMetadataKey] = std::move(meta);
        }

        std::set<std::string> names;
        uint64_t offset = 0;
        for (const auto& tensor : tensors) {
            const std::string prefix = "cannot write " + quoted(path) + ": tensor " + quoted(tensor.name) + ": ";
            if (tensor.name == kMetadataKey)
                return Status::error(prefix + "name is reserved for the metadata map");
            if (!names.insert(tensor.name).second)
                return Status::error(prefix + "duplicate tensor name");
            for (int64_t dim : tensor.shape) {
                if (dim < 0)
                    return Status::error(prefix + "negative dimension in shape " + shapeText(tensor.shape));
            }
            uint64_t expected = 0;
            if (!byteSize(tensor.shape, dtypeSize(tensor.dtype), expected))
                return Status::error(prefix + "shape " + shapeText(tensor.shape) + " is too large");
            if (tensor.nbytes != expected) {
                return Status::error(prefix + "has " + std::to_string(tensor.nbytes) + " bytes but shape "
                    + shapeText(tensor.shape) + " of " + dtypeName(tensor.dtype) + " needs "
                    + std::to_string(expected));
            }
            if (tensor.data == nullptr && tensor.nbytes > 0)
                return Status::error(prefix + "data pointer is null");

            nlohmann::ordered_json entry = nlohmann::ordered_json::object();
            entry["dtype"] = dtypeName(tensor.dtype);
            entry["shape"] = tensor.shape;
            entry["data_offsets"] = {offset, offset + tensor.nbytes};
            header[tensor.name] = std::move(entry);
            offset += tensor.nbytes;
        }

        std::string headerText = header.dump();
        // Padding keeps the data section 8-byte aligned in the file, so a mapping can be read as
        // float/int64 arrays in place; spaces are JSON whitespace, as the reference writer uses.
        headerText.append((8 - headerText.size() % 8) % 8, ' ');

        std::string bytes;
        bytes.reserve(8 + headerText.size() + offset);
        uint64_t length = headerText.size();
        for (int i = 0; i < 8; ++i)
            bytes.push_back(static_cast<char>((length >> (8 * i)) & 0xFF));
        bytes += headerText;
        for (const auto& tensor : tensors) {
            if (tensor.nbytes > 0)
                bytes.append(static_cast<const char*>(tensor.data), tensor.nbytes);
        }
        return writeFileAtomic(path, bytes);
    } catch (const std::exception& e) {
        return Status::error("cannot write " + quoted(path) + ": " + e.what());
    }
}

} // namespace attn
