// SPDX-License-Identifier: GPL-3.0-or-later
#include "engine/head_slice.h"

#include <vector>

namespace attn::engine {

namespace {

/// Rows [block * size, (block + 1) * size) of a projection weight [out, in] or bias [out]; undefined stays undefined.
at::Tensor rowBlock(const at::Tensor& t, int64_t block, int64_t size)
{
    return t.defined() ? t.narrow(0, block * size, size) : t;
}

/// Row blocks of the given indices, concatenated in order.
at::Tensor rowBlocks(const at::Tensor& t, const std::vector<int64_t>& blocks, int64_t size)
{
    if (!t.defined())
        return t;
    std::vector<at::Tensor> parts;
    for (int64_t b : blocks)
        parts.push_back(t.narrow(0, b * size, size));
    return at::cat(parts, 0);
}

} // namespace

SlicedHead sliceHead(const ModelConfig& config, const LayerWeights& layer, int64_t head)
{
    SlicedHead out {config, layer};
    out.config.nHeads = 1;
    out.config.nKvHeads = 1;
    const int64_t d = config.headDim;
    const int64_t kv = head / (config.nHeads / config.nKvHeads); // both GQA semantics: head h reads kv head h / nRep
    LayerWeights& w = out.weights;
    if (config.isDiff()) {
        // Sub-heads 2h and 2h + 1 are this head's two groups; the kv sub-heads they read follow the GQA semantics
        // (diffKeySubHeadIndex), which for one head over one kv head is the identity.
        const std::vector<int64_t> keys = diffKeySubHeadIndex(config.nHeads, config.nKvHeads, config.gqa);
        const std::vector<int64_t> mine {keys[static_cast<size_t>(2 * head)], keys[static_cast<size_t>(2 * head + 1)]};
        w.wq = rowBlock(layer.wq, head, 2 * d);
        w.bq = rowBlock(layer.bq, head, 2 * d);
        w.wk = rowBlocks(layer.wk, mine, d);
        w.bk = rowBlocks(layer.bk, mine, d);
        w.copeKeyW = rowBlocks(layer.copeKeyW, mine, d);
        w.copeKeyB = rowBlocks(layer.copeKeyB, mine, d);
        w.wv = rowBlock(layer.wv, kv, 2 * d);
        w.bv = rowBlock(layer.bv, kv, 2 * d);
        w.wo = layer.wo.narrow(1, head * 2 * d, 2 * d);
    } else {
        w.wq = rowBlock(layer.wq, head, d);
        w.bq = rowBlock(layer.bq, head, d);
        w.wk = rowBlock(layer.wk, kv, d);
        w.bk = rowBlock(layer.bk, kv, d);
        w.copeKeyW = rowBlock(layer.copeKeyW, kv, d);
        w.copeKeyB = rowBlock(layer.copeKeyB, kv, d);
        w.wv = rowBlock(layer.wv, kv, d);
        w.bv = rowBlock(layer.bv, kv, d);
        w.wo = layer.wo.narrow(1, head * d, d);
    }
    return out;
}

} // namespace attn::engine
