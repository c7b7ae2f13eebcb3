// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "attnscope/maps.h"
#include "attnscope/metrics.h"
#include "attnscope/status.h"

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace attn {

/**
 * @file
 * @brief The analysis requests and results every front end speaks: the app's engine thread, the CLI, and the
 * server's wire messages. Plain values (ids, strings, arrays), so a request can cross a thread or a socket.
 */

/// Up to this many tokens an interactive view shows full maps; above, device-pooled overviews (a full map would have
/// more cells than a screen has pixels). The app and the head-switch benchmark share it.
inline constexpr int64_t kInteractiveFullMapTokens = 2048;

/**
 * @brief One cancellation flag, shared by a request and whoever may stop it: the stream that superseded it,
 * the user's Cancel, a client that disconnected. Copies share the flag.
 */
class CancelToken {
public:
    CancelToken()
        : m_flag(std::make_shared<std::atomic<bool>>(false))
    {
    }
    void cancel() const { m_flag->store(true); }
    bool cancelled() const { return m_flag->load(); }
    /// For RunControl::cancel (checked between layers and query tiles).
    const std::atomic<bool>* flag() const { return m_flag.get(); }

private:
    std::shared_ptr<std::atomic<bool>> m_flag;
};

/// The DIFF paper's Table 3 protocol on one prompt (metrics.h spanAttention): the relevant key span
/// [begin, end), the first key of the question (noise ends there; -1 = none), and the query rows averaged.
struct SpanSpec {
    int64_t begin = -1;
    int64_t end = -1;
    int64_t noiseEnd = -1;
    std::vector<int64_t> queryRows; ///< empty = the last token
    bool active() const { return begin >= 0; }
};

/**
 * @brief What to compute on one prompt. One forward pass serves all of it: the maps of the listed heads, the
 * metrics, span numbers and thumbnails of every head, the last position's logits.
 */
struct AnalysisRequest {
    uint64_t id = 0; ///< set by whoever queues it (AnalysisEngine::submit); echoed in every result
    /// "Latest wins" within a stream: a new request cancels the stream's older ones, queued or running.
    std::string stream = "run";
    int modelId = -1; ///< AnalysisEngine's handle of a loaded model (Model::analyze ignores it)
    std::string prompt; ///< text, tokenized with the model's tokenizer when tokens is empty
    std::vector<int64_t> tokens; ///< ids to run as they are
    std::vector<HeadRef> heads; ///< maps to return, in `kinds`, over `region`
    std::vector<MapKind> kinds;
    MapRegion region; ///< as asked: full maps, an overview or a window (the engine never substitutes one)
    /// Maps of every head of these layers (batch export), in addition to `heads`.
    std::vector<int64_t> everyHeadOfLayers;
    bool metrics = false; ///< HeadMetrics of every head (and span numbers when span is active)
    SpanSpec span;
    int64_t thumbnailSize = 0; ///< > 0: every head's attention (A, or D) max-pooled to at most this size
    int64_t queryTile = 0; ///< 0 = from the memory budget
    /// Keep the prompt's state for later requests on the same tokens (interactive use); one-shot callers (the CLI,
    /// Model::capture) leave it off and need no memory beyond the pass.
    bool keepPromptState = true;
    /// Compute ahead of time: the maps of `heads` go into the model's kept prompt state (a later request for them
    /// costs a copy) and nothing streams back but the summary. Only on the prompt the model keeps (refused
    /// otherwise: a guess never runs the whole model), and at idle priority: AnalysisEngine cancels it as soon as
    /// any other request is submitted.
    bool prefetch = false;
};

/// One head's span numbers.
struct HeadSpan {
    int64_t layer = 0;
    int64_t head = 0;
    SpanAttention span;
};

/** @brief What one layer produced, streamed as soon as that layer has run. */
struct LayerResult {
    uint64_t requestId = 0;
    int64_t layer = 0;
    double lambda = kNoMetric; ///< DIFF: λ as the model used it; NaN for softmax
    std::vector<AttentionMap> maps; ///< the requested heads and kinds of this layer
    std::vector<HeadMetrics> metrics; ///< every head, when requested
    std::vector<HeadSpan> spans; ///< every head, when a span was given
    std::vector<AttentionMap> thumbnails; ///< every head, when requested
};

/** @brief The request's end: what is not per layer. */
struct AnalysisSummary {
    uint64_t requestId = 0;
    int modelId = -1;
    std::vector<int64_t> tokens;
    std::vector<std::string> tokenDisplay; ///< one label per token (axis labels, CSV headers)
    std::vector<double> lambda; ///< per layer (DIFF), empty for softmax
    std::vector<float> lastLogits; ///< next-token logits at the last position
    SpanAttention spanAverage; ///< the paper's mean over heads then layers, when a span was given
    int64_t layersComputed = 0; ///< layers run for this request: fewer than the model's when a prompt state was reused
    double seconds = 0.0;
};

/** @brief A request's start: the tokens it runs, before any layer (a client labels its axes with them). */
struct AnalysisStart {
    uint64_t requestId = 0;
    int64_t layersTotal = 0; ///< the model's layers
    std::vector<int64_t> tokens;
    std::vector<std::string> tokenDisplay;
};

/**
 * @brief Where a request's results go, called on the thread that runs it, in order: `started` once, `layer`
 * per layer in increasing order (layers without anything requested are not reported), then exactly one of
 * `finished` or `failed` (cancelled, superseded and refused requests included). Any of them may be empty.
 */
struct AnalysisSink {
    std::function<void(AnalysisStart)> started;
    std::function<void(uint64_t requestId, int64_t layersDone, int64_t layersTotal)> progress;
    std::function<void(LayerResult)> layer;
    std::function<void(AnalysisSummary)> finished;
    std::function<void(uint64_t requestId, Status)> failed;
};

} // namespace attn
