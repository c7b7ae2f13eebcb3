// SPDX-License-Identifier: GPL-3.0-or-later
#include "attnscope/pooling.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>

namespace attn {

namespace {

int64_t ceilDiv(int64_t a, int64_t b)
{
    return (a + b - 1) / b;
}

/// Signed max: the larger magnitude wins; on a tie the positive value wins, so the result does not depend on
/// the order of the cells in the block.
bool beatsSigned(float candidate, float best)
{
    const float a = std::abs(candidate);
    const float b = std::abs(best);
    return a > b || (a == b && candidate > best);
}

} // namespace

AttentionMap poolMap(const AttentionMap& map, int64_t maxSize, PoolMode mode, bool isSigned)
{
    // A zero or negative target would divide by zero below; one cell is the smallest overview there is.
    maxSize = std::max<int64_t>(maxSize, 1);
    const bool consistent = map.rows > 0 && map.cols > 0
        && map.values.size() == static_cast<std::size_t>(map.rows) * static_cast<std::size_t>(map.cols);
    if (!consistent || (map.rows <= maxSize && map.cols <= maxSize))
        return map;

    const int64_t blockRows = ceilDiv(map.rows, maxSize);
    const int64_t blockCols = ceilDiv(map.cols, maxSize);
    AttentionMap out;
    out.layer = map.layer;
    out.head = map.head;
    out.kind = map.kind;
    out.rowBegin = map.rowBegin;
    out.colBegin = map.colBegin;
    out.rowBlock = map.rowBlock * blockRows;
    out.colBlock = map.colBlock * blockCols;
    out.rows = ceilDiv(map.rows, blockRows);
    out.cols = ceilDiv(map.cols, blockCols);
    out.values.assign(static_cast<std::size_t>(out.rows * out.cols), std::numeric_limits<float>::quiet_NaN());

    for (int64_t outRow = 0; outRow < out.rows; ++outRow) {
        const int64_t rowBegin = outRow * blockRows;
        const int64_t rowEnd = std::min(rowBegin + blockRows, map.rows);
        for (int64_t outCol = 0; outCol < out.cols; ++outCol) {
            const int64_t colBegin = outCol * blockCols;
            const int64_t colEnd = std::min(colBegin + blockCols, map.cols);
            // Accumulate in double: a mean over thousands of small float weights would lose digits in float.
            double sum = 0.0;
            int64_t count = 0;
            float best = 0.0f;
            for (int64_t row = rowBegin; row < rowEnd; ++row) {
                for (int64_t col = colBegin; col < colEnd; ++col) {
                    const float v = map.at(row, col);
                    // Masked cells are NaN; -inf (a causal mask in raw logits) is not a value either.
                    if (!std::isfinite(v))
                        continue;
                    if (count == 0 || (isSigned ? beatsSigned(v, best) : v > best))
                        best = v;
                    sum += v;
                    ++count;
                }
            }
            if (count == 0)
                continue; // fully masked block stays NaN so the view draws it as masked, not as zero
            out.values[static_cast<std::size_t>(outRow * out.cols + outCol)]
                = mode == PoolMode::Max ? best : static_cast<float>(sum / static_cast<double>(count));
        }
    }
    return out;
}

} // namespace attn
