// SPDX-License-Identifier: GPL-3.0-or-later
// Device strings, the device-map planner (accelerate's balanced / sequential fill, without offloading) and explicit
// maps. Torch-free: sizes in, slot indices out.
#include "attnscope/device_map.h"
#include "attnscope/units.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>
#include <optional>
#include <sstream>

namespace attn {

Result<DeviceSpec> DeviceSpec::parse(const std::string& text)
{
    DeviceSpec spec;
    if (text == "auto" || text.empty())
        return spec;
    if (text == "cpu") {
        spec.type = Type::Cpu;
        return spec;
    }
    if (text == "cuda") {
        spec.type = Type::Cuda;
        return spec;
    }
    const std::string prefix = "cuda:";
    if (text.rfind(prefix, 0) == 0 && text.size() > prefix.size() && text.size() <= prefix.size() + 3) {
        const std::string digits = text.substr(prefix.size());
        bool allDigits = true;
        for (char ch : digits)
            allDigits = allDigits && std::isdigit(static_cast<unsigned char>(ch));
        if (allDigits) {
            spec.type = Type::Cuda;
            spec.index = std::stoi(digits);
            return spec;
        }
    }
    return Status::error("unknown device '" + text + "' (use auto, cpu, cuda or cuda:N)");
}

std::string DeviceSpec::toString() const
{
    switch (type) {
    case Type::Auto:
        return "auto";
    case Type::Cpu:
        return "cpu";
    case Type::Cuda:
        return "cuda:" + std::to_string(index);
    }
    return "auto";
}

namespace {

bool sameDevice(const DeviceSpec& a, const DeviceSpec& b)
{
    return a.type == b.type && (a.type != DeviceSpec::Type::Cuda || a.index == b.index);
}

std::vector<std::string> splitOn(const std::string& text, char separator)
{
    std::vector<std::string> parts;
    std::stringstream stream(text);
    std::string item;
    while (std::getline(stream, item, separator))
        parts.push_back(item);
    if (!text.empty() && text.back() == separator)
        parts.push_back({});
    return parts;
}

std::string bytes(int64_t n)
{
    return formatBytes(static_cast<double>(n));
}

/// "0-15" or "7" -> [first, last]; nullopt when it is not such a range.
std::optional<std::pair<int64_t, int64_t>> parseRange(const std::string& text)
{
    auto number = [](const std::string& s) -> std::optional<int64_t> {
        if (s.empty() || s.size() > 9
            || !std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
            return std::nullopt;
        return std::stoll(s);
    };
    const size_t dash = text.find('-');
    const auto first = number(text.substr(0, dash));
    const auto last = dash == std::string::npos ? first : number(text.substr(dash + 1));
    if (!first || !last || *last < *first)
        return std::nullopt;
    return std::make_pair(*first, *last);
}

/// The slot of `device` in map.devices, added when new: a JSON map has one slot per distinct device.
size_t slotOf(DeviceMap& map, const DeviceSpec& device)
{
    for (size_t i = 0; i < map.devices.size(); ++i)
        if (sameDevice(map.devices[i], device))
            return i;
    map.devices.push_back(device);
    return map.devices.size() - 1;
}

/// Which part a device-map key names: the engine's names, Hugging Face's (model.*, lm_head) or GPT-2's (transformer.*).
struct Part {
    enum class Kind { Whole, Embeddings, Layer, Norm, Head, NoWeights } kind;
    int64_t layer = -1;
};

std::optional<Part> partOf(const std::string& key)
{
    using K = Part::Kind;
    if (key.empty() || key == "model" || key == "transformer")
        return Part {K::Whole};
    std::string name = key;
    for (const char* prefix : {"model.", "transformer."})
        if (name.rfind(prefix, 0) == 0)
            name = name.substr(std::string(prefix).size());
    for (const char* layers : {"layers.", "h."})
        if (name.rfind(layers, 0) == 0) {
            const auto range = parseRange(name.substr(std::string(layers).size()));
            if (range && range->first == range->second)
                return Part {K::Layer, range->first};
            return std::nullopt;
        }
    if (name == "embed_tokens" || name == "tok_embeddings" || name == "wte" || name == "wpe"
        || name == "pos_embeddings")
        return Part {K::Embeddings};
    if (name == "norm" || name == "ln_f")
        return Part {K::Norm};
    if (name == "lm_head" || name == "output")
        return Part {K::Head};
    if (name == "rotary_emb" || name == "drop")
        return Part {K::NoWeights};
    return std::nullopt;
}

Result<DeviceSpec> jsonDevice(const nlohmann::json& value, const std::string& key)
{
    if (value.is_number_integer()) {
        const int64_t index = value.get<int64_t>();
        if (index < 0 || index > 999)
            return Status::error(
                "device map entry \"" + key + "\": GPU index " + std::to_string(index) + " is not a device");
        return DeviceSpec {DeviceSpec::Type::Cuda, static_cast<int>(index)};
    }
    if (!value.is_string())
        return Status::error(
            "device map entry \"" + key + "\": expected a GPU index or a device string, got " + value.dump());
    const std::string text = value.get<std::string>();
    if (text == "disk" || text == "meta")
        return Status::error("device map entry \"" + key + "\": \"" + text
            + "\" offloading is not supported: every part must sit on a CPU or a GPU");
    auto spec = DeviceSpec::parse(text);
    if (!spec)
        return Status::error("device map entry \"" + key + "\": " + spec.message());
    return spec;
}

Result<DeviceMap> parseJsonMap(const std::string& text, int64_t nLayers, bool tiedHead)
{
    nlohmann::json root;
    try {
        root = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
        return Status::error(std::string("the device map is not valid JSON: ") + e.what());
    }
    if (!root.is_object())
        return Status::error("the device map must be a JSON object of part -> device");
    DeviceMap map;
    std::optional<size_t> whole, embeddings, norm, head;
    std::vector<std::optional<size_t>> layers(static_cast<size_t>(nLayers));
    for (const auto& [key, value] : root.items()) {
        const auto part = partOf(key);
        if (!part)
            return Status::error("device map entry \"" + key
                + "\" names no part of this model (use embed_tokens, layers.N, norm, lm_head or their engine names "
                  "tok_embeddings, layers.N, norm, output)");
        auto device = jsonDevice(value, key);
        if (!device)
            return device.status();
        const size_t slot = slotOf(map, *device);
        switch (part->kind) {
        case Part::Kind::Whole:
            whole = slot;
            break;
        case Part::Kind::Embeddings:
            embeddings = slot;
            break;
        case Part::Kind::Norm:
            norm = slot;
            break;
        case Part::Kind::Head:
            head = slot;
            break;
        case Part::Kind::NoWeights:
            break;
        case Part::Kind::Layer:
            if (part->layer >= nLayers)
                return Status::error("device map entry \"" + key + "\": the model has " + std::to_string(nLayers)
                    + " layers (0.." + std::to_string(nLayers - 1) + ")");
            layers[static_cast<size_t>(part->layer)] = slot;
            break;
        }
    }
    std::vector<std::string> missing;
    auto take = [&](const std::optional<size_t>& own, const std::string& name) -> size_t {
        if (own)
            return *own;
        if (whole)
            return *whole;
        missing.push_back(name);
        return 0;
    };
    map.embeddings = take(embeddings, "embed_tokens");
    for (int64_t l = 0; l < nLayers; ++l)
        map.layers.push_back(take(layers[static_cast<size_t>(l)], "layers." + std::to_string(l)));
    map.finalNorm = take(norm, "norm");
    // A tied head is the embedding table: it cannot live apart from it.
    map.head = tiedHead ? map.embeddings : take(head, "lm_head");
    map.tiedHead = tiedHead;
    // Slots numbered in model order (the object's keys come sorted by name): the embeddings' device is slot 0.
    std::vector<size_t> renumber(map.devices.size(), map.devices.size());
    std::vector<DeviceSpec> ordered;
    auto visit = [&](size_t& slot) {
        if (renumber[slot] == map.devices.size()) {
            renumber[slot] = ordered.size();
            ordered.push_back(map.devices[slot]);
        }
        slot = renumber[slot];
    };
    if (missing.empty()) {
        visit(map.embeddings);
        for (size_t& slot : map.layers)
            visit(slot);
        visit(map.finalNorm);
        visit(map.head);
        map.devices = ordered;
    }
    if (!missing.empty()) {
        std::string names;
        for (size_t i = 0; i < missing.size() && i < 8; ++i)
            names += (i ? ", " : "") + missing[i];
        if (missing.size() > 8)
            names += " and " + std::to_string(missing.size() - 8) + " more";
        return Status::error("the device map does not place " + names);
    }
    return map;
}

Result<DeviceMap> parseRangeMap(const std::string& text, int64_t nLayers, bool tiedHead)
{
    DeviceMap map;
    std::vector<std::optional<size_t>> layers(static_cast<size_t>(nLayers));
    for (const std::string& entry : splitOn(text, ',')) {
        const size_t colon = entry.find(':');
        const auto range = colon == std::string::npos ? std::nullopt : parseRange(entry.substr(0, colon));
        if (!range)
            return Status::error("device map entry '" + entry + "': expected FIRST-LAST:DEVICE, e.g. 0-15:cuda:0");
        auto device = DeviceSpec::parse(entry.substr(colon + 1));
        if (!device || entry.substr(colon + 1).empty())
            return Status::error("device map entry '" + entry
                + "': " + (device ? std::string("no device after the colon") : device.message()));
        if (range->second >= nLayers)
            return Status::error("device map entry '" + entry + "': the model has " + std::to_string(nLayers)
                + " layers (0.." + std::to_string(nLayers - 1) + ")");
        // One slot per entry, as in a device list: "0-0:cpu,1-3:cpu" has two slots (the CPU test of a split).
        map.devices.push_back(*device);
        const size_t slot = map.devices.size() - 1;
        for (int64_t l = range->first; l <= range->second; ++l) {
            if (layers[static_cast<size_t>(l)])
                return Status::error(
                    "device map entry '" + entry + "': layer " + std::to_string(l) + " is placed twice");
            layers[static_cast<size_t>(l)] = slot;
        }
    }
    for (int64_t l = 0; l < nLayers; ++l) {
        if (!layers[static_cast<size_t>(l)])
            return Status::error("the device map does not place layer " + std::to_string(l) + " (the model has "
                + std::to_string(nLayers) + " layers, 0.." + std::to_string(nLayers - 1) + ")");
        map.layers.push_back(*layers[static_cast<size_t>(l)]);
    }
    map.embeddings = map.layers.empty() ? 0 : map.layers.front();
    map.finalNorm = map.layers.empty() ? 0 : map.layers.back();
    map.head = tiedHead ? map.embeddings : map.finalNorm;
    map.tiedHead = tiedHead;
    return map;
}

} // namespace

Result<std::vector<DeviceSpec>> parseDeviceList(const std::string& text)
{
    std::vector<DeviceSpec> devices;
    for (const std::string& entry : splitOn(text, ',')) {
        if (entry.empty())
            return Status::error("the device list '" + text + "' has an empty entry (use e.g. cuda:0,cuda:1)");
        auto spec = DeviceSpec::parse(entry);
        if (!spec)
            return Status::error("the device list '" + text + "': " + spec.message());
        devices.push_back(*spec);
    }
    if (devices.empty())
        return Status::error("the device list is empty (use e.g. cuda:0,cuda:1)");
    return devices;
}

std::string toString(DeviceMapStrategy strategy)
{
    return strategy == DeviceMapStrategy::Sequential ? "sequential" : "balanced";
}

Result<DeviceMapStrategy> parseDeviceMapStrategy(const std::string& text)
{
    if (text == "balanced" || text == "auto")
        return DeviceMapStrategy::Balanced;
    if (text == "sequential")
        return DeviceMapStrategy::Sequential;
    return Status::error("unknown device map strategy '" + text + "' (use balanced or sequential)");
}

int64_t ModelFootprint::totalBytes() const
{
    int64_t total = embeddingBytes + finalNormBytes + headBytes;
    for (int64_t b : layerBytes)
        total += b;
    return total;
}

DeviceMap DeviceMap::single(const DeviceSpec& device, int64_t nLayers)
{
    DeviceMap map;
    map.devices = {device};
    map.layers.assign(static_cast<size_t>(std::max<int64_t>(nLayers, 0)), 0);
    return map;
}

std::vector<size_t> DeviceMap::usedSlots() const
{
    std::vector<bool> used(devices.size(), false);
    for (size_t slot : layers)
        used[slot] = true;
    for (size_t slot : {embeddings, finalNorm, head})
        used[slot] = true;
    std::vector<size_t> out;
    for (size_t i = 0; i < used.size(); ++i)
        if (used[i])
            out.push_back(i);
    return out;
}

std::vector<std::string> DeviceMap::describe() const
{
    std::vector<std::string> lines;
    for (size_t slot : usedSlots()) {
        std::vector<std::string> parts;
        if (embeddings == slot)
            parts.push_back("embeddings");
        for (size_t l = 0; l < layers.size();) {
            if (layers[l] != slot) {
                ++l;
                continue;
            }
            size_t end = l;
            while (end + 1 < layers.size() && layers[end + 1] == slot)
                ++end;
            parts.push_back(
                end == l ? "layer " + std::to_string(l) : "layers " + std::to_string(l) + "-" + std::to_string(end));
            l = end + 1;
        }
        if (finalNorm == slot)
            parts.push_back("final norm");
        if (head == slot)
            parts.push_back(tiedHead ? "head (tied to the embeddings)" : "head");
        std::string line = devices[slot].toString() + "  ";
        for (size_t i = 0; i < parts.size(); ++i)
            line += (i ? ", " : "") + parts[i];
        if (slot < slotBytes.size())
            line += " (" + bytes(slotBytes[slot]) + ")";
        lines.push_back(line);
    }
    return lines;
}

std::string DeviceMap::toJson() const
{
    nlohmann::ordered_json out;
    out["tok_embeddings"] = devices[embeddings].toString();
    for (size_t l = 0; l < layers.size(); ++l)
        out["layers." + std::to_string(l)] = devices[layers[l]].toString();
    out["norm"] = devices[finalNorm].toString();
    out["output"] = devices[head].toString();
    return out.dump();
}

Result<DeviceMap> planDeviceMap(const ModelFootprint& footprint, const std::vector<DeviceSpec>& devices,
    const std::vector<int64_t>& budgets, DeviceMapStrategy strategy)
{
    if (devices.empty())
        return Status::error("no device to place the model on");
    if (budgets.size() != devices.size())
        return Status::error("internal: " + std::to_string(budgets.size()) + " memory budgets for "
            + std::to_string(devices.size()) + " devices");
    const int64_t nLayers = static_cast<int64_t>(footprint.layerBytes.size());
    DeviceMap map = DeviceMap::single(devices.front(), nLayers);
    map.devices = devices;
    map.tiedHead = footprint.tiedHead;
    map.slotBytes.assign(devices.size(), 0);
    if (devices.size() == 1) {
        map.slotBytes[0] = footprint.totalBytes();
        return map;
    }

    // What each slot may take. Balanced (transformers' get_balanced_memory): every slot but the last is capped at an
    // equal share plus a buffer of 1.25 x the largest part that is never split (a layer, or the embedding or head
    // table), so that rounding to whole parts does not push the tail off the end; the last slot keeps its whole budget
    // for what is left. Sequential: the budgets as they are.
    const int64_t n = static_cast<int64_t>(devices.size());
    std::vector<int64_t> caps = budgets;
    if (strategy == DeviceMapStrategy::Balanced) {
        int64_t largest = std::max({footprint.embeddingBytes, footprint.finalNormBytes, footprint.headBytes});
        for (int64_t bytes : footprint.layerBytes)
            largest = std::max(largest, bytes);
        const int64_t share = footprint.totalBytes() / n + largest + largest / 4; // int(1.25 * largest)
        for (size_t i = 0; i + 1 < caps.size(); ++i)
            caps[i] = caps[i] < 0 ? share : std::min(caps[i], share);
    }

    // The parts in the model's order; a tied head is counted with the embeddings (one tensor).
    struct Item {
        std::string name;
        int64_t bytes;
        size_t* slot;
    };
    std::vector<Item> items;
    items.push_back({footprint.tiedHead ? "the embeddings (with the tied head)" : "the embeddings",
        footprint.embeddingBytes, &map.embeddings});
    for (int64_t l = 0; l < nLayers; ++l)
        items.push_back({"layer " + std::to_string(l), footprint.layerBytes[static_cast<size_t>(l)],
            &map.layers[static_cast<size_t>(l)]});
    items.push_back({"the final norm", footprint.finalNormBytes, &map.finalNorm});
    if (!footprint.tiedHead)
        items.push_back({"the output head", footprint.headBytes, &map.head});

    // accelerate keeps room on its "main" devices (the first GPU, and the CPU) for the largest part still to place
    // (there, to bring an offloaded layer back; here it leaves the first device room for the embeddings' activations
    // and the logits of a tied head, and keeps our splits those of from_pretrained).
    size_t firstGpu = devices.size();
    for (size_t i = 0; i < devices.size() && firstGpu == devices.size(); ++i)
        if (devices[i].type != DeviceSpec::Type::Cpu)
            firstGpu = i;
    auto isMain = [&](size_t i) { return i == firstGpu || devices[i].type == DeviceSpec::Type::Cpu; };
    std::vector<int64_t> largestAfter(items.size(), 0); // the largest part after each one
    for (size_t i = items.size() - 1; i > 0; --i)
        largestAfter[i - 1] = std::max(largestAfter[i], items[i].bytes);

    size_t slot = 0;
    for (size_t i = 0; i < items.size(); ++i) {
        const Item& item = items[i];
        auto fits = [&](size_t s) {
            if (caps[s] < 0)
                return true;
            const int64_t room = caps[s] - (isMain(s) ? largestAfter[i] : 0);
            return map.slotBytes[s] + item.bytes <= room;
        };
        while (slot < devices.size() && !fits(slot))
            ++slot; // like accelerate: a part that does not fit moves on, the device is not revisited
        if (slot == devices.size()) {
            std::ostringstream message;
            message << "the model does not fit on " << (n == 1 ? "the device" : "the devices") << ": it needs "
                    << bytes(footprint.totalBytes()) << " (embeddings " << bytes(footprint.embeddingBytes) << ", "
                    << nLayers << " layers of up to "
                    << bytes(nLayers ? *std::max_element(footprint.layerBytes.begin(), footprint.layerBytes.end()) : 0)
                    << ", final norm " << bytes(footprint.finalNormBytes) << ", head "
                    << (footprint.tiedHead ? std::string("tied") : bytes(footprint.headBytes)) << "); ";
            for (size_t i = 0; i < devices.size(); ++i)
                message << (i ? ", " : "") << devices[i].toString() << " has room for "
                        << (caps[i] < 0 ? std::string("any amount") : bytes(caps[i]));
            message << "; " << item.name << " (" << bytes(item.bytes) << ") and what follows found no room. "
                    << "Add a device, load in bf16 (--dtype bf16), or give an explicit --device-map";
            return Status::error(message.str());
        }
        *item.slot = slot;
        map.slotBytes[slot] += item.bytes;
    }
    if (footprint.tiedHead)
        map.head = map.embeddings;
    return map;
}

std::vector<int64_t> slotBytes(const DeviceMap& map, const ModelFootprint& footprint)
{
    std::vector<int64_t> out(map.devices.size(), 0);
    out[map.embeddings] += footprint.embeddingBytes;
    for (size_t l = 0; l < map.layers.size() && l < footprint.layerBytes.size(); ++l)
        out[map.layers[l]] += footprint.layerBytes[l];
    out[map.finalNorm] += footprint.finalNormBytes;
    if (!footprint.tiedHead)
        out[map.head] += footprint.headBytes;
    return out;
}

Result<DeviceMap> parseDeviceMap(const std::string& text, int64_t nLayers, bool tiedHead)
{
    const size_t first = text.find_first_not_of(" \t\r\n");
    if (first == std::string::npos)
        return Status::error("the device map is empty (use e.g. 0-15:cuda:0,16-31:cuda:1 or a JSON file)");
    if (text[first] == '{' || text[first] == '[')
        return parseJsonMap(text, nLayers, tiedHead);
    return parseRangeMap(text, nLayers, tiedHead);
}

} // namespace attn
