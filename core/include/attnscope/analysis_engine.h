// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "attnscope/analysis.h"
#include "attnscope/config.h"
#include "attnscope/model.h"
#include "attnscope/tokenizer.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace attn {

/** @brief What a front end knows about a loaded model (a value; the Model stays on the engine's thread). */
struct LoadedModel {
    int id = -1;
    std::string path; ///< absolute
    std::string name; ///< the folder's or file's name
    std::string format; ///< "attnscope", "huggingface" or "pytorch"
    std::string device; ///< "cpu" or "cuda:N"
    std::string dtype; ///< "fp32" or "bf16"
    ModelConfig config;
    int64_t parameters = 0;
    std::vector<std::pair<std::string, std::string>> description; ///< what the importer read, in order
    std::string samplePrompt; ///< sample_prompt.txt beside the model (bundled models ship one), empty if none
    /// In-process clients only: the model's tokenizer for live token counts (immutable, safe from any thread).
    std::shared_ptr<const Tokenizer> tokenizer;
};

/** @brief Where a load's outcome goes, called on the engine's thread. */
struct LoadSink {
    std::function<void(uint64_t requestId, LoadedModel)> loaded;
    std::function<void(uint64_t requestId, Status)> failed;
    /// The weights' SHA-256, once its thread has finished (after `loaded`; multi-GB weights are hashed beside the
    /// load).
    std::function<void(int modelId, std::string sha256)> hashed;
};

/**
 * @brief The analysis engine: one thread that owns every loaded Model and runs requests in order, each from a
 * queue, streaming results per layer (AnalysisSink). No Qt: the app wraps it in a thin adapter, the server puts it
 * behind a socket, the CLI uses Model::analyze directly.
 *
 * Cancellation and "latest wins" are one mechanism: every request carries a CancelToken; submitting a request
 * cancels the token of every older request of the same stream, so one still queued is never run and one running
 * stops within a layer (or a query tile). Each such request still ends with `failed` (StatusCode::Cancelled).
 * A prefetch (AnalysisRequest::prefetch) is also cancelled by every later request that is not a prefetch.
 */
class AnalysisEngine {
public:
    AnalysisEngine();
    /// Cancels everything, lets the running request stop, joins the thread and closes the models. Requests and loads
    /// still queued end with `failed` (cancelled), called on the destroying thread once the engine's has stopped.
    ~AnalysisEngine();
    AnalysisEngine(const AnalysisEngine&) = delete;
    AnalysisEngine& operator=(const AnalysisEngine&) = delete;

    /// Opens a model (an attnscope or Hugging Face folder, a file inside one, or a .pt checkpoint). Returns the request
    /// id.
    uint64_t load(const std::string& path, const LoadOptions& options, LoadSink sink);
    /// Closes a model once the requests queued before this call have run.
    void unload(int modelId);
    /// Queues a request (its id is assigned here and returned); cancels the older requests of its stream.
    uint64_t submit(AnalysisRequest request, AnalysisSink sink);
    /// Cancels one request (queued or running).
    void cancel(uint64_t requestId);
    /// Cancels every request of a stream, queued or running.
    void cancelStream(const std::string& stream);

private:
    struct Impl;
    std::unique_ptr<Impl> m;
};

} // namespace attn
