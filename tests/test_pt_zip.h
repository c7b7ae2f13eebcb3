// SPDX-License-Identifier: GPL-3.0-or-later
// Test helpers for the .pt reader: a minimal stored-zip writer (to wrap hand-made pickles the way torch.save
// does) and the fixture paths.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace attn::test {

inline std::string ptDataDir()
{
    return std::string(ATTNSCOPE_TEST_DATA_DIR) + "/pt";
}

inline std::string copeDir()
{
    return std::string(ATTNSCOPE_TEST_DATA_DIR) + "/ram-cope/cope-postnorm";
}

inline uint32_t crc32(const std::string& bytes)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (unsigned char byte : bytes) {
        crc ^= byte;
        for (int bit = 0; bit < 8; ++bit)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

inline void putLe(std::string& out, uint64_t value, int bytes)
{
    for (int i = 0; i < bytes; ++i)
        out.push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
}

/// A zip archive with the given (name, bytes) entries, all STORED, no data descriptors.
inline std::vector<uint8_t> makeStoredZip(const std::vector<std::pair<std::string, std::string>>& entries)
{
    std::string out;
    std::string central;
    for (const auto& [name, data] : entries) {
        const uint64_t offset = out.size();
        const uint32_t crc = crc32(data);
        putLe(out, 0x04034b50u, 4);
        putLe(out, 20, 2); // version needed
        putLe(out, 0, 2); // flags
        putLe(out, 0, 2); // method: stored
        putLe(out, 0, 4); // time, date
        putLe(out, crc, 4);
        putLe(out, data.size(), 4);
        putLe(out, data.size(), 4);
        putLe(out, name.size(), 2);
        putLe(out, 0, 2);
        out += name;
        out += data;

        putLe(central, 0x02014b50u, 4);
        putLe(central, 20, 2);
        putLe(central, 20, 2);
        putLe(central, 0, 2);
        putLe(central, 0, 2);
        putLe(central, 0, 4);
        putLe(central, crc, 4);
        putLe(central, data.size(), 4);
        putLe(central, data.size(), 4);
        putLe(central, name.size(), 2);
        putLe(central, 0, 2); // extra
        putLe(central, 0, 2); // comment
        putLe(central, 0, 2); // disk
        putLe(central, 0, 2); // internal attributes
        putLe(central, 0, 4); // external attributes
        putLe(central, offset, 4);
        central += name;
    }
    const uint64_t cdOffset = out.size();
    out += central;
    putLe(out, 0x06054b50u, 4);
    putLe(out, 0, 2);
    putLe(out, 0, 2);
    putLe(out, entries.size(), 2);
    putLe(out, entries.size(), 2);
    putLe(out, central.size(), 4);
    putLe(out, cdOffset, 4);
    putLe(out, 0, 2);
    return std::vector<uint8_t>(out.begin(), out.end());
}

/// A torch-style archive: archive/data.pkl plus archive/data/<key> records.
inline std::vector<uint8_t> makeCheckpoint(
    const std::string& pickle, const std::vector<std::pair<std::string, std::string>>& records = {})
{
    std::vector<std::pair<std::string, std::string>> entries {{"archive/data.pkl", pickle}};
    for (const auto& [key, bytes] : records)
        entries.emplace_back("archive/data/" + key, bytes);
    entries.emplace_back("archive/version", "3\n");
    return makeStoredZip(entries);
}

} // namespace attn::test
