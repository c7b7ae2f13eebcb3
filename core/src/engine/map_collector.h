// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "attnscope/maps.h"
#include "engine/torch_includes.h"

#include <map>
#include <vector>

namespace attn::engine {

/**
 * @brief Receives one layer's maps a query tile at a time and keeps only what the request's region needs:
 * the whole map (Full), a pooled overview or a window. Nothing of size N x N is kept for overviews and
 * windows; full maps are assembled on the host (they are bound for it anyway).
 *
 * The attention code hands each tile over as [B, heads, t, q1] (rows q0..q0+t, keys 0..q1, batch element 0
 * used); cells with key > query are set to NaN here, whatever the kind stored there (G = 0, S = -inf, ...).
 */
class MapCollector {
public:
    MapCollector(MapRegion region, int64_t seqLen, std::vector<int64_t> heads, std::vector<MapKind> kinds,
        const at::Device& device);

    bool wants(MapKind kind) const;
    const std::vector<MapKind>& kinds() const { return m_kinds; }
    /// Query tiles may start anywhere: an overview block that straddles two tiles is combined from both, so
    /// collectors with different block sizes can share one layer's tiles. Kept for callers that align tiles.
    int64_t rowAlignment() const { return 1; }
    /// Only queries in [firstRow, endRow) are needed: tiles outside can skip the hand-over (windows).
    bool needsRows(int64_t q0, int64_t q1) const;

    /// Takes rows [q0, q0 + t) of the map `kind` for every head; `perHead` is [B, H, t, q1] with q1 <= N.
    void add(MapKind kind, const at::Tensor& perHead, int64_t q0);

    /// Geometry shared by every map this collector produced.
    int64_t rows() const { return m_outRows; }
    int64_t cols() const { return m_outCols; }
    int64_t rowBegin() const { return m_rowBegin; }
    int64_t colBegin() const { return m_colBegin; }
    int64_t rowBlock() const { return m_rowBlock; }
    int64_t colBlock() const { return m_colBlock; }
    /// The selected heads, in request order; row h of every result belongs to heads()[h].
    const std::vector<int64_t>& heads() const { return m_heads; }
    /// [heads, rows, cols] float32 per kind; on the host for full maps, on the compute device otherwise. Always
    /// final for the rows added so far: a block that straddles tiles holds what its added rows give.
    const std::map<MapKind, at::Tensor>& results() const { return m_results; }

private:
    /// An overview's partial blocks from one tile: block rows [firstBlockRow, +value.size(1)), key blocks from 0.
    struct PooledTile {
        int64_t firstBlockRow = 0;
        at::Tensor value; ///< max: the pooled value (NaN = no visible cell); mean: fp64 sums
        at::Tensor count; ///< mean only: fp64 visible-cell counts, [1 or heads, rows, cols]
    };
    at::Tensor& result(MapKind kind);
    PooledTile pool(const at::Tensor& tile, const at::Tensor& masked, int64_t q0, MapKind kind) const;
    void addPooled(at::Tensor& out, MapKind kind, const PooledTile& pooled);

    MapRegion m_region;
    int64_t m_seqLen;
    std::vector<int64_t> m_heads;
    std::vector<MapKind> m_kinds;
    at::Device m_device;
    at::Tensor m_headIndex;
    bool m_allHeadsInOrder = false; ///< heads 0..n-1: a tile's head dimension needs no gather
    int64_t m_outRows = 0, m_outCols = 0;
    int64_t m_rowBegin = 0, m_colBegin = 0;
    int64_t m_rowEnd = 0, m_colEnd = 0;
    int64_t m_rowBlock = 1, m_colBlock = 1;
    std::map<MapKind, at::Tensor> m_results;
    /// Mean overviews: running fp64 sums and visible counts per block, divided into m_results as blocks change.
    std::map<MapKind, at::Tensor> m_sums, m_counts;
};

/// Rows of a query tile: tile q0..q0+t sees keys 0..q1 = q0 + t; true where key > query (masked).
at::Tensor tileFutureMask(int64_t q0, int64_t q1, const at::Device& device);

} // namespace attn::engine
