// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "attnscope/analysis.h"
#include "engine/layer.h"
#include "engine/map_cache.h"
#include "engine/torch_includes.h"

#include <map>
#include <vector>

namespace attn::engine {

/**
 * @brief What a model keeps of the last prompt it ran, so that a head or layer switch on the same prompt runs one
 * layer's attention instead of the whole model: the input of every layer (or of every k-th layer when they would
 * not fit the budget; the layers between are run again from the nearest one), the last position's logits, the
 * per-head numbers and thumbnails of every layer, and the maps computed last.
 */
struct PromptState {
    std::vector<int64_t> tokens; ///< empty: nothing kept
    std::vector<at::Tensor> layerInputs; ///< [nLayers]; undefined where not kept
    int64_t stride = 1; ///< inputs of layers 0, stride, 2 stride, ... are kept
    std::vector<float> lastLogits;
    /// [nLayers]; each layer's queries and keys, kept within kKeptScoresBudgetBytes (first layers first): a head
    /// switch on such a layer computes only that head's score tiles.
    std::vector<KeptScores> scores;

    /// Per-layer numbers, valid for the span and thumbnail size they were computed with.
    struct LayerStats {
        std::vector<HeadMetrics> metrics;
        std::vector<HeadSpan> spans;
        std::vector<AttentionMap> thumbnails;
    };
    std::map<int64_t, LayerStats> stats;
    /// The maps last computed on this prompt (the chosen heads of the pass, switches, prefetches).
    MapCache maps;
    bool statsHaveMetrics = false;
    SpanSpec statsSpan;
    int64_t statsThumbnailSize = 0;

    void clear() { *this = PromptState(); }
    /// Whether every layer's numbers are kept for what this request asks (metrics, span, thumbnail size).
    bool statsCover(const AnalysisRequest& request, int64_t nLayers) const;
};

/// Layer inputs are kept within this many bytes (each is T x d_model in the compute dtype).
constexpr int64_t kPromptStateBudgetBytes = int64_t(2) << 30;

/// Layers' queries and keys are kept within this many bytes (T x (H + Hkv) x d_head each, in the compute dtype:
/// 336 MiB for 16 layers x 32 + 8 heads x 64 at 2048 tokens in fp32).
constexpr int64_t kKeptScoresBudgetBytes = int64_t(1) << 30;

/// Keep the input of every stride-th layer so that the kept inputs fit the budget (at least layer 0 is kept).
int64_t checkpointStride(int64_t layers, int64_t bytesPerInput, int64_t budgetBytes);

bool sameSpan(const SpanSpec& a, const SpanSpec& b);

} // namespace attn::engine
