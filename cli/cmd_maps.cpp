// SPDX-License-Identifier: GPL-3.0-or-later
// attnscope-cli maps: run a prompt and write every requested map as float32 .npy plus maps.json.
#include "cli_common.h"
#include "model_facts.h"

#include "attnscope/fileio.h"
#include "attnscope/npy.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>

namespace attn::cli {

namespace {

struct MapsArgs {
    std::string dir, prompt, promptFile, out;
    std::string layers = "all", heads = "all", maps = "all";
    bool logits = false;
    bool force = false;
    int64_t overview = 0;
    std::string pool = "max";
    std::string window;
    int64_t tile = 0;
    RunOptions run;
    ServerArgs server;
};

/// "q0:q1,k0:k1" (half-open token ranges) -> a window region.
Result<MapRegion> parseWindow(const std::string& text)
{
    long long q0 = 0, q1 = 0, k0 = 0, k1 = 0;
    char tail = 0;
    if (std::sscanf(text.c_str(), "%lld:%lld,%lld:%lld%c", &q0, &q1, &k0, &k1, &tail) != 4)
        return Status::error(
            "--window: expected q0:q1,k0:k1 (query and key token ranges, end exclusive), got '" + text + "'");
    return MapRegion::window(q0, q1, k0, k1);
}

Result<MapRegion> parseRegion(const MapsArgs& a)
{
    if (a.overview != 0 && !a.window.empty())
        return Status::error("--overview and --window are exclusive: ask for one region per run");
    if (!a.window.empty())
        return parseWindow(a.window);
    auto pool = parsePoolMode(a.pool);
    if (!pool)
        return Status::error("--pool: " + pool.message());
    if (a.overview != 0)
        return MapRegion::overview(a.overview, *pool);
    return MapRegion::full();
}

std::string regionText(const MapRegion& r)
{
    switch (r.mode) {
    case MapRegion::Mode::Overview:
        return "overview " + std::to_string(r.overviewSize) + " " + toString(r.pool);
    case MapRegion::Mode::Window:
        return "window " + std::to_string(r.rowBegin) + ":" + std::to_string(r.rowEnd) + ","
            + std::to_string(r.colBegin) + ":" + std::to_string(r.colEnd);
    case MapRegion::Mode::Full:
        break;
    }
    return "full";
}

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

    auto model = a.server.active() ? openRemoteMapsModel(a.server, a.dir, a.run) : openLocalMapsModel(a.dir, a.run);
    if (!model)
        return fail(model.message());
    MapsModel& m = **model;
    const ModelConfig& config = m.config();
    auto layers = parseIndexList(a.layers, config.nLayers, "layers");
    auto heads = parseIndexList(a.heads, config.nHeads, "heads");
    auto kinds = parseKinds(a.maps, config, a.logits);
    if (!layers || !heads || !kinds)
        return fail(!layers ? layers.message() : !heads ? heads.message() : kinds.message());
    auto region = parseRegion(a);
    if (!region)
        return fail(region.message());

    std::vector<int64_t> tokens;
    std::vector<std::string> tokenDisplay;
    if (Status s = m.encode(*prompt, tokens, tokenDisplay); !s)
        return fail("the prompt: " + s.message());
    std::error_code ec;
    fs::create_directories(outDir, ec);
    if (ec)
        return fail("cannot create " + outDir.string() + ": " + ec.message());

    const auto start = std::chrono::steady_clock::now();
    nlohmann::json files = nlohmann::json::array();
    auto lambda = m.run(tokens, *layers, *heads, *kinds, *region, a.tile, [&](const AttentionMap& map) {
        const std::string name = mapFileName(map);
        if (Status s = writeNpyFloat32((outDir / name).string(), map.values.data(), {map.rows, map.cols}); !s)
            return s;
        files.push_back({{"file", name}, {"layer", map.layer}, {"head", map.head}, {"kind", toString(map.kind)},
            {"shape", {map.rows, map.cols}}, {"first_query", map.rowBegin}, {"first_key", map.colBegin},
            {"block", {map.rowBlock, map.colBlock}}});
        return Status::ok();
    });
    if (!lambda)
        return fail(lambda.message());
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    nlohmann::json manifest;
    manifest["attnscope_version"] = ATTNSCOPE_VERSION;
    manifest["model"] = {{"path", m.path()}, {"sha256", m.sha256()}, {"attention", toString(config.attention)},
        {"position", toString(config.position)}};
    manifest["prompt"] = *prompt;
    manifest["tokens"] = tokens;
    manifest["display"] = tokenDisplay;
    manifest["lambda"] = *lambda;
    manifest["device"] = m.device();
    manifest["dtype"] = m.dtype();
    manifest["region"] = regionText(*region);
    manifest["layout"] = "float32 C order, row = query token, column = key token, NaN = masked (future); cell (r, c) "
                         "covers queries first_query + r*block[0] .. +block[0] and keys first_key + c*block[1] .. "
                         "+block[1] (block 1 = exact values; >1 = a pooled overview)";
    manifest["maps"] = files;
    manifest["seconds"] = seconds;
    if (Status s = writeFileAtomic(manifestPath.string(), manifest.dump(2) + "\n"); !s)
        return fail(s.message());
    std::cout << "wrote " << files.size() << " maps (" << regionText(*region) << ") for " << tokens.size()
              << " tokens to " << outDir.string() << " in " << seconds << " s\n";
    return 0;
}

} // namespace

void registerMaps(CLI::App& app, int& exitCode)
{
    auto args = std::make_shared<MapsArgs>();
    CLI::App* cmd = app.add_subcommand("maps", "run a prompt and write attention maps as .npy + maps.json");
    cmd->add_option("MODEL", args->dir, "model folder (attnscope or Hugging Face) or checkpoint file")->required();
    cmd->add_option("--prompt", args->prompt, "prompt text");
    cmd->add_option("--prompt-file", args->promptFile, "file holding the prompt");
    cmd->add_option("--layers", args->layers, "all or a list like 0,2")->capture_default_str();
    cmd->add_option("--heads", args->heads, "all or a list like 0,1")->capture_default_str();
    cmd->add_option("--maps", args->maps, "all or a list like A1,A2,D")->capture_default_str();
    cmd->add_flag("--logits", args->logits, "with --maps all, also write the pre-softmax logits (S, S1, S2)");
    cmd->add_option("--out", args->out, "output directory")->required();
    cmd->add_flag("--force", args->force, "overwrite an existing maps.json in --out");
    cmd->add_option("--overview", args->overview,
           "reduce each map to at most R x R cells on the device (pooling blocks of ceil(N/R) tokens)")
        ->check(CLI::PositiveNumber);
    cmd->add_option("--pool", args->pool, "overview pooling: max (keeps one-token spikes) or mean")
        ->capture_default_str();
    cmd->add_option("--window", args->window, "exact values of queries q0:q1 x keys k0:k1 only (end exclusive)");
    cmd->add_option("--tile", args->tile, "query rows per score tile (default: from a memory budget)")
        ->check(CLI::PositiveNumber);
    args->run.addTo(*cmd);
    args->server.addTo(*cmd);
    cmd->callback([args, &exitCode] { exitCode = runMaps(*args); });
}

} // namespace attn::cli
