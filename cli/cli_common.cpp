// SPDX-License-Identifier: GPL-3.0-or-later
#include "cli_common.h"

#include "attnscope/fileio.h"

#include <iostream>
#include <sstream>

namespace attn::cli {

namespace {
// Far above any prompt a model can take (8192-token maps are tens of kilobytes of text).
constexpr uint64_t kMaxPromptFileBytes = uint64_t(64) << 20;
} // namespace

int fail(const std::string& message)
{
    std::cerr << "attnscope-cli: error: " << message << "\n";
    return 1;
}

Result<std::vector<int64_t>> parseIndexList(const std::string& text, int64_t count, const std::string& what)
{
    std::vector<int64_t> out;
    if (text == "all") {
        for (int64_t i = 0; i < count; ++i)
            out.push_back(i);
        return out;
    }
    std::stringstream stream(text);
    std::string item;
    while (std::getline(stream, item, ',')) {
        size_t used = 0;
        long long value = -1;
        try {
            value = std::stoll(item, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (item.empty() || used != item.size() || value < 0)
            return Status::error("--" + what + ": '" + item + "' is not a non-negative index (use all or e.g. 0,2)");
        if (value >= count)
            return Status::error("--" + what + ": " + item + " is out of range (the model has " + std::to_string(count)
                + " " + what + ", 0.." + std::to_string(count - 1) + ")");
        out.push_back(value);
    }
    if (out.empty())
        return Status::error("--" + what + " is empty (use all or e.g. 0,2)");
    return out;
}

Result<std::string> readPrompt(const std::string& prompt, const std::string& promptFile)
{
    if (!prompt.empty() && !promptFile.empty())
        return Status::error("give either --prompt or --prompt-file, not both");
    // A prompt may come through a pipe; the bound stops `--prompt-file /dev/zero` from reading until memory runs out.
    if (!promptFile.empty())
        return readFile(promptFile, kMaxPromptFileBytes);
    if (prompt.empty())
        return Status::error("the prompt is empty: give --prompt TEXT or --prompt-file FILE");
    return prompt;
}

void RunOptions::addTo(CLI::App& command)
{
    command.add_option("--device", device, "auto, cpu, cuda or cuda:N")->capture_default_str();
    command.add_option("--dtype", dtype, "compute dtype: fp32 or bf16")->capture_default_str();
    addDeviceMapTo(command);
}

void RunOptions::addDeviceMapTo(CLI::App& command)
{
    command.add_option("--devices", devices,
        "spread the model's layers over these devices of this machine, e.g. cuda:0,cuda:1 (cpu,cpu runs the same "
        "path on the CPU); overrides --device");
    command.add_option("--device-map", deviceMap,
        "with --devices: balanced (default: an equal share per device, as accelerate's device_map=\"balanced\") or "
        "sequential (fill each device first); or an explicit map: layer ranges 0-15:cuda:0,16-31:cuda:1, or a JSON "
        "file as Hugging Face's device_map ({\"model.layers.0\": 0, ...})");
}

Result<LoadOptions> RunOptions::toLoadOptions() const
{
    LoadOptions options;
    auto spec = DeviceSpec::parse(device);
    if (!spec)
        return Status::error("--device: " + spec.message());
    auto type = parseComputeDType(dtype);
    if (!type)
        return type.status();
    options.device = *spec;
    options.dtype = *type;
    if (!devices.empty()) {
        auto list = parseDeviceList(devices);
        if (!list)
            return Status::error("--devices: " + list.message());
        options.devices = *list;
    }
    if (deviceMap.empty() || deviceMap == "balanced" || deviceMap == "sequential" || deviceMap == "auto") {
        auto strategy = parseDeviceMapStrategy(deviceMap.empty() ? "balanced" : deviceMap);
        if (!strategy)
            return strategy.status();
        options.strategy = *strategy;
        if (!deviceMap.empty() && devices.empty())
            return Status::error(
                "--device-map " + deviceMap + " plans over --devices: give the list, e.g. --devices cuda:0,cuda:1");
    } else if (deviceMap.find_first_of("{:") == std::string::npos
        || (deviceMap.size() > 5 && deviceMap.compare(deviceMap.size() - 5, 5, ".json") == 0)) {
        // A file: Hugging Face's device_map as JSON (a few KB; the bound keeps a wrong path from reading a disk).
        auto text = readFile(deviceMap, uint64_t(1) << 20);
        if (!text)
            return Status::error("--device-map " + deviceMap + ": " + text.message());
        options.deviceMap = *text;
    } else {
        options.deviceMap = deviceMap;
    }
    return options;
}

Result<std::unique_ptr<Model>> loadModel(const std::string& dir, const RunOptions& options)
{
    auto loadOptions = options.toLoadOptions();
    if (!loadOptions)
        return loadOptions.status();
    return Model::load(dir, *loadOptions);
}

void ModelShapeArgs::addTo(CLI::App& command)
{
    command.add_option("--attention", attention, "softmax or diff")
        ->check(CLI::IsMember({"softmax", "diff"}))
        ->capture_default_str();
    command.add_option("--position", position, "none, learned, rope, cope or rope+cope")
        ->check(CLI::IsMember({"none", "learned", "rope", "cope", "rope+cope"}))
        ->capture_default_str();
    command.add_option("--layers", layers, "number of layers")->check(CLI::Range(1, 1024))->capture_default_str();
    command.add_option("--d-model", dModel, "model width")->check(CLI::Range(1, 65536))->capture_default_str();
    command.add_option("--heads", heads, "heads per layer (diff: differential heads)")
        ->check(CLI::Range(1, 1024))
        ->capture_default_str();
    command.add_option("--kv-heads", kvHeads, "key/value heads (GQA); default: --heads")->check(CLI::Range(1, 1024));
}

Status ModelShapeArgs::applyTo(ModelConfig& config, const std::string& hint) const
{
    auto attentionKind = parseAttentionKind(attention);
    if (!attentionKind)
        return attentionKind.status();
    auto positionKind = parsePositionKind(position);
    if (!positionKind)
        return positionKind.status();
    config.attention = *attentionKind;
    config.position = *positionKind;
    config.nLayers = layers;
    config.dModel = dModel;
    config.nHeads = heads;
    config.nKvHeads = kvHeads > 0 ? kvHeads : heads;
    if (config.headDim == 0) {
        const int64_t divisor = config.isDiff() ? 2 * heads : heads;
        if (heads <= 0 || dModel % divisor != 0)
            return Status::error("--d-model " + std::to_string(dModel) + " is not divisible by "
                + std::to_string(divisor) + (config.isDiff() ? " (2 x heads for diff)" : " (heads)") + hint);
        config.headDim = dModel / divisor;
    }
    return Status::ok();
}

void addTaskOptions(CLI::App& command, TaskOptions& t)
{
    command.add_option("--vars", t.nVars, "counting: variables")->capture_default_str();
    command.add_option("--max-steps", t.maxSteps, "counting: most statements")->capture_default_str();
    command.add_option("--length", t.length, "flipflop: tokens per sequence")->capture_default_str();
    command.add_option("--p-ignore", t.pIgnore, "flipflop: probability of an ignore instruction")
        ->capture_default_str();
    command.add_option("--data", t.nData, "selective-copy: data tokens")->capture_default_str();
    command.add_option("--blanks", t.nBlank, "selective-copy: blank tokens")->capture_default_str();
    command.add_option("--context-words", t.contextWords, "needles: filler words")->capture_default_str();
    command.add_option("--needles", t.nNeedles, "needles: N")->capture_default_str();
    command.add_option("--queried", t.nQueried, "needles: R")->capture_default_str();
    command.add_option("--depth", t.depthPercent, "needles: answer depth 0..100, -1 = random")->capture_default_str();
}

} // namespace attn::cli
