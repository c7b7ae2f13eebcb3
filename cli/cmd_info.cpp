// SPDX-License-Identifier: GPL-3.0-or-later
// attnscope-cli info: config, parameter count and tensor list of a model directory (or, for a torch.save
// file, what it holds: pt_info.cpp).
#include "cli_common.h"
#include "model_facts.h"
#include "pt_info.h"

#include "attnscope/model_format.h"

#include <nlohmann/json.hpp>

#include <iomanip>
#include <iostream>

namespace attn::cli {

namespace {

/// Prints what `info` shows of a model, opened here or on a server (the same text for both).
int printInfo(const std::string& dir, const InfoFacts& m, bool asJson)
{
    const nlohmann::json config = nlohmann::json::parse(m.configJson);
    if (asJson) {
        nlohmann::json out;
        out["format"] = m.format;
        for (const auto& [field, value] : m.description)
            out["source"][field] = value;
        out["config"] = config;
        out["parameters"] = m.parameters;
        out["sha256"] = m.sha256;
        out["map_kinds"] = nlohmann::json::array();
        for (MapKind kind : availableMapKinds(m.config, true))
            out["map_kinds"].push_back(toString(kind));
        for (const TensorInfo& t : m.tensors)
            out["tensors"].push_back({{"name", t.name}, {"dtype", dtypeName(t.dtype)}, {"shape", t.shape}});
        if (!m.deviceMapJson.empty())
            out["device_map"] = nlohmann::json::parse(m.deviceMapJson);
        std::cout << out.dump(2) << "\n";
        return 0;
    }
    std::cout << "model      " << dir << "\n";
    for (const auto& [field, value] : m.description)
        std::cout << "  " << std::left << std::setw(20) << field << value << "\n";
    std::cout << "parameters " << m.parameters << "\n"
              << "sha256     " << m.sha256 << "\n"
              << "maps       ";
    for (MapKind kind : availableMapKinds(m.config, true))
        std::cout << toString(kind) << ' ';
    if (!m.deviceMapLines.empty()) {
        std::cout << "\ndevices";
        for (const std::string& line : m.deviceMapLines)
            std::cout << "\n  " << line;
    }
    std::cout << "\nconfig\n" << config.dump(2) << "\ntensors (" << m.tensors.size() << ")\n";
    for (const TensorInfo& t : m.tensors)
        std::cout << "  " << std::left << std::setw(44) << t.name << std::setw(6) << dtypeName(t.dtype)
                  << shapeToString(t.shape) << "\n";
    return 0;
}

} // namespace

void registerInfo(CLI::App& app, int& exitCode)
{
    auto dir = std::make_shared<std::string>();
    auto asJson = std::make_shared<bool>(false);
    auto contents = std::make_shared<bool>(false);
    auto server = std::make_shared<ServerArgs>();
    CLI::App* cmd = app.add_subcommand(
        "info", "show a model's config, parameter count and tensors, or what a PyTorch .pt file holds");
    cmd->add_option("MODEL", *dir, "model folder (attnscope or Hugging Face), or a torch.save file (.pt)")->required();
    cmd->add_flag("--contents", *contents, ".pt files: list what the file holds (cfg, tensors, other objects)");
    cmd->add_flag("--json", *asJson, "print one JSON object");
    auto placement = std::make_shared<RunOptions>();
    placement->device = "cpu";
    placement->addDeviceMapTo(*cmd);
    server->addTo(*cmd);
    cmd->callback([dir, asJson, contents, server, placement, &exitCode] {
        const RunOptions& cpu = *placement; // the CPU unless --devices / --device-map place it
        const bool showPlacement = !cpu.devices.empty() || !cpu.deviceMap.empty();
        if (server->active() && showPlacement) {
            exitCode = fail("--devices and --device-map place a local model; a server places its models as its own "
                            "--devices say");
            return;
        }
        if (server->active()) { // the model is a path on the server: describe it there
            auto facts = remoteInfoFacts(*server, *dir);
            exitCode = facts ? printInfo(*dir, *facts, *asJson) : fail(facts.message());
            return;
        }
        if (isPtFile(*dir) && *contents) {
            exitCode = printPtInfo(*dir, *asJson);
            return;
        }
        auto model = loadModel(*dir, cpu);
        if (!model && isPtFile(*dir)) { // not a model attnscope runs: still say what the file holds
            std::cerr << "attnscope-cli: " << model.message() << "\n(the file's contents follow)\n";
            exitCode = printPtInfo(*dir, *asJson) == 0 ? 1 : 2;
            return;
        }
        if (!model) {
            exitCode = fail(model.message());
            return;
        }
        InfoFacts facts = localInfoFacts(**model);
        if (showPlacement) {
            facts.deviceMapLines = (*model)->deviceMap().describe();
            facts.deviceMapJson = (*model)->deviceMap().toJson();
        }
        exitCode = printInfo(*dir, facts, *asJson);
    });
}

} // namespace attn::cli
