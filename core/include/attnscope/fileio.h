// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "attnscope/status.h"

#include <atomic>
#include <cstdint>
#include <string>

namespace attn {

/**
 * @brief Writes bytes to `path` atomically: a temporary file in the same directory, flushed, then
 * renamed over the target, so a reader never sees a half-written file. Overwrite policy is the
 * caller's: check fileExists() first where a person must be asked.
 */
Status writeFileAtomic(const std::string& path, const std::string& bytes);
/// The most readFile() reads unless told otherwise: far more than any text file it is used for.
constexpr uint64_t kDefaultMaxReadBytes = uint64_t(1) << 30;
/**
 * @brief Reads a whole file. Opening never blocks (a FIFO without a writer reads as empty); pipes and devices are
 * read to EOF, but more than maxBytes is an error, so `/dev/zero` cannot exhaust memory.
 */
Result<std::string> readFile(const std::string& path, uint64_t maxBytes = kDefaultMaxReadBytes);
/**
 * @brief Reads a model file (config.json, tokenizer.json, a vocabulary, an index, a .npy): only a regular file. A
 * FIFO, device or directory is refused by name without blocking, and a file larger than maxBytes before any read.
 */
Result<std::string> readRegularFile(const std::string& path, uint64_t maxBytes);
bool fileExists(const std::string& path);
/** @brief Hex SHA-256 of a file's contents (streamed, constant memory); stops with an error once *cancel is set. */
Result<std::string> sha256File(const std::string& path, const std::atomic<bool>* cancel = nullptr);
/** @brief Hex SHA-256 of bytes in memory. */
Result<std::string> sha256Bytes(const std::string& bytes);

} // namespace attn
