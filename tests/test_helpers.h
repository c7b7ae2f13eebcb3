// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "attnscope/maps.h"

#include <cstdint>
#include <string>

namespace attn::test {

/// A fresh, empty directory under the system temp dir, removed when the object dies.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return m_path; }
    std::string file(const std::string& name) const { return m_path + "/" + name; }

private:
    std::string m_path;
};

/// Writes raw bytes to a file (no atomicity; tests only).
void writeBytes(const std::string& path, const std::string& bytes);

/// "L{layer}_H{head}_{KIND}.npy", the file name maps are stored under (CLI output and the reference fixtures).
std::string mapFileName(int64_t layer, int64_t head, MapKind kind);

} // namespace attn::test
