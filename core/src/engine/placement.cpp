// SPDX-License-Identifier: GPL-3.0-or-later
// Measuring a model's parts and the devices' room, and resolving the device map the planner (device_map.cpp) decides.
#include "engine/placement.h"

#include "attnscope/dtype.h"
#include "engine/device.h"
#include "engine/weights.h"

#include <algorithm>

#ifdef ATTNSCOPE_HAVE_CUDART
#include <cuda_runtime_api.h>
#endif

namespace attn::engine {

namespace {

/// Which part an engine tensor belongs to (the name table's); layer is set for "layers.N.*". A name outside the table
/// counts with the embeddings (the loader refuses it by name before anything is placed).
TensorPart partOf(const std::string& name, int64_t& layer)
{
    const TensorEntry* entry = findTensor(name, &layer);
    return entry ? entry->part : TensorPart::Embeddings;
}

/// Elements of the tensor a recipe produces (its shape, or the stored shape after transpose and row ranges).
int64_t recipeNumel(const TensorRecipe& recipe, const StoredTensor& stored)
{
    auto product = [](const std::vector<int64_t>& shape, size_t from) {
        int64_t n = 1;
        for (size_t i = from; i < shape.size(); ++i)
            n *= shape[i];
        return n;
    };
    if (!recipe.shape.empty())
        return product(recipe.shape, 0);
    std::vector<int64_t> shape = stored.shape;
    if (recipe.transpose && shape.size() == 2)
        std::swap(shape[0], shape[1]);
    if (recipe.rows.empty() || shape.empty())
        return product(shape, 0);
    int64_t rows = 0;
    for (const RowRange& r : recipe.rows)
        rows += r.count;
    return rows * product(shape, 1);
}

/// Engine tensors the loader keeps in fp32 whatever the compute dtype (lambda vectors, the CoPE table).
bool keptFp32(const std::string& name)
{
    const TensorEntry* entry = findTensor(name);
    return entry && entry->fp32;
}

/// Free memory of a GPU (the CUDA runtime's figure), -1 where it cannot be asked or for a CPU.
int64_t freeBytes(const at::Device& device)
{
#ifdef ATTNSCOPE_HAVE_CUDART
    if (device.is_cuda()) {
        int previous = 0;
        size_t freeMemory = 0, totalMemory = 0;
        if (cudaGetDevice(&previous) == cudaSuccess && cudaSetDevice(device.index()) == cudaSuccess
            && cudaMemGetInfo(&freeMemory, &totalMemory) == cudaSuccess) {
            cudaSetDevice(previous);
            return static_cast<int64_t>(freeMemory);
        }
    }
#else
    (void)device;
#endif
    return -1;
}

} // namespace

at::Device Placement::deviceOf(const std::string& name) const
{
    int64_t layer = -1;
    switch (partOf(name, layer)) {
    case TensorPart::Layer:
        return layer >= 0 && layer < static_cast<int64_t>(map.layers.size())
            ? slots[map.layers[static_cast<size_t>(layer)]]
            : first();
    case TensorPart::FinalNorm:
        return slots[map.finalNorm];
    case TensorPart::Head:
        return slots[map.head];
    case TensorPart::Embeddings:
        break;
    }
    return first();
}

std::string Placement::name() const
{
    std::string out;
    for (size_t slot : map.usedSlots()) {
        // Appended piecewise: GCC 12 at -O3 warns (stringop-overflow, a false positive) on "," + std::string&&.
        if (!out.empty())
            out += ',';
        out += deviceName(slots[slot]);
    }
    return out;
}

std::vector<std::pair<at::Device, int64_t>> Placement::weightsPerDevice() const
{
    std::vector<std::pair<at::Device, int64_t>> out;
    for (size_t slot : map.usedSlots()) {
        const int64_t bytes = slot < map.slotBytes.size() ? map.slotBytes[slot] : 0;
        auto it = std::find_if(out.begin(), out.end(), [&](const auto& entry) { return entry.first == slots[slot]; });
        if (it == out.end())
            out.emplace_back(slots[slot], bytes);
        else
            it->second += bytes;
    }
    return out;
}

ModelFootprint footprintOf(const ModelSource& source, at::ScalarType computeDtype)
{
    ModelFootprint f;
    f.layerBytes.assign(static_cast<size_t>(std::max<int64_t>(source.config.nLayers, 0)), 0);
    f.tiedHead = source.config.tieEmbeddings;
    const int64_t computeSize = static_cast<int64_t>(c10::elementSize(computeDtype));
    for (const auto& [name, recipe] : source.recipes) {
        const StoredTensor* stored = source.find(recipe.source);
        if (!stored)
            continue; // the loader reports it by name
        const int64_t storedSize = static_cast<int64_t>(dtypeSize(stored->dtype));
        const int64_t element = keptFp32(name) ? 4 : std::min(storedSize, computeSize);
        const int64_t bytes = recipeNumel(recipe, *stored) * element;
        int64_t layer = -1;
        switch (partOf(name, layer)) {
        case TensorPart::Layer:
            if (layer >= 0 && layer < static_cast<int64_t>(f.layerBytes.size()))
                f.layerBytes[static_cast<size_t>(layer)] += bytes;
            break;
        case TensorPart::FinalNorm:
            f.finalNormBytes += bytes;
            break;
        case TensorPart::Head:
            if (!f.tiedHead)
                f.headBytes += bytes;
            break;
        case TensorPart::Embeddings:
            f.embeddingBytes += bytes;
            break;
        }
    }
    return f;
}

Result<Placement> placeModel(const ModelSource& source, const LoadOptions& options)
{
    const ModelFootprint footprint = footprintOf(source, scalarType(options.dtype));
    const int64_t nLayers = source.config.nLayers;
    Placement placement;
    if (!options.deviceMap.empty()) {
        auto map = parseDeviceMap(options.deviceMap, nLayers, footprint.tiedHead);
        if (!map)
            return Status::error("--device-map: " + map.message());
        placement.map = std::move(*map);
    } else {
        const std::vector<DeviceSpec> specs
            = options.devices.empty() ? std::vector<DeviceSpec> {options.device} : options.devices;
        std::vector<at::Device> devices;
        for (const DeviceSpec& spec : specs) {
            auto device = resolveDevice(spec);
            if (!device)
                return device.status();
            devices.push_back(*device);
        }
        // A GPU listed in two slots shares its free memory between them; a CPU is not limited (memory-mapped weights).
        std::vector<int64_t> budgets;
        for (const at::Device& device : devices) {
            const int64_t free = freeBytes(device);
            const int64_t listed = std::count(devices.begin(), devices.end(), device);
            budgets.push_back(free < 0 ? -1 : free / listed);
        }
        auto map = planDeviceMap(footprint, specs, budgets, options.strategy);
        if (!map)
            return map.status();
        placement.map = std::move(*map);
    }
    for (const DeviceSpec& spec : placement.map.devices) {
        auto device = resolveDevice(spec);
        if (!device)
            return device.status();
        placement.slots.push_back(*device);
    }
    placement.map.slotBytes = slotBytes(placement.map, footprint);
    return placement;
}

} // namespace attn::engine
