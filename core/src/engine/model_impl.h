// SPDX-License-Identifier: GPL-3.0-or-later
// Model's private state and the checks and conversions its entry points share (model.cpp: loading, capture,
// generation; model_analyze.cpp: analyze and the prompt state it keeps).
#pragma once

#include "attnscope/model.h"
#include "engine/map_collector.h"
#include "engine/placement.h"
#include "engine/prompt_state.h"
#include "engine/weights.h"

#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

namespace attn {

/// Hashing multi-GB weights must not make opening wait: a thread hashes beside the load, whoever first needs the digest
/// (an export's provenance) waits for what is left of it, and closing the model stops it within one 1 MiB chunk and
/// joins it (a thread left running past the end of main would race OpenSSL's teardown).
class HashJob {
public:
    explicit HashJob(std::vector<std::string> files)
        : m_thread([this, files = std::move(files)] {
            Result<std::string> digest = weightsSha256(files, &m_cancel);
            const std::lock_guard<std::mutex> lock(m_mutex);
            m_result = std::move(digest);
            m_done.notify_all();
        })
    {
    }
    ~HashJob()
    {
        m_cancel = true;
        m_thread.join();
    }
    HashJob(const HashJob&) = delete;
    HashJob& operator=(const HashJob&) = delete;

    std::optional<Result<std::string>> peek()
    {
        const std::lock_guard<std::mutex> lock(m_mutex);
        return m_result;
    }
    Result<std::string> wait()
    {
        std::unique_lock<std::mutex> lock(m_mutex);
        m_done.wait(lock, [this] { return m_result.has_value(); });
        return *m_result;
    }

private:
    std::atomic<bool> m_cancel {false};
    std::mutex m_mutex;
    std::condition_variable m_done;
    std::optional<Result<std::string>> m_result;
    std::thread m_thread; // last: starts once the members it uses exist
};

struct Model::Impl {
    std::string dir;
    ModelConfig config;
    std::shared_ptr<const Tokenizer> tokenizer;
    std::string format;
    std::vector<std::pair<std::string, std::string>> description;
    std::vector<TensorInfo> tensorInfos;
    int64_t parameterCount = 0;
    std::unique_ptr<HashJob> hashJob;
    mutable std::string weightsHash;
    at::Device device = at::Device(at::kCPU); ///< the embeddings' device: where token ids go in
    engine::Placement placement; ///< every part's device (one entry for a single device)
    ComputeDType dtype = ComputeDType::F32;
    engine::ModelWeights weights;
    engine::PromptState prompt; ///< what the last analyzed prompt left to reuse
};

namespace engine {

/// Runs f, turning every exception into a Status whose message starts with `what` (and whose code says what kind).
template <typename T, typename F> Result<T> guarded(const std::string& what, const std::string& deviceName, F&& f);

Status checkTokens(const ModelConfig& config, const std::vector<int64_t>& tokens);
Status checkRequest(const ModelConfig& config, const CaptureRequest& request);
/// Row `row` of a collector's [heads, rows, cols] result as a host map labelled (ref, kind).
AttentionMap toHostMap(
    const MapCollector& collector, const at::Tensor& perHead, int64_t row, const HeadRef& ref, MapKind kind);
bool looksLikeOutOfMemory(const std::string& message);
/// checkFits on every device the model lives on, each with the weights it holds.
Status checkFitsOnEveryDevice(
    const ModelConfig& config, const Placement& placement, ComputeDType dtype, const CaptureRequest& request);

template <typename T, typename F> Result<T> guarded(const std::string& what, const std::string& deviceName, F&& f)
{
    try {
        return f();
    } catch (const Cancelled&) {
        return Status::cancelled(what + ": cancelled");
    } catch (const std::bad_alloc&) {
        return Status::error(StatusCode::OutOfMemory, what + ": out of host memory");
    } catch (const c10::Error& e) {
        const std::string message = e.what_without_backtrace();
        if (looksLikeOutOfMemory(message))
            return Status::error(StatusCode::OutOfMemory,
                what + ": out of memory on " + deviceName
                    + " (try fewer tokens, bf16, or fewer heads/maps): " + message);
        return Status::error(StatusCode::Internal, what + ": " + message);
    } catch (const std::exception& e) {
        return Status::error(StatusCode::Internal, what + ": " + e.what());
    }
}

} // namespace engine

} // namespace attn
