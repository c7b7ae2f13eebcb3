// SPDX-License-Identifier: GPL-3.0-or-later
// attnscope-cli bench: long-context timings of the engine's paths (issue #5, docs/performance.md). For each
// model and prompt length: the forward pass, one head's overview, one layer's overviews, every layer's
// overviews, a 256 x 256 window, the naive path (full maps in one tile, pooled on the host) where it fits,
// peak memory, the matmul floor of the maps' FLOPs, and a head switch on the kept prompt state (what the app does
// when the user steps through heads: full maps up to kInteractiveFullMapTokens, overviews above).
// bench/eager_reference.py measures the PyTorch eager way on the same shapes; bench/run.sh runs both and prints the
// ratios.
#include "cli_common.h"

#include "attnscope/analysis.h"
#include "attnscope/fileio.h"
#include "attnscope/init.h"
#include "attnscope/model_format.h"
#include "attnscope/pooling.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <random>

namespace attn::cli {

namespace {

struct BenchArgs {
    std::vector<std::string> models; ///< model directories
    std::vector<std::string> shapes; ///< built-in random shapes
    std::vector<int64_t> tokens {512, 4096, 16384, 65536};
    int64_t layers = 0; ///< override the shapes' layer count (0 = as the paper)
    int64_t overview = 1024;
    int repeats = 3;
    int64_t tile = 0; ///< query tile of every capture (0 = the engine's choice from its memory budget)
    /// Which measurements to take: forward, head, layer, all, window, maps (naive has its own flag).
    std::vector<std::string> paths {"forward", "head", "layer", "all", "window", "maps", "switch"};
    bool naive = true;
    std::string work = "out/bench";
    std::string json;
    RunOptions run;
};

/// The DIFF paper's 3B shape (diff-attention.md 3): 28 layers, d_model 3072, SwiGLU 8192, heads of 128.
Result<ModelConfig> shapeConfig(const std::string& name, int64_t layers, int64_t maxTokens)
{
    ModelConfig c;
    c.vocabSize = ByteTokenizer::kVocabSize; // the paper's 100K vocabulary only adds an output matmul
    c.dModel = 3072;
    c.nLayers = layers > 0 ? layers : 28;
    c.headDim = 128;
    c.ffnHidden = 8192;
    c.maxSeqLen = std::max<int64_t>(maxTokens, 2);
    c.position = PositionKind::Rope;
    if (name == "diff-3b") {
        c.attention = AttentionKind::Diff;
        c.nHeads = c.nKvHeads = 12;
    } else if (name == "softmax-3b") {
        c.attention = AttentionKind::Softmax;
        c.nHeads = c.nKvHeads = 24;
    } else if (name == "cope-3b") {
        c.attention = AttentionKind::Softmax;
        c.position = PositionKind::Cope;
        c.nHeads = c.nKvHeads = 24;
        c.cope.npos = 64; // CoPE counts context units; the paper's npos is far below N
    } else {
        return Status::error("unknown shape '" + name + "' (known: diff-3b, softmax-3b, cope-3b)");
    }
    return c;
}

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
}

struct Timing {
    double seconds = -1.0; ///< median; -1 = did not run
    int64_t peakBytes = -1;
    std::string error;
};

/// Median wall time of `repeats` runs after one warm-up, and the peak memory across them.
template <typename F> Timing timeIt(const BenchArgs& a, const DeviceSpec& device, F&& f)
{
    Timing t;
    resetPeakMemory(device);
    if (Status s = f(); !s) {
        t.error = s.message();
        return t;
    }
    std::vector<double> samples;
    for (int i = 0; i < a.repeats; ++i) {
        const auto start = std::chrono::steady_clock::now();
        if (Status s = f(); !s) {
            t.error = s.message();
            return t;
        }
        samples.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    t.seconds = median(samples);
    t.peakBytes = peakMemoryBytes(device);
    return t;
}

nlohmann::json toJson(const Timing& t)
{
    nlohmann::json j;
    j["seconds"] = t.seconds < 0 ? nlohmann::json() : nlohmann::json(t.seconds);
    j["peak_bytes"] = t.peakBytes < 0 ? nlohmann::json() : nlohmann::json(t.peakBytes);
    if (!t.error.empty())
        j["error"] = t.error;
    return j;
}

std::string cell(const Timing& t)
{
    if (t.seconds < 0)
        return t.error.find("needs about") != std::string::npos || t.error.find("out of") != std::string::npos ? "OOM"
                                                                                                               : "-";
    char text[32];
    std::snprintf(text, sizeof text, "%.3f s", t.seconds);
    return text;
}

std::vector<MapKind> overviewKinds(const ModelConfig& c)
{
    std::vector<MapKind> kinds
        = c.isDiff() ? std::vector<MapKind> {MapKind::A1, MapKind::A2, MapKind::D} : std::vector<MapKind> {MapKind::A};
    if (c.hasCope())
        kinds.push_back(c.isDiff() ? MapKind::G1 : MapKind::G);
    return kinds;
}

nlohmann::json benchModel(const BenchArgs& a, Model& m, const std::string& name, const DeviceSpec& device, double flops)
{
    const ModelConfig& c = m.config();
    const int64_t layer = c.nLayers / 2;
    const std::vector<MapKind> kinds = overviewKinds(c);
    nlohmann::json rows = nlohmann::json::array();
    std::mt19937_64 rng(7);
    for (int64_t n : a.tokens) {
        if (n > c.maxSeqLen)
            continue;
        std::vector<int64_t> tokens(static_cast<size_t>(n));
        for (int64_t& t : tokens)
            t = static_cast<int64_t>(rng() % static_cast<uint64_t>(c.vocabSize)); // never time on one repeated token
        auto capture
            = [&](std::vector<HeadRef> heads, const std::vector<MapKind>& wanted, MapRegion region, int64_t tile) {
                  CaptureRequest r {tokens, std::move(heads), wanted, region, tile};
                  auto result = m.capture(r);
                  return result ? Status::ok() : result.status();
              };
        std::vector<HeadRef> layerHeads, allHeads;
        for (int64_t l = 0; l < c.nLayers; ++l)
            for (int64_t h = 0; h < c.nHeads; ++h) {
                allHeads.push_back({l, h});
                if (l == layer)
                    layerHeads.push_back({l, h});
            }
        const MapRegion overview = MapRegion::overview(a.overview, PoolMode::Max);
        const int64_t w = std::min<int64_t>(256, n);
        const MapRegion window = MapRegion::window(n - w, n, n / 2 - w / 2, n / 2 - w / 2 + w);
        std::cerr << name << " N=" << n << " ..." << std::endl;

        auto measure
            = [&](const char* path, std::vector<HeadRef> heads, MapRegion region, const std::vector<MapKind>& wanted) {
                  if (std::find(a.paths.begin(), a.paths.end(), path) == a.paths.end()) {
                      Timing skipped;
                      skipped.error = "skipped";
                      return skipped;
                  }
                  return timeIt(a, device, [&] { return capture(heads, wanted, region, a.tile); });
              };
        const Timing forward = measure("forward", {}, overview, kinds);
        const Timing head = measure("head", {{layer, 0}}, overview, kinds);
        const Timing layerAll = measure("layer", layerHeads, overview, kinds);
        const Timing every = measure("all", allHeads, overview, kinds);
        const Timing win = measure("window", {{layer, 0}}, window, kinds);
        // What the app's first screen and `maps --maps all` ask for: every kind of every head, exact while full
        // maps are allowed, overviews beyond.
        const Timing everyMap = measure("maps", allHeads, n <= kMaxFullMapTokens ? MapRegion::full() : overview,
            availableMapKinds(c, /*includeLogits=*/false));
        // A head switch: one pass with every head's numbers keeps the prompt state, then each timed run shows the
        // next head of the middle layer (never the same one twice in a row), as the app asks for it.
        Timing headSwitch;
        headSwitch.error = "skipped";
        if (std::find(a.paths.begin(), a.paths.end(), "switch") != a.paths.end()) {
            AnalysisRequest request;
            request.tokens = tokens;
            request.kinds = kinds;
            request.region = n <= kInteractiveFullMapTokens ? MapRegion::full() : overview;
            request.queryTile = a.tile;
            request.metrics = true;
            request.thumbnailSize = 48;
            request.heads = {{layer, 0}};
            m.forgetPrompt();
            if (auto first = m.analyze(request, {}); !first) {
                headSwitch.error = first.message();
            } else {
                request.metrics = false;
                request.thumbnailSize = 0;
                int64_t head = 0;
                headSwitch = timeIt(a, device, [&] {
                    m.forgetKeptMaps(); // times computing the head, not copying one computed before
                    head = (head + 1) % c.nHeads;
                    request.heads = {{layer, head}};
                    auto shown = m.analyze(request, {});
                    return shown ? Status::ok() : shown.status();
                });
            }
            m.forgetPrompt();
        }
        Timing naive;
        naive.error = "skipped";
        if (a.naive && n <= kMaxFullMapTokens)
            naive = timeIt(a, device, [&] {
                CaptureRequest r {tokens, {{layer, 0}}, kinds, MapRegion::full(), n}; // one tile: N x N at once
                auto result = m.capture(r);
                if (!result)
                    return result.status();
                for (const AttentionMap& map : result->maps)
                    (void)poolMap(map, a.overview, PoolMode::Max, isSignedMap(map.kind));
                return Status::ok();
            });

        // The floor: the maps' matrix products (2 N^2 d per softmax map) at the measured matmul rate.
        const double perMap = 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(c.headDim);
        const double mapsPerHead = c.isDiff() ? 2.0 : 1.0;
        auto floorOf = [&](double heads) { return flops > 0 ? heads * mapsPerHead * perMap / flops : -1.0; };
        nlohmann::json row;
        row["model"] = name;
        row["tokens"] = n;
        row["forward"] = toJson(forward);
        row["overview_head"] = toJson(head);
        row["overview_layer"] = toJson(layerAll);
        row["overview_all"] = toJson(every);
        row["window_256"] = toJson(win);
        row["naive_head"] = toJson(naive);
        row["every_map"] = toJson(everyMap);
        row["head_switch"] = toJson(headSwitch);
        row["floor_head_seconds"] = floorOf(1.0);
        row["floor_layer_seconds"] = floorOf(static_cast<double>(c.nHeads));
        row["floor_all_seconds"] = floorOf(static_cast<double>(c.nHeads * c.nLayers));
        rows.push_back(row);
        std::printf(
            "%-24s %6lld  fwd %10s  head %10s  layer %10s  all %10s  win %10s  naive %10s  maps %10s  switch %10s  "
            "peak %s\n",
            name.c_str(), static_cast<long long>(n), cell(forward).c_str(), cell(head).c_str(), cell(layerAll).c_str(),
            cell(every).c_str(), cell(win).c_str(), cell(naive).c_str(), cell(everyMap).c_str(),
            cell(headSwitch).c_str(),
            every.peakBytes < 0 ? "?" : formatBytes(static_cast<double>(every.peakBytes)).c_str());
        std::fflush(stdout);
    }
    return rows;
}

/// The bundled models were trained at 128 tokens; RoPE and CoPE run at any length, so the benchmark runs a copy
/// whose max_seq_len admits the longest prompt (same weights, linked). Learned positions cannot be stretched.
Result<std::string> stretchedCopy(const std::string& dir, const std::string& work, int64_t maxTokens)
{
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!fs::is_directory(dir, ec) || !fs::exists(fs::path(dir) / kConfigFileName, ec))
        return dir; // a checkpoint file: benchmarked as it is
    const Result<std::string> text = readFile((fs::path(dir) / kConfigFileName).string());
    if (text && text->find("\"attnscope-model\"") == std::string::npos)
        return dir; // a Hugging Face folder: RoPE models take any length already
    auto config = loadConfig((fs::path(dir) / kConfigFileName).string());
    if (!config)
        return config.status();
    if (config->maxSeqLen >= maxTokens || config->position == PositionKind::Learned)
        return dir;
    const fs::path copy = fs::path(work) / (fs::path(dir).filename().string() + "-stretched");
    fs::remove_all(copy, ec);
    fs::create_directories(copy, ec);
    for (const auto& entry : fs::directory_iterator(dir, ec))
        if (entry.path().filename() != kConfigFileName)
            fs::create_symlink(fs::absolute(entry.path()), copy / entry.path().filename(), ec);
    if (ec)
        return Status::error("cannot prepare " + copy.string() + ": " + ec.message());
    config->maxSeqLen = maxTokens;
    if (Status s = writeFileAtomic((copy / kConfigFileName).string(), configToJson(*config)); !s)
        return s;
    return copy.string();
}

int runBench(const BenchArgs& a)
{
    auto load = a.run.toLoadOptions();
    if (!load)
        return fail(load.message());
    if (a.models.empty() && a.shapes.empty())
        return fail("nothing to benchmark: give model directories and/or --shape diff-3b,softmax-3b,cope-3b");
    auto flops = matmulFlopsPerSecond(load->device, load->dtype);
    nlohmann::json out;
    out["attnscope_version"] = ATTNSCOPE_VERSION;
    out["torch"] = torchVersion();
    out["device"] = load->device.toString();
    out["dtype"] = toString(load->dtype);
    out["overview"] = a.overview;
    out["repeats"] = a.repeats;
    out["matmul_flops"] = flops ? *flops : -1.0;
    out["rows"] = nlohmann::json::array();
    std::printf("matmul rate %.2f TFLOP/s (%s, %s); times are medians of %d after a warm-up; each is a whole "
                "capture (forward pass included)\n",
        flops ? *flops / 1e12 : 0.0, load->device.toString().c_str(), toString(load->dtype).c_str(), a.repeats);

    std::vector<std::pair<std::string, std::string>> targets; // (name, directory)
    const int64_t maxTokens = *std::max_element(a.tokens.begin(), a.tokens.end());
    for (const std::string& dir : a.models) {
        auto stretched = stretchedCopy(dir, a.work, maxTokens);
        if (!stretched)
            return fail(stretched.message());
        targets.push_back({std::filesystem::path(dir).filename().string(), *stretched});
    }
    for (const std::string& shape : a.shapes) {
        auto config = shapeConfig(shape, a.layers, maxTokens);
        if (!config)
            return fail(config.message());
        const std::string dir = (std::filesystem::path(a.work) / shape).string();
        if (Status s = initRandomModel(dir, *config, 1, /*overwrite=*/true); !s)
            return fail(s.message());
        targets.push_back({shape + (a.layers > 0 ? "-L" + std::to_string(a.layers) : ""), dir});
    }
    for (const auto& [name, dir] : targets) {
        auto model = loadModel(dir, a.run);
        if (!model)
            return fail(model.message());
        for (auto& row : benchModel(a, **model, name, load->device, flops ? *flops : -1.0))
            out["rows"].push_back(row);
    }
    out["cpu_threads"] = cpuThreads(); // as the runs had it: loading a model sets it (configureCpuThreads)
    if (!a.json.empty())
        if (Status s = writeFileAtomic(a.json, out.dump(2) + "\n"); !s)
            return fail(s.message());
    return 0;
}

} // namespace

