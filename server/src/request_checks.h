// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// The checks attnscope-server makes on an Analyze request before it reaches the engine: plain functions of the
// request (no network, no model), so that tests and the fuzz target (tests/fuzz/fuzz_wire.cpp) call exactly what
// the server calls. The engine checks the rest against the model (layers, heads, kinds, vocabulary, window bounds).

#include "attnscope/analysis.h"
#include "attnscope/status.h"

#include <cstdint>

namespace attn::server {

/// Cells of one map of `region` for n tokens: an upper bound (a window is clipped to the n tokens, an overview to n
/// cells a side), computed without overflow for any numbers a client sends.
int64_t cellsPerMap(const MapRegion& region, int64_t n);

/// The request's largest single map on the wire in bytes (values plus room for the message around them), at
/// `bytesPerValue` (2 for float16, 4 for float32); saturates at INT64_MAX instead of overflowing.
int64_t largestMapBytes(const AnalysisRequest& request, int64_t bytesPerValue);

/**
 * @brief OK, or why the server refuses the (tokenized) request before running it: full maps above
 * kMaxFullMapTokens (Invalid), or one map larger than the server's message limit (OutOfMemory, which the wire
 * carries as RESOURCE_EXHAUSTED). Negative thumbnail sizes and query tiles are Invalid.
 */
Status checkAnalyzeRequest(const AnalysisRequest& request, int64_t bytesPerValue, int64_t maxMessageBytes);

} // namespace attn::server
