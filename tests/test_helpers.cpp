// SPDX-License-Identifier: GPL-3.0-or-later
#include "test_helpers.h"

#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>

namespace attn::test {

TempDir::TempDir()
{
    std::random_device rd;
    const auto base = std::filesystem::temp_directory_path();
    for (int attempt = 0; attempt < 100; ++attempt) {
        auto candidate = base / ("attnscope-test-" + std::to_string(rd()));
        if (std::filesystem::create_directory(candidate)) {
            m_path = candidate.string();
            return;
        }
    }
    throw std::runtime_error("could not create a temporary directory");
}

TempDir::~TempDir()
{
    std::error_code ec;
    std::filesystem::remove_all(m_path, ec);
}

void writeBytes(const std::string& path, const std::string& bytes)
{
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string mapFileName(int64_t layer, int64_t head, MapKind kind)
{
    // Appended, not `"L" + ...`: GCC 12 at -O3 in C++20 (LibTorch 2.x's standard) reports a bogus
    // -Wstringop-overflow for a literal + std::string.
    std::string name = "L";
    name += std::to_string(layer);
    name += "_H";
    name += std::to_string(head);
    name += "_";
    name += toString(kind);
    name += ".npy";
    return name;
}

} // namespace attn::test
