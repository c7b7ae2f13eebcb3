// SPDX-License-Identifier: GPL-3.0-or-later
// The zip container of a torch.save file: entries found through libzip, stored records read in place
// from a memory mapping, compressed ones (never written by torch, but a re-zipped file may have them)
// inflated through libzip.
#pragma once

#include "attnscope/status.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace attn {

/// The bytes of one archive record; valid while its PtArchive lives.
struct PtRecord {
    const uint8_t* data = nullptr;
    uint64_t size = 0;
};

class PtArchive {
public:
    static Result<std::unique_ptr<PtArchive>> openFile(const std::string& path);
    static Result<std::unique_ptr<PtArchive>> fromBytes(std::vector<uint8_t> bytes, const std::string& displayName);
    ~PtArchive();
    PtArchive(const PtArchive&) = delete;
    PtArchive& operator=(const PtArchive&) = delete;

    const std::string& displayName() const { return m_name; }
    /// The top directory holding data.pkl ("archive", or the file's name at save time).
    const std::string& prefix() const { return m_prefix; }
    uint64_t fileSize() const { return m_size; }
    bool has(const std::string& relativeName) const;
    /// The record `<prefix>/<relativeName>`; the error names the entry.
    Result<PtRecord> record(const std::string& relativeName) const;

private:
    struct Entry {
        uint64_t index = 0; ///< libzip index
        bool stored = true;
        uint64_t dataOffset = 0; ///< stored entries: first data byte in the file
        uint64_t size = 0; ///< uncompressed size
    };
    PtArchive() = default;
    static Result<std::unique_ptr<PtArchive>> init(std::unique_ptr<PtArchive> archive);
    Status indexEntries();
    Status error(const std::string& what) const;

    std::string m_name;
    const uint8_t* m_base = nullptr;
    uint64_t m_size = 0;
    bool m_mapped = false;
    std::vector<uint8_t> m_owned; ///< fromBytes() keeps the bytes here
    void* m_zip = nullptr; ///< zip_t*, kept open to inflate compressed entries on demand
    std::string m_prefix;
    std::map<std::string, Entry> m_entries; ///< by name relative to the prefix
    mutable std::map<std::string, std::vector<uint8_t>> m_inflated; ///< compressed entries read so far
    mutable uint64_t m_inflatedBytes = 0;
};

} // namespace attn
