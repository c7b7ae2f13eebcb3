// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "attnscope/model.h"
#include "engine/torch_includes.h"

namespace attn::engine {

/// Auto -> cuda:0 when a device is visible, else cpu. An explicit CUDA request that cannot be met is an error.
Result<at::Device> resolveDevice(const DeviceSpec& spec);
at::ScalarType scalarType(ComputeDType dtype);
std::string deviceName(const at::Device& device);

} // namespace attn::engine
