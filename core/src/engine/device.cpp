// SPDX-License-Identifier: GPL-3.0-or-later
#include "engine/device.h"

#include <ATen/Parallel.h>
#include <torch/version.h>

namespace attn {

std::string toString(ComputeDType dtype)
{
    return dtype == ComputeDType::BF16 ? "bf16" : "fp32";
}

Result<ComputeDType> parseComputeDType(const std::string& text)
{
    if (text == "fp32" || text == "float32")
        return ComputeDType::F32;
    if (text == "bf16" || text == "bfloat16")
        return ComputeDType::BF16;
    return Status::error("unknown dtype '" + text + "' (use fp32 or bf16)");
}

bool cudaAvailable()
{
    return at::hasCUDA() && at::getNumGPUs() > 0;
}

int cudaDeviceCount()
{
    return at::hasCUDA() ? static_cast<int>(at::getNumGPUs()) : 0;
}

std::string torchVersion()
{
    return TORCH_VERSION;
}

int cpuThreads()
{
    return at::get_num_threads();
}

namespace engine {

Result<at::Device> resolveDevice(const DeviceSpec& spec)
{
    switch (spec.type) {
    case DeviceSpec::Type::Cpu:
        return at::Device(at::kCPU);
    case DeviceSpec::Type::Auto:
        return cudaAvailable() ? at::Device(at::kCUDA, 0) : at::Device(at::kCPU);
    case DeviceSpec::Type::Cuda:
        if (!at::hasCUDA())
            return Status::error("CUDA was requested, but this build of LibTorch (" + torchVersion()
                + ") has no CUDA support; build against a CUDA LibTorch (README: GPU build) or use --device cpu");
        if (spec.index < 0 || spec.index >= cudaDeviceCount())
            return Status::error("CUDA device " + std::to_string(spec.index) + " was requested, but "
                + std::to_string(cudaDeviceCount()) + " device(s) are visible");
        return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(spec.index));
    }
    return at::Device(at::kCPU);
}

at::ScalarType scalarType(ComputeDType dtype)
{
    return dtype == ComputeDType::BF16 ? at::kBFloat16 : at::kFloat;
}

std::string deviceName(const at::Device& device)
{
    return device.is_cuda() ? "cuda:" + std::to_string(device.index()) : "cpu";
}

} // namespace engine
} // namespace attn
