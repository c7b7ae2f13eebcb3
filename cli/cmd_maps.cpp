// SPDX-License-Identifier: GPL-3.0-or-later
// attnscope-cli maps: run a prompt and write every requested map as float32 .npy plus maps.json.
#include "cli_common.h"

#include "attnscope/fileio.h"
#include "attnscope/npy.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <sstream>

namespace attn::cli {

namespace {

constexpr double kMapBudgetBytes = 1024.0 * 1024.0 * 1024.0;

struct MapsArgs {
    std::string dir, prompt, promptFile, out;
    std::string layers = "all", heads = "all", maps = "all";
    bool logits = false;
    bool force = false;
    RunOptions run;
};

Result<std::vector<MapKind>> parseKinds(const std::string& text, const ModelConfig& config, bool logits)
{
    if (text == "all")
        return availableMapKinds(config, logits);
    std::vector<MapKind> kinds;
    std::stringstream stream(text);
    std::string item;
    while (std::getline(stream, item, ',')) {
        auto kind = parseMapKind(item);
        if (!kind)
            return Status::error("--maps: " + kind.message());
        kinds.push_back(*kind);
    }
    return kinds;
}

std::string mapFileName(const AttentionMap& map)
{
    return "L" + std::to_string(map.layer) + "_H" + std::to_string(map.head) + "_" + toString(map.kind) + ".npy";
}

int runMaps(const MapsArgs& a)
{
    namespace fs = std::filesystem;
    auto prompt = readPrompt(a.prompt, a.promptFile);
    if (!prompt)
        return fail(prompt.message());
    const fs::path outDir(a.out);
    const fs::path manifestPath = outDir / "maps.json";
    if (fs::exists(manifestPath) && !a.force)
        return fail(manifestPath.string() + " already exists; choose another --out or pass --force to overwrite");

    auto model = loadModel(a.dir, a.run);
    if (!model)
        return fail(model.message());
    Model& m = **model;
    const ModelConfig& config = m.config();
    auto layers = parseIndexList(a.layers, config.nLayers, "layers");
    auto heads = parseIndexList(a.heads, config.nHeads, "heads");
    auto kinds = parseKinds(a.maps, config, a.logits);
    if (!layers || !heads || !kinds)
        return fail(!layers ? layers.message() : !heads ? heads.message() : kinds.message());

    std::error_code ec;
    fs::create_directories(outDir, ec);
    if (ec)
        return fail("cannot create " + outDir.string() + ": " + ec.message());

    const std::vector<int64_t> tokens = m.tokenizer().encode(*prompt);
    const auto start = std::chrono::steady_clock::now();
    nlohmann::json files = nlohmann::json::array();
    std::vector<double> lambda;
    // Layers are captured in groups whose maps fit a host-memory budget: one forward pass when they
    // all fit, one per layer at worst (each capture reruns the forward pass).
    const double bytesPerLayer = 4.0 * static_cast<double>(heads->size() * kinds->size())
        * static_cast<double>(tokens.size()) * static_cast<double>(tokens.size());
    const size_t layersPerCapture
        = std::max<size_t>(1, static_cast<size_t>(kMapBudgetBytes / std::max(1.0, bytesPerLayer)));
    for (size_t first = 0; first < layers->size(); first += layersPerCapture) {
        CaptureRequest request {tokens, {}, *kinds};
        for (size_t i = first; i < std::min(layers->size(), first + layersPerCapture); ++i)
            for (int64_t head : *heads)
                request.heads.push_back({(*layers)[i], head});
        auto result = m.capture(request);
        if (!result)
            return fail(result.message());
        lambda = result->lambda;
        for (const AttentionMap& map : result->maps) {
            const std::string name = mapFileName(map);
            if (Status s = writeNpyFloat32((outDir / name).string(), map.values.data(), {map.rows, map.cols}); !s)
                return fail(s.message());
            files.push_back({{"file", name}, {"layer", map.layer}, {"head", map.head}, {"kind", toString(map.kind)},
                {"shape", {map.rows, map.cols}}});
        }
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    nlohmann::json manifest;
    manifest["attnscope_version"] = ATTNSCOPE_VERSION;
    manifest["model"] = {{"path", fs::absolute(a.dir).string()}, {"sha256", m.weightsHash()},
        {"attention", toString(config.attention)}, {"position", toString(config.position)}};
    manifest["prompt"] = *prompt;
    manifest["tokens"] = tokens;
    nlohmann::json display = nlohmann::json::array();
    for (int64_t id : tokens)
        display.push_back(m.tokenizer().display(id));
    manifest["display"] = display;
    manifest["lambda"] = lambda;
    manifest["device"] = m.deviceName();
    manifest["dtype"] = toString(m.dtype());
    manifest["layout"] = "float32 C order, row = query token, column = key token, NaN = masked (future)";
    manifest["maps"] = files;
    manifest["seconds"] = seconds;
    if (Status s = writeFileAtomic(manifestPath.string(), manifest.dump(2) + "\n"); !s)
        return fail(s.message());
    std::cout << "wrote " << files.size() << " maps for " << tokens.size() << " tokens to " << outDir.string() << " in "
              << seconds << " s\n";
    return 0;
}

} // namespace

void registerMaps(CLI::App& app, int& exitCode)
{
    auto args = std::make_shared<MapsArgs>();
    CLI::App* cmd = app.add_subcommand("maps", "run a prompt and write attention maps as .npy + maps.json");
    cmd->add_option("DIR", args->dir, "model directory")->required();
    cmd->add_option("--prompt", args->prompt, "prompt text");
    cmd->add_option("--prompt-file", args->promptFile, "file holding the prompt");
    cmd->add_option("--layers", args->layers, "all or a list like 0,2")->capture_default_str();
    cmd->add_option("--heads", args->heads, "all or a list like 0,1")->capture_default_str();
    cmd->add_option("--maps", args->maps, "all or a list like A1,A2,D")->capture_default_str();
    cmd->add_flag("--logits", args->logits, "with --maps all, also write the pre-softmax logits (S, S1, S2)");
    cmd->add_option("--out", args->out, "output directory")->required();
    cmd->add_flag("--force", args->force, "overwrite an existing maps.json in --out");
    args->run.addTo(*cmd);
    cmd->callback([args, &exitCode] { exitCode = runMaps(*args); });
}

} // namespace attn::cli