void registerBench(CLI::App& app, int& exitCode)
{
    auto args = std::make_shared<BenchArgs>();
    CLI::App* cmd = app.add_subcommand("bench", "time forward passes, overviews and windows at long contexts");
    cmd->add_option("MODELS", args->models, "model directories (e.g. resources/models/*)");
    cmd->add_option("--shape", args->shapes, "random models of the DIFF paper's 3B shape: diff-3b, softmax-3b, cope-3b")
        ->delimiter(',');
    cmd->add_option("--tokens", args->tokens, "prompt lengths")->delimiter(',')->capture_default_str();
    cmd->add_option("--layers", args->layers, "layer count of the --shape models (default: the paper's 28)");
    cmd->add_option("--overview", args->overview, "overview size R (R x R cells)")->capture_default_str();
    cmd->add_option("--repeats", args->repeats, "timed repeats per measurement (median)")->capture_default_str();
    cmd->add_flag("--naive,!--no-naive", args->naive, "also time the naive path (full maps in one tile)");
    cmd->add_option("--paths", args->paths,
           "measurements to take: forward, head, layer, all (overviews), window, maps (every kind of every head), "
           "switch (a head switch on the kept prompt)")
        ->delimiter(',')
        ->check(CLI::IsMember({"forward", "head", "layer", "all", "window", "maps", "switch"}))
        ->capture_default_str();
    cmd->add_option("--tile", args->tile, "query tile of every capture (default: from the memory budget)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--work", args->work, "where the --shape models are written")->capture_default_str();
    cmd->add_option("--json", args->json, "write every measurement here");
    args->run.addTo(*cmd);
    cmd->callback([args, &exitCode] { exitCode = runBench(*args); });
}

} // namespace attn::cli
