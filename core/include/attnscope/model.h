// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "attnscope/units.h"
#include "attnscope/analysis.h"
#include "attnscope/config.h"
#include "attnscope/device_map.h"
#include "attnscope/maps.h"
#include "attnscope/safetensors.h"
#include "attnscope/status.h"
#include "attnscope/tokenizer.h"

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace attn {

enum class ComputeDType { F32, BF16 };
std::string toString(ComputeDType dtype);
Result<ComputeDType> parseComputeDType(const std::string& text);

/**
 * @brief How a model is loaded. One device (`device`) is a one-entry device map; `devices` (two or more) spreads the
 * layers over them with `strategy`, or as `deviceMap` says (parseDeviceMap's text: layer ranges or a JSON object).
 */
struct LoadOptions {
    DeviceSpec device; ///< used when `devices` and `deviceMap` are empty
    ComputeDType dtype = ComputeDType::F32;
    std::vector<DeviceSpec> devices; ///< e.g. cuda:0,cuda:1 (cpu,cpu runs the same path on the CPU)
    DeviceMapStrategy strategy = DeviceMapStrategy::Balanced;
    std::string deviceMap; ///< explicit placement; overrides `devices` and `strategy`
};

/** @brief Progress and cancellation for a long call. Callbacks run on the calling thread. */
struct RunControl {
    std::function<void(int64_t layersDone, int64_t layersTotal)> onLayer;
    /// Checked between layers; a cancelled call returns an error Status saying so.
    const std::atomic<bool>* cancel = nullptr;
};

/**
 * @brief What a capture needs, estimated before it runs (bytes). A capture that cannot fit is refused with a
 * message saying how much it needs and what would fit, instead of failing half-way.
 */
struct MemoryEstimate {
    int64_t activationBytes = 0; ///< hidden states, q/k/v, FFN of one layer, on the compute device
    int64_t tileBytes = 0; ///< one query tile of scores for every head (tile x N x heads)
    int64_t deviceMapBytes = 0; ///< overviews/windows while they are reduced on the device
    int64_t hostMapBytes = 0; ///< the maps handed back (and full maps as they are assembled)
    int64_t queryTile = 0; ///< the tile the capture will use
    /// Peak on the compute device beyond the weights (on CPU, device and host are the same memory).
    int64_t deviceBytes() const { return activationBytes + tileBytes + deviceMapBytes; }
    int64_t available = -1; ///< what the device has for it, -1 when unknown
};

/** @brief Whether this build and machine can run CUDA, and how many devices. */
bool cudaAvailable();
int cudaDeviceCount();
/** @brief LibTorch version string of the build. */
std::string torchVersion();
/** @brief LibTorch's intra-op CPU threads (see configureCpuThreads), for benchmark reports. */
int cpuThreads();
/**
 * @brief Sets LibTorch's intra-op threads to the physical cores this process may use, less coresKeptFree (at least
 * one thread), unless the user chose (OMP_NUM_THREADS or MKL_NUM_THREADS). The first call decides; later ones do
 * nothing (Model::load calls it with 0, so a front end that keeps a core for its UI calls it first).
 *
 * Why: LibTorch 1.x starts its pool at hardware_concurrency() / 2 on x86-64, assuming two hardware threads per core.
 * Without SMT (most cloud VMs, many servers) that leaves half the cores idle in every softmax, mask and pooling op,
 * while OpenBLAS's matmuls use them all. LibTorch 2.x counts physical cores itself; this gives the same number.
 */
void configureCpuThreads(int coresKeptFree = 0);

/**
 * @brief Peak memory in use on a device since the last reset, for benchmarks: the CUDA caching allocator's peak
 * of allocated bytes, or on CPU the process's peak resident set (VmHWM). -1 where this build cannot tell.
 */
int64_t peakMemoryBytes(const DeviceSpec& device);
/** @brief Starts a new peak for peakMemoryBytes (CPU: clears VmHWM through /proc/self/clear_refs). */
void resetPeakMemory(const DeviceSpec& device);
/**
 * @brief Measured matrix-product rate (FLOP/s) of an n x n x n product in this dtype on the device; n = 0 picks a
 * size that reaches the peak rate without taking long: 2048 on a CPU, 8192 on a GPU.
 */
Result<double> matmulFlopsPerSecond(const DeviceSpec& device, ComputeDType dtype, int64_t n = 0);

/**
 * @brief A loaded model (config, tokenizer, weights on a device) that runs prompts and captures maps.
 *
 * Not thread-safe: one thread owns a Model and makes every call on it (the GUI's worker thread).
 * LibTorch stays behind the pimpl: this header exposes only std types.
 */
class Model {
public:
    /**
     * @brief Opens a model (openModelSource: an attnscope or Hugging Face folder, or a PyTorch checkpoint file), checks
     * it, and puts its weights on the device (kept in their stored dtype; memory-mapped on the CPU).
     */
    static Result<std::unique_ptr<Model>> load(const std::string& path, const LoadOptions& options = {});
    ~Model();
    Model(const Model&) = delete;
    Model& operator=(const Model&) = delete;

    const ModelConfig& config() const;
    const Tokenizer& tokenizer() const;
    /// The same tokenizer for another thread (the UI's live token strip): tokenizers are immutable once built and
    /// their encode/display calls are safe from several threads.
    std::shared_ptr<const Tokenizer> sharedTokenizer() const;
    const std::string& directory() const;
    /// Names and shapes of the stored tensors, as in the file.
    const std::vector<TensorInfo>& tensorInfos() const;
    int64_t parameterCount() const;
    /// SHA-256 of the weights (weightsSha256: the file itself, or the shard listing). Computed beside the load; the
    /// first call waits for what is left of it.
    const std::string& weightsHash() const;
    /// The digest if the hashing thread has finished (an error text if it failed), without waiting.
    std::optional<std::string> weightsHashIfReady() const;
    /// "attnscope", "huggingface" or "pytorch".
    const std::string& format() const;
    /// What the importer read, as (field, value) pairs for info panels (format, model_type, rope, ...).
    const std::vector<std::pair<std::string, std::string>>& description() const;
    /// "cpu" or "cuda:N"; over several devices, their list ("cuda:0,cuda:1").
    std::string deviceName() const;
    /// Where each part of the model lives (one entry for a single device), with the weights per device.
    const DeviceMap& deviceMap() const;
    ComputeDType dtype() const;

    /**
     * @brief Runs one analysis request (AnalysisRequest) in one pass and streams what each layer produced to onLayer,
     * as soon as that layer has run; returns what is not per layer. The model keeps the prompt's state (each layer's
     * input within a memory budget, the per-head numbers, the logits): a later request on the same tokens computes
     * only the layers it asks maps of, and of those only the requested heads' attention. control.onLayer reports
     * progress over the layers this request computes; control.cancel stops it between layers and query tiles
     * (StatusCode::Cancelled).
     */
    Result<AnalysisSummary> analyze(const AnalysisRequest& request, const std::function<void(LayerResult)>& onLayer,
        const RunControl& control = {});
    /// Drops the kept prompt state (its memory), e.g. before a model sits idle.
    void forgetPrompt();
    /// Drops only the maps kept for reuse (shown or prefetched heads), so that a benchmark times computing them.
    void forgetKeptMaps();

    /** @brief Runs the tokens and returns the requested maps (validated against the config). */
    Result<CaptureResult> capture(const CaptureRequest& request, const RunControl& control = {});
    /** @brief The memory a capture would need on this model's device, and what is available. */
    Result<MemoryEstimate> estimateMemory(const CaptureRequest& request) const;
    /** @brief Greedy decoding of up to n new tokens (stops early at EOS); returns only the new tokens. */
    Result<std::vector<int64_t>> generate(
        const std::vector<int64_t>& prompt, int64_t n, const RunControl& control = {});

private:
    Model();
    struct Impl;
    std::unique_ptr<Impl> m;
};

} // namespace attn
