// SPDX-License-Identifier: GPL-3.0-or-later
// Memory planning for captures: the query-tile size, the estimate a request is checked against before it
// runs, and the refusal message that says what would fit instead.
#include "engine/memory.h"

#include "engine/device.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <utility>

#ifdef ATTNSCOPE_HAVE_CUDART
#include <cuda_runtime_api.h>
#endif

namespace attn {

namespace engine {

namespace {

constexpr int64_t kMiB = 1024 * 1024;
// CPU inference: a tile whose scores stay in the last-level cache runs 2-3x faster than one that streams
// through memory (bench --tile sweep at 4096 tokens on a 32 MiB-L3 EPYC: counting-diff-ropecope forward
// 2.4 s with 256 MiB tiles, 0.7-1.1 s with 8-16 rows = 12-24 MiB; counting-softmax-rope 0.55 s vs 0.21-0.24 s
// with 16-32 rows = 5-10 MiB). Below 8 rows per-tile overheads take over. Training (autograd on) keeps large
// tiles: every tile adds graph nodes and saved tensors, and its batches are short.
constexpr int64_t kCpuTileBudget = 8 * kMiB;
constexpr int64_t kCpuMinTileRows = 8;
constexpr int64_t kCpuTrainingTileBudget = 256 * kMiB;
constexpr int64_t kCudaTileBudget = 8192 * kMiB;

int64_t ceilDiv(int64_t a, int64_t b)
{
    return (a + b - 1) / b;
}

int64_t scoreHeads(const ModelConfig& config)
{
    return config.isDiff() ? 2 * config.nHeads : config.nHeads;
}

/// MemAvailable from /proc/meminfo; -1 where there is no such file.
int64_t hostAvailableBytes()
{
    std::ifstream meminfo("/proc/meminfo");
    std::string key;
    int64_t kib = 0;
    std::string unit;
    while (meminfo >> key >> kib >> unit)
        if (key == "MemAvailable:")
            return kib * 1024;
    return -1;
}

/// What the device has for a capture beyond the loaded weights, -1 when unknown. On CUDA this is the total
/// memory minus the weights: the free figure would count PyTorch's own cache of earlier runs as taken. A
/// request between the free and the total amount is tried, and an out-of-memory error is reported as such.
int64_t deviceAvailableBytes(const at::Device& device, int64_t weightBytes)
{
    if (device.is_cpu())
        return hostAvailableBytes();
#ifdef ATTNSCOPE_HAVE_CUDART
    int previous = 0;
    size_t freeBytes = 0, totalBytes = 0;
    if (cudaGetDevice(&previous) == cudaSuccess && cudaSetDevice(device.index()) == cudaSuccess
        && cudaMemGetInfo(&freeBytes, &totalBytes) == cudaSuccess) {
        cudaSetDevice(previous);
        return static_cast<int64_t>(totalBytes) - weightBytes;
    }
#else
    (void)weightBytes;
#endif
    return -1;
}

struct RegionSize {
    int64_t rows = 0, cols = 0, rowBlock = 1;
};

RegionSize regionSize(const MapRegion& region, int64_t seqLen)
{
    switch (region.mode) {
    case MapRegion::Mode::Overview: {
        const int64_t block = ceilDiv(seqLen, std::max<int64_t>(region.overviewSize, 1));
        return {ceilDiv(seqLen, block), ceilDiv(seqLen, block), block};
    }
    case MapRegion::Mode::Window:
        return {region.rowEnd - region.rowBegin, region.colEnd - region.colBegin, 1};
    case MapRegion::Mode::Full:
        break;
    }
    return {seqLen, seqLen, 1};
}

bool fits(const MemoryEstimate& e, const at::Device& device, int64_t hostAvailable)
{
    if (device.is_cpu())
        return e.available < 0 || e.deviceBytes() + e.hostMapBytes <= e.available;
    return (e.available < 0 || e.deviceBytes() <= e.available)
        && (hostAvailable < 0 || e.hostMapBytes <= hostAvailable);
}

} // namespace

int64_t scoreBytesPerCell(const ModelConfig& config, at::ScalarType dtype)
{
    const int64_t e = static_cast<int64_t>(c10::elementSize(dtype));
    // Scores in the compute dtype, the fp32 softmax, its cast back, the masked copy; diff keeps lambda*A2 and D
    // as well; CoPE's gates, positions, bias and its gather indices are fp32/int64 per cell.
    int64_t bytes = 3 * e + 8;
    if (config.isDiff())
        bytes += 2 * e;
    if (config.hasCope())
        bytes += 64;
    return bytes;
}

int64_t autoQueryTile(const ModelConfig& config, int64_t batch, int64_t seqLen, at::ScalarType dtype,
    const at::Device& device, bool training)
{
    const int64_t budget = !device.is_cpu() ? kCudaTileBudget : training ? kCpuTrainingTileBudget : kCpuTileBudget;
    const int64_t minRows = device.is_cpu() && !training ? kCpuMinTileRows : 1;
    const int64_t perRow = std::max<int64_t>(1, batch * scoreHeads(config) * seqLen * scoreBytesPerCell(config, dtype));
    const int64_t rows = std::max<int64_t>(seqLen, 1);
    return std::clamp<int64_t>(budget / perRow, std::min(minRows, rows), rows);
}

MemoryEstimate estimateCapture(const ModelConfig& config, const CaptureRequest& request, at::ScalarType dtype,
    const at::Device& device, int64_t weightBytes)
{
    const int64_t seqLen = static_cast<int64_t>(request.tokens.size());
    const int64_t e = static_cast<int64_t>(c10::elementSize(dtype));
    const int64_t hs = scoreHeads(config);
    const int64_t dv = config.isDiff() ? 2 * config.headDim : config.headDim;
    MemoryEstimate out;
    out.activationBytes
        = seqLen * e * (6 * config.dModel + 5 * hs * config.headDim + 3 * config.nHeads * dv + 3 * config.ffnHidden)
        + seqLen * config.headDim * 8 + config.vocabSize * 4;

    const RegionSize size = regionSize(request.region, seqLen);
    int64_t tile = request.queryTile > 0 ? request.queryTile
                                         : autoQueryTile(config, 1, seqLen, dtype, device, /*training=*/false);
    tile = std::min(tile, std::max<int64_t>(seqLen, 1));
    out.queryTile = tile;

    std::set<std::pair<int64_t, int64_t>> pairs;
    std::map<int64_t, int64_t> headsPerLayer;
    for (const HeadRef& ref : request.heads)
        if (pairs.insert({ref.layer, ref.head}).second)
            ++headsPerLayer[ref.layer];
    int64_t maxHeads = 0;
    for (const auto& [layer, n] : headsPerLayer)
        maxHeads = std::max(maxHeads, n);
    const int64_t kinds = static_cast<int64_t>(request.kinds.size());
    // The tile's scores for every head, plus the fp32, masked and padded copies of the kept heads.
    out.tileBytes
        = tile * hs * seqLen * scoreBytesPerCell(config, dtype) + (kinds > 0 ? tile * maxHeads * seqLen * 12 : 0);
    const int64_t mapBytes = static_cast<int64_t>(pairs.size()) * kinds * size.rows * size.cols * 4;
    // Mean overviews also keep fp64 sums and visible counts per block on the device (blocks may straddle tiles).
    const int64_t meanState
        = request.region.mode == MapRegion::Mode::Overview && request.region.pool == PoolMode::Mean ? 4 * mapBytes : 0;
    out.deviceMapBytes = request.region.mode == MapRegion::Mode::Full ? 0 : mapBytes + meanState;
    out.hostMapBytes = 2 * mapBytes; // the assembled tensor and the AttentionMap copies handed back
    out.available = deviceAvailableBytes(device, weightBytes);
    return out;
}

Status checkFits(const ModelConfig& config, const CaptureRequest& request, at::ScalarType dtype,
    const at::Device& device, int64_t weightBytes)
{
    const int64_t hostAvailable = device.is_cpu() ? -1 : hostAvailableBytes();
    const MemoryEstimate need = estimateCapture(config, request, dtype, device, weightBytes);
    if (fits(need, device, hostAvailable))
        return Status::ok();
    auto fitsWith = [&](const CaptureRequest& changed, at::ScalarType t) {
        return fits(estimateCapture(config, changed, t, device, weightBytes), device, hostAvailable);
    };

    std::vector<std::string> options;
    // The longest prompt that fits (memory grows with N, so bisect).
    int64_t lo = 0, hi = static_cast<int64_t>(request.tokens.size());
    while (hi - lo > 1) {
        const int64_t mid = (lo + hi) / 2;
        CaptureRequest shorter = request;
        shorter.tokens.resize(static_cast<size_t>(mid));
        (fitsWith(shorter, dtype) ? lo : hi) = mid;
    }
    if (lo > 0)
        options.push_back("at most " + std::to_string(lo) + " tokens");
    if (dtype == at::kFloat && fitsWith(request, at::kBFloat16))
        options.push_back("bf16 (load the model with --dtype bf16)");
    if (request.region.mode == MapRegion::Mode::Full && !request.kinds.empty()) {
        CaptureRequest overview = request;
        overview.region = MapRegion::overview(1024);
        if (fitsWith(overview, dtype))
            options.push_back("an overview (--overview 1024) or a window (--window) instead of full maps");
    }
    if (request.heads.size() > 1) {
        size_t heads = request.heads.size() - 1;
        for (; heads > 0; --heads) {
            CaptureRequest fewer = request;
            fewer.heads.resize(heads);
            if (fitsWith(fewer, dtype))
                break;
        }
        if (heads > 0)
            options.push_back("at most " + std::to_string(heads) + " heads per run");
    }
    std::ostringstream message;
    const int64_t total = device.is_cpu() ? need.deviceBytes() + need.hostMapBytes : need.deviceBytes();
    message << "this run needs about " << formatBytes(static_cast<double>(total)) << " on " << deviceName(device)
            << " (activations " << formatBytes(static_cast<double>(need.activationBytes)) << ", score tiles of "
            << need.queryTile << " queries " << formatBytes(static_cast<double>(need.tileBytes)) << ", maps "
            << formatBytes(static_cast<double>(device.is_cpu() ? need.hostMapBytes : need.deviceMapBytes)) << ")";
    if (!device.is_cpu() && hostAvailable >= 0 && need.hostMapBytes > hostAvailable)
        message << " and " << formatBytes(static_cast<double>(need.hostMapBytes))
                << " of host memory for the maps, with " << formatBytes(static_cast<double>(hostAvailable))
                << " available";
    else
        message << ", but only " << formatBytes(static_cast<double>(std::max<int64_t>(need.available, 0)))
                << " are available";
    if (options.empty())
        message << "; nothing smaller of this request fits either";
    else {
        message << ". What would fit: ";
        for (size_t i = 0; i < options.size(); ++i)
            message << (i == 0 ? "" : "; or ") << options[i];
    }
    return Status::error(message.str());
}

} // namespace engine
} // namespace attn
