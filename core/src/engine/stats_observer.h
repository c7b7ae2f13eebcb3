// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "attnscope/analysis.h"
#include "attnscope/config.h"
#include "engine/layer.h"

#include <memory>
#include <vector>

namespace attn::engine {

/// Every head's HeadMetrics (and span numbers) of one layer, reduced on the device from the tiles as they pass.
class HeadStatsObserver : public TileObserver {
public:
    virtual std::vector<HeadMetrics> metrics(int64_t layer) const = 0;
    /// One per head, in head order; empty without a span.
    virtual std::vector<SpanAttention> spans() const = 0;
};

/// lambda: the layer's λ (DIFF; D rows are divided by 1 - λ as computeHeadMetrics does), ignored for softmax.
std::unique_ptr<HeadStatsObserver> makeHeadStatsObserver(
    const ModelConfig& config, int64_t seqLen, double lambda, const SpanSpec& span);

} // namespace attn::engine
