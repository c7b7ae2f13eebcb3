// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "attnscope/status.h"

#include <atomic>
#include <string>

namespace attn {

/**
 * @brief Writes bytes to `path` atomically: a temporary file in the same directory, flushed, then
 * renamed over the target, so a reader never sees a half-written file. Overwrite policy is the
 * caller's: check fileExists() first where a person must be asked.
 */
Status writeFileAtomic(const std::string& path, const std::string& bytes);
Result<std::string> readFile(const std::string& path);
bool fileExists(const std::string& path);
/** @brief Hex SHA-256 of a file's contents (streamed, constant memory); stops with an error once *cancel is set. */
Result<std::string> sha256File(const std::string& path, const std::atomic<bool>* cancel = nullptr);
/** @brief Hex SHA-256 of bytes in memory. */
Result<std::string> sha256Bytes(const std::string& bytes);

} // namespace attn
