// SPDX-License-Identifier: GPL-3.0-or-later
#include "engine/map_collector.h"

#include <algorithm>
#include <limits>

namespace attn::engine {

namespace {

int64_t ceilDiv(int64_t a, int64_t b)
{
    return (a + b - 1) / b;
}

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

} // namespace

at::Tensor tileFutureMask(int64_t q0, int64_t q1, const at::Device& device)
{
    const auto options = at::TensorOptions().dtype(at::kLong).device(device);
    return at::arange(q1, options).unsqueeze(0) > at::arange(q0, q1, options).unsqueeze(1);
}

MapCollector::MapCollector(MapRegion region, int64_t seqLen, std::vector<int64_t> heads, std::vector<MapKind> kinds,
    const at::Device& device)
    : m_region(region)
    , m_seqLen(seqLen)
    , m_heads(std::move(heads))
    , m_kinds(std::move(kinds))
    , m_device(device)
{
    m_headIndex = at::tensor(m_heads, at::TensorOptions().dtype(at::kLong)).to(device);
    m_rowEnd = m_colEnd = seqLen;
    switch (region.mode) {
    case MapRegion::Mode::Full:
        break;
    case MapRegion::Mode::Overview:
        // The same blocks as poolMap() on the full map, so an overview is exactly the pooled full map.
        m_rowBlock = m_colBlock = ceilDiv(seqLen, std::max<int64_t>(region.overviewSize, 1));
        break;
    case MapRegion::Mode::Window:
        m_rowBegin = region.rowBegin;
        m_rowEnd = region.rowEnd;
        m_colBegin = region.colBegin;
        m_colEnd = region.colEnd;
        break;
    }
    m_outRows = ceilDiv(m_rowEnd - m_rowBegin, m_rowBlock);
    m_outCols = ceilDiv(m_colEnd - m_colBegin, m_colBlock);
}

bool MapCollector::wants(MapKind kind) const
{
    return std::find(m_kinds.begin(), m_kinds.end(), kind) != m_kinds.end();
}

bool MapCollector::needsRows(int64_t q0, int64_t q1) const
{
    return q0 < m_rowEnd && q1 > m_rowBegin;
}

at::Tensor& MapCollector::result(MapKind kind)
{
    at::Tensor& out = m_results[kind];
    if (!out.defined()) {
        // Full maps go straight to the host: they are bound for it, and holding N^2 per head on a GPU as well
        // would double the footprint. Cells never written (beyond the causal edge) stay NaN = masked.
        const at::Device where = m_region.mode == MapRegion::Mode::Full ? at::Device(at::kCPU) : m_device;
        out = at::full({static_cast<int64_t>(m_heads.size()), m_outRows, m_outCols}, kNaN,
            at::TensorOptions().dtype(at::kFloat).device(where));
    }
    return out;
}

at::Tensor MapCollector::pool(const at::Tensor& blocks, MapKind kind) const
{
    // blocks: [H, rows, rowBlock, cols, colBlock]. Non-finite cells (masked NaN, -inf logits) are not values,
    // as in poolMap(); a block without any finite cell stays NaN.
    const at::Tensor finite = at::isfinite(blocks);
    const at::Tensor count = finite.sum({2, 4});
    at::Tensor pooled;
    if (m_region.pool == PoolMode::Max) {
        const at::Tensor hi = blocks.masked_fill(finite.logical_not(), -kInf).amax({2, 4});
        if (isSignedMap(kind)) {
            // Largest magnitude with its sign; on a tie the positive value wins (poolMap's rule).
            const at::Tensor lo = blocks.masked_fill(finite.logical_not(), kInf).amin({2, 4});
            pooled = at::where(hi >= -lo, hi, lo);
        } else {
            pooled = hi;
        }
    } else {
        // Sum in double like poolMap(): a block holds up to (N/R)^2 small weights.
        pooled = (blocks.masked_fill(finite.logical_not(), 0.0).sum({2, 4}, false, at::kDouble) / count)
                     .to(at::kFloat);
    }
    return pooled.masked_fill(count == 0, kNaN);
}

void MapCollector::add(MapKind kind, const at::Tensor& perHead, int64_t q0)
{
    if (!wants(kind))
        return;
    const int64_t t = perHead.size(2);
    const int64_t q1 = perHead.size(3);
    TORCH_CHECK(q1 == q0 + t && q1 <= m_seqLen, "map tile must cover keys 0..q0+t");
    if (!needsRows(q0, q1))
        return;
    const at::Tensor tile = perHead.select(0, 0)
                                .index_select(0, m_headIndex.to(perHead.device()))
                                .to(at::kFloat)
                                .masked_fill(tileFutureMask(q0, q1, perHead.device()), kNaN);
    at::Tensor& out = result(kind);
    switch (m_region.mode) {
    case MapRegion::Mode::Full:
        out.narrow(1, q0, t).narrow(2, 0, q1).copy_(tile);
        break;
    case MapRegion::Mode::Window: {
        const int64_t r0 = std::max(m_rowBegin, q0), r1 = std::min(m_rowEnd, q1);
        const int64_t c1 = std::min(m_colEnd, q1); // keys at or beyond q1 are masked for every row of the tile
        if (c1 > m_colBegin)
            out.narrow(1, r0 - m_rowBegin, r1 - r0)
                .narrow(2, 0, c1 - m_colBegin)
                .copy_(tile.narrow(1, r0 - q0, r1 - r0).narrow(2, m_colBegin, c1 - m_colBegin));
        break;
    }
    case MapRegion::Mode::Overview: {
        TORCH_CHECK(q0 % m_rowBlock == 0, "query tiles must be aligned to overview blocks");
        const int64_t blockRows = ceilDiv(t, m_rowBlock);
        // Pad with NaN (= masked, ignored by the pooling) to whole blocks: keys up to the full width, rows to
        // the last block (only the final tile can end mid-block, at the sequence end).
        const at::Tensor padded = at::constant_pad_nd(tile, {0, m_outCols * m_colBlock - q1, 0, blockRows * m_rowBlock - t}, kNaN);
        const at::Tensor blocks
            = padded.view({padded.size(0), blockRows, m_rowBlock, m_outCols, m_colBlock});
        out.narrow(1, q0 / m_rowBlock, blockRows).copy_(pool(blocks, kind));
        break;
    }
    }
}

} // namespace attn::engine
