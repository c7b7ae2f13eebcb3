// SPDX-License-Identifier: GPL-3.0-or-later
// Benchmark support: peak memory per device and the machine's own matmul ceiling.
#include "attnscope/model.h"

#include "engine/device.h"
#include "engine/torch_includes.h"

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>

#ifdef ATTNSCOPE_TORCH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#endif

namespace attn {

namespace {

int64_t statusField(const std::string& name)
{
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind(name + ":", 0) == 0) {
            std::istringstream fields(line.substr(name.size() + 1));
            int64_t kib = -1;
            fields >> kib;
            return kib < 0 ? -1 : kib * 1024;
        }
    return -1;
}

void synchronize(const at::Device& device)
{
#ifdef ATTNSCOPE_TORCH_CUDA
    if (device.is_cuda())
        c10::cuda::device_synchronize();
#else
    (void)device;
#endif
}

} // namespace

int64_t peakMemoryBytes(const DeviceSpec& spec)
{
    auto device = engine::resolveDevice(spec);
    if (!device)
        return -1;
    if (device->is_cpu())
        return statusField("VmHWM");
#ifdef ATTNSCOPE_TORCH_CUDA
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device->index());
    return stats.allocated_bytes[0].peak; // [0] = all pools together
#else
    return -1;
#endif
}

void resetPeakMemory(const DeviceSpec& spec)
{
    auto device = engine::resolveDevice(spec);
    if (!device)
        return;
    if (device->is_cpu()) {
        std::ofstream("/proc/self/clear_refs") << "5"; // resets VmHWM to the current RSS (Linux >= 4.0)
        return;
    }
#ifdef ATTNSCOPE_TORCH_CUDA
    c10::cuda::CUDACachingAllocator::resetPeakStats(device->index());
#endif
}

Result<double> matmulFlopsPerSecond(const DeviceSpec& spec, ComputeDType dtype, int64_t n)
{
    auto device = engine::resolveDevice(spec);
    if (!device)
        return device.status();
    if (n <= 0)
        n = device->is_cpu() ? 2048 : 8192;
    try {
        c10::InferenceMode guard;
        const auto options = at::TensorOptions().dtype(engine::scalarType(dtype)).device(*device);
        const at::Tensor a = at::randn({n, n}, options), b = at::randn({n, n}, options); // never time on zeros
        at::Tensor c = at::matmul(a, b); // warm-up: kernels, BLAS threads
        synchronize(*device);
        double best = 1e30;
        for (int repeat = 0; repeat < 5; ++repeat) {
            const auto start = std::chrono::steady_clock::now();
            c = at::matmul(a, b);
            synchronize(*device);
            best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
        }
        return 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n) / best;
    } catch (const std::exception& e) {
        return Status::error(std::string("matmul benchmark failed: ") + e.what());
    }
}

} // namespace attn
