// SPDX-License-Identifier: GPL-3.0-or-later
#include "cli_common.h"

#include "attnscope/fileio.h"

#include <iostream>
#include <sstream>

namespace attn::cli {

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
    if (!promptFile.empty())
        return readFile(promptFile);
    if (prompt.empty())
        return Status::error("the prompt is empty: give --prompt TEXT or --prompt-file FILE");
    return prompt;
}

void RunOptions::addTo(CLI::App& command)
{
    command.add_option("--device", device, "auto, cpu, cuda or cuda:N")->capture_default_str();
    command.add_option("--dtype", dtype, "compute dtype: fp32 or bf16")->capture_default_str();
}

Result<LoadOptions> RunOptions::toLoadOptions() const
{
    LoadOptions options;
    auto spec = DeviceSpec::parse(device);
    if (!spec)
        return spec.status();
    auto type = parseComputeDType(dtype);
    if (!type)
        return type.status();
    options.device = *spec;
    options.dtype = *type;
    return options;
}

Result<std::unique_ptr<Model>> loadModel(const std::string& dir, const RunOptions& options)
{
    auto loadOptions = options.toLoadOptions();
    if (!loadOptions)
        return loadOptions.status();
    return Model::load(dir, *loadOptions);
}

} // namespace attn::cli
