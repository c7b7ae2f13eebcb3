// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// A model's device map resolved to devices (issue 13, several GPUs): which device each engine tensor is loaded on, and
// what each device holds. One device is the one-entry map, so single- and multi-device loads share this path.

#include "attnscope/device_map.h"
#include "attnscope/model.h"
#include "attnscope/model_source.h"
#include "engine/torch_includes.h"

#include <string>
#include <utility>
#include <vector>

namespace attn::engine {

struct Placement {
    DeviceMap map;
    std::vector<at::Device> slots; ///< map.devices resolved, one per slot

    /// The device of the embeddings: where token ids go in.
    at::Device first() const { return slots[map.embeddings]; }
    /// The device an engine tensor (docs/model-format.md's internal name) is loaded on.
    at::Device deviceOf(const std::string& engineTensorName) const;
    /// "cpu" / "cuda:0" for one slot, else the slots' names joined by commas.
    std::string name() const;
    /// Each distinct device and the weights it holds (a device listed in two slots is one device).
    std::vector<std::pair<at::Device, int64_t>> weightsPerDevice() const;
};

/// The bytes each part of the source takes once loaded in computeDtype (loadSourceWeights's dtype rule).
ModelFootprint footprintOf(const ModelSource& source, at::ScalarType computeDtype);

/**
 * @brief Decides where the source's parts go: options.deviceMap when given (parseDeviceMap), else the devices of
 * options.devices planned with options.strategy (budgets: each GPU's free memory, shared by the slots that list it; a
 * CPU has no limit, its weights are memory-mapped), else options.device alone. Resolves every device (a CUDA device
 * that is not there is an error naming it).
 */
Result<Placement> placeModel(const ModelSource& source, const LoadOptions& options);

} // namespace attn::engine
