// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Where a model's parts live when it is spread over several devices of one machine (issue 13, "Several GPUs"), and
// the planner that decides it the way Hugging Face accelerate's device_map="balanced" / "sequential" does. Torch-free:
// the engine measures the parts and the devices, this file only decides.

#include "attnscope/status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace attn {

/** @brief "auto" (CUDA:0 when available, else CPU), "cpu", "cuda" or "cuda:N". */
struct DeviceSpec {
    enum class Type { Auto, Cpu, Cuda };
    Type type = Type::Auto;
    int index = 0;
    static Result<DeviceSpec> parse(const std::string& text);
    std::string toString() const;
};

/**
 * @brief "cuda:0,cuda:1" (or "cpu,cpu", which tests the multi-device path on one CPU) as specs, in order. A device may
 * be listed more than once; each entry is one slot of the device map. The error names the entry that is not a device.
 */
Result<std::vector<DeviceSpec>> parseDeviceList(const std::string& text);

/**
 * @brief How the planner fills the devices. Balanced (accelerate's "balanced", the default of device_map="auto"): every
 * device but the last takes about an equal share of the weights; Sequential: each device is filled up to its budget
 * before the next one is used.
 */
enum class DeviceMapStrategy { Balanced, Sequential };
std::string toString(DeviceMapStrategy strategy);
Result<DeviceMapStrategy> parseDeviceMapStrategy(const std::string& text);

/** @brief The bytes each part of a model takes on a device (in the dtype it will have there). */
struct ModelFootprint {
    int64_t embeddingBytes = 0; ///< token (and learned position) embeddings
    std::vector<int64_t> layerBytes; ///< per transformer block
    int64_t finalNormBytes = 0;
    int64_t headBytes = 0; ///< the output projection; 0 when tied to the embeddings (it is that table)
    bool tiedHead = false;
    int64_t totalBytes() const;
};

/**
 * @brief Which device slot holds each part: indices into `devices`. Embeddings come first, then the layers in order,
 * then the final norm and the head (a tied head stays with the embeddings: it is the same tensor).
 */
struct DeviceMap {
    std::vector<DeviceSpec> devices; ///< the slots, as listed
    size_t embeddings = 0;
    std::vector<size_t> layers;
    size_t finalNorm = 0;
    size_t head = 0;
    bool tiedHead = false; ///< the head is the embedding table (same slot)
    std::vector<int64_t> slotBytes; ///< weights per slot, when the footprint was known (empty otherwise)

    /// Every part on one device: today's single-device load.
    static DeviceMap single(const DeviceSpec& device, int64_t nLayers);
    /// The slots that hold at least one part, in slot order.
    std::vector<size_t> usedSlots() const;
    /// One line per used slot: "cuda:0  embeddings, layers 0-15 (12.1 GiB)".
    std::vector<std::string> describe() const;
    /// The map as JSON text in the engine's part names: {"tok_embeddings": "cuda:0", "layers.0": "cuda:0", ...,
    /// "norm": "cuda:1", "output": "cuda:1"}.
    std::string toJson() const;
};

/**
 * @brief Plans a contiguous placement of the model's parts over the devices (accelerate's infer_auto_device_map,
 * without offloading: everything must fit on the listed devices). budgets[i] is what slot i may hold in bytes (-1:
 * no limit, e.g. a CPU whose weights are memory-mapped). Balanced caps every slot but the last at total / n plus a
 * buffer of 1.25 x the largest part (a layer, or the embedding or head table: transformers' get_balanced_memory) so
 * the layers spread evenly and the last device takes what is left. As in accelerate, the first GPU (and a CPU) keeps
 * room for the largest part still to place. One device takes everything unchecked (the load reports what does not
 * fit). The error names the sizes: the model's parts, each device's budget and the first part that found no room.
 */
Result<DeviceMap> planDeviceMap(const ModelFootprint& footprint, const std::vector<DeviceSpec>& devices,
    const std::vector<int64_t>& budgets, DeviceMapStrategy strategy);

/// The weights each slot of `map` holds.
std::vector<int64_t> slotBytes(const DeviceMap& map, const ModelFootprint& footprint);

/**
 * @brief An explicit map, given by the user, for a model of nLayers layers:
 *  - layer ranges, "0-15:cuda:0,16-31:cuda:1" (each layer exactly once; the embeddings go with layer 0, the final norm
 *    and head with the last layer, a tied head with the embeddings; each entry is one slot);
 *  - or a JSON object as Hugging Face's device_map: {"model.embed_tokens": 0, "model.layers.0": 0, ...,
 *    "model.norm": 1, "lm_head": 1}, values a GPU index or a device string ("cpu", "cuda:1"); keys may also be the
 *    engine's names (tok_embeddings, layers.N, norm, output) or GPT-2's (transformer.wte, transformer.h.N,
 *    transformer.ln_f); "" places the whole model. Parts the object leaves out are an error naming them.
 * Errors name the entry at fault.
 */
Result<DeviceMap> parseDeviceMap(const std::string& text, int64_t nLayers, bool tiedHead);

} // namespace attn
