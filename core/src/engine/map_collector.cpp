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

MapCollector::MapCollector(
    MapRegion region, int64_t seqLen, std::vector<int64_t> heads, std::vector<MapKind> kinds, const at::Device& device)
    : m_region(region)
    , m_seqLen(seqLen)
    , m_heads(std::move(heads))
    , m_kinds(std::move(kinds))
    , m_device(device)
{
    m_headIndex = at::tensor(m_heads, at::TensorOptions().dtype(at::kLong)).to(device);
    m_allHeadsInOrder = true;
    for (size_t i = 0; i < m_heads.size(); ++i)
        m_allHeadsInOrder = m_allHeadsInOrder && m_heads[i] == static_cast<int64_t>(i);
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

MapCollector::PooledTile MapCollector::pool(
    const at::Tensor& tile, const at::Tensor& masked, int64_t q0, MapKind kind) const
{
    // tile: [H, t, q1] fp32 for queries q0..q0+t; masked: its cells that are not values ([t, q1] or [H, t, q1]),
    // as poolMap() skips them. Filling those with the reduction's identity (-inf for max, +inf for min, 0 for
    // sums) and padding with it to whole blocks (above the tile when it starts inside a block, below when it
    // ends inside one) keeps this to a few passes over the tile. Key blocks at or beyond q1 are all masked:
    // they are never computed (the result covers ceil(q1 / colBlock) key blocks).
    const int64_t t = tile.size(1), q1 = tile.size(2);
    PooledTile out;
    out.firstBlockRow = q0 / m_rowBlock;
    const int64_t padTop = q0 - out.firstBlockRow * m_rowBlock;
    const int64_t blockRows = ceilDiv(padTop + t, m_rowBlock), blockCols = ceilDiv(q1, m_colBlock);
    auto blocks = [&](const at::Tensor& x, double identity) {
        const int64_t padCols = blockCols * m_colBlock - q1, padBottom = blockRows * m_rowBlock - padTop - t;
        const at::Tensor padded = padCols == 0 && padTop == 0 && padBottom == 0
            ? x
            : at::constant_pad_nd(x, {0, padCols, padTop, padBottom}, identity);
        return padded.view({padded.size(0), blockRows, m_rowBlock, blockCols, m_colBlock});
    };
    // Max and min reduce over the block's rows first (whole contiguous key rows at a time), then over the now
    // R times smaller key blocks: 1.4-4x faster on CPU than keys first for blocks of 2-8 (and either is several
    // times faster than one reduction over both). Exact in any order.
    if (m_region.pool == PoolMode::Max) {
        const at::Tensor hi = blocks(tile.masked_fill(masked, -kInf), -kInf).amax(2).amax(3);
        at::Tensor pooled = hi;
        if (isSignedMap(kind)) {
            // Largest magnitude with its sign; on a tie the positive value wins (poolMap's rule).
            const at::Tensor lo = blocks(tile.masked_fill(masked, kInf), kInf).amin(2).amin(3);
            pooled = at::where(hi >= -lo, hi, lo);
        }
        out.value = pooled.masked_fill(hi == -kInf, kNaN);
        return out;
    }
    // Sums over the visible cells, keys first here. A block row (<= colBlock cells) is summed in float, the block in double like
    // poolMap(): a block holds up to (N/R)^2 small weights.
    out.value = blocks(tile.masked_fill(masked, 0.0), 0.0).sum(4).to(at::kDouble).sum(2);
    const at::Tensor visible = masked.logical_not().to(at::kFloat);
    out.count = blocks(visible.dim() == 2 ? visible.unsqueeze(0) : visible, 0.0).sum(4).to(at::kDouble).sum(2);
    return out;
}

void MapCollector::addPooled(at::Tensor& out, MapKind kind, const PooledTile& pooled)
{
    const int64_t rows = pooled.value.size(1), cols = pooled.value.size(2);
    auto part = [&](const at::Tensor& x) { return x.narrow(1, pooled.firstBlockRow, rows).narrow(2, 0, cols); };
    at::Tensor target = part(out);
    if (m_region.pool == PoolMode::Max) {
        // The block's value so far and this tile's part of it combine by the same rule that picks within a block
        // (it is a total order), so the order in which tiles come does not matter. NaN = nothing visible yet.
        const at::Tensor& candidate = pooled.value;
        if (!isSignedMap(kind)) {
            target.copy_(at::fmax(target, candidate));
        } else {
            const at::Tensor a = candidate.abs(), b = target.abs();
            const at::Tensor wins
                = (a > b).logical_or((a == b).logical_and(candidate > target)).logical_or(target.isnan());
            target.copy_(at::where(wins, candidate, target));
        }
        return;
    }
    at::Tensor& sums = m_sums[kind];
    at::Tensor& counts = m_counts[kind];
    if (!sums.defined()) {
        const auto f64 = at::TensorOptions().dtype(at::kDouble).device(pooled.value.device());
        sums = at::zeros({static_cast<int64_t>(m_heads.size()), m_outRows, m_outCols}, f64);
        counts = at::zeros({pooled.count.size(0), m_outRows, m_outCols}, f64);
    }
    const at::Tensor blockSums = part(sums).add_(pooled.value);
    const at::Tensor blockCounts = part(counts).add_(pooled.count);
    target.copy_((blockSums / blockCounts).to(at::kFloat).masked_fill(blockCounts == 0, kNaN));
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
    // Cells with key > query hold whatever the kind has there (G = 0, S = -inf, ...): the future mask says
    // which they are, and they come out NaN (or are skipped by the pooling).
    const at::Tensor batch0 = perHead.select(0, 0);
    const at::Tensor tile = (m_allHeadsInOrder && batch0.size(0) == static_cast<int64_t>(m_heads.size())
            ? batch0
            : batch0.index_select(0, m_headIndex.to(perHead.device())))
                                .to(at::kFloat);
    const at::Tensor future = tileFutureMask(q0, q1, perHead.device());
    at::Tensor& out = result(kind); // exists even if this tile writes nothing (a window above the diagonal)
    switch (m_region.mode) {
    case MapRegion::Mode::Full:
        out.narrow(1, q0, t).narrow(2, 0, q1).copy_(tile.masked_fill(future, kNaN));
        break;
    case MapRegion::Mode::Window: {
        const int64_t r0 = std::max(m_rowBegin, q0), r1 = std::min(m_rowEnd, q1);
        const int64_t c1 = std::min(m_colEnd, q1); // keys at or beyond q1 are masked for every row of the tile
        if (c1 > m_colBegin) {
            auto part = [&](const at::Tensor& x) {
                return x.narrow(-2, r0 - q0, r1 - r0).narrow(-1, m_colBegin, c1 - m_colBegin);
            };
            out.narrow(1, r0 - m_rowBegin, r1 - r0)
                .narrow(2, 0, c1 - m_colBegin)
                .copy_(part(tile).masked_fill(part(future), kNaN));
        }
        break;
    }
    case MapRegion::Mode::Overview: {
        // Logits hold -inf where a sliding window hides a key: like poolMap(), such cells are not values.
        const bool logits = kind == MapKind::S || kind == MapKind::S1 || kind == MapKind::S2;
        addPooled(out, kind, pool(tile, logits ? future.logical_or(tile.isfinite().logical_not()) : future, q0, kind));
        break;
    }
    }
}

} // namespace attn::engine
