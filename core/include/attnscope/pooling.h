// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "attnscope/maps.h"

#include <cstdint>

namespace attn {

/**
 * @brief Reduces a map to at most maxSize x maxSize cells by pooling blocks of ceil(rows/maxSize) x
 * ceil(cols/maxSize) cells (the last block of a row/column may be smaller). Masked (NaN) cells are ignored; a
 * block with no finite cell stays NaN (masked). For signed maps, Max keeps the value of largest magnitude with
 * its sign. A map already within maxSize is returned unchanged. The result keeps layer/head/kind and records its block
 * sizes (rowBlock, colBlock).
 */
AttentionMap poolMap(const AttentionMap& map, int64_t maxSize, PoolMode mode, bool isSigned);

} // namespace attn
