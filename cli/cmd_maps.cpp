// SPDX-License-Identifier: GPL-3.0-or-later
// attnscope-cli maps: run a prompt and write every requested map as float32 .npy plus maps.json.
#include "cli_common.h"
#include "model_facts.h"

#include "attnscope/export.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <sstream>

#include <signal.h>
#include <unistd.h>

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
    if (kinds.empty()) // "--maps ''" would write a bundle with nothing in it
        return Status::error("--maps: name at least one map kind (e.g. A or D), or all");
    return kinds;
}

/// A count of at least 1 (CLI11's PositiveNumber would print the largest double, 309 digits, as its bound).
CLI::Validator atLeastOne()
{
    return CLI::Validator(
        [](std::string& text) {
            char* end = nullptr;
            errno = 0;
            const long long value = std::strtoll(text.c_str(), &end, 10);
            if (end == text.c_str() || *end != '\0' || errno == ERANGE || value < 1)
                return std::string("must be a whole number of at least 1, not '") + text.substr(0, 40) + "'";
            return std::string();
        },
        "INT >= 1");
}

/**
 * SIGINT, SIGTERM and SIGHUP stop a run cleanly, and the output folder stays as it was. While the model loads
 * (not cancellable) the staging folder is still empty: the handler removes it (rmdir is async-signal-safe) and
 * lets the signal take its default action. Once maps are being computed and written, the handler only sets a
 * flag, which cancels the capture (checked between layers) and the write loop; the staging folder is then removed
 * and the signal re-raised with its default action, so the exit status still says what stopped the run.
 */
std::atomic<int> g_stopSignal {0};
std::atomic<bool> g_stopFlag {false};
std::atomic<bool> g_stagingEmpty {false};
char g_emptyStaging[4096] = {};

extern "C" void onStopSignal(int signal)
{
    if (g_stagingEmpty.load()) {
        ::rmdir(g_emptyStaging);
        ::signal(signal, SIG_DFL); // delivered again, with its default action, once this handler returns
        ::raise(signal);
        return;
    }
    g_stopSignal.store(signal);
    g_stopFlag.store(true);
}

class StopSignals {
public:
    StopSignals()
    {
        struct sigaction action { };
        action.sa_handler = onStopSignal;
        sigemptyset(&action.sa_mask);
        for (size_t i = 0; i < kSignals.size(); ++i)
            ::sigaction(kSignals[i], &action, &m_previous[i]);
    }
    ~StopSignals()
    {
        g_stagingEmpty.store(false);
        for (size_t i = 0; i < kSignals.size(); ++i)
            ::sigaction(kSignals[i], &m_previous[i], nullptr);
    }
    StopSignals(const StopSignals&) = delete;
    StopSignals& operator=(const StopSignals&) = delete;
    bool stopped() const { return g_stopFlag.load(); }
    /// Until writesBegin(), a signal removes this (empty) folder and ends the process at once.
    void guardEmptyFolder(const std::string& path)
    {
        if (path.size() >= sizeof g_emptyStaging)
            return; // too long to keep: the next run removes it if a signal leaves it behind
        std::copy(path.begin(), path.end(), g_emptyStaging);
        g_emptyStaging[path.size()] = '\0';
        g_stagingEmpty.store(true);
    }
    /// From here on a signal sets the flag and the run cleans up itself.
    void writesBegin() { g_stagingEmpty.store(false); }
    const std::atomic<bool>* flag() const { return &g_stopFlag; }
    /// After cleaning up: die of the signal that asked for it, as if it had not been caught.
    [[noreturn]] void reraise()
    {
        const int signal = g_stopSignal.load();
        struct sigaction action { };
        action.sa_handler = SIG_DFL;
        sigemptyset(&action.sa_mask);
        ::sigaction(signal, &action, nullptr);
        ::raise(signal);
        std::_Exit(128 + signal);
    }

private:
    static constexpr std::array<int, 3> kSignals {SIGINT, SIGTERM, SIGHUP};
    std::array<struct sigaction, 3> m_previous {};
};

Provenance bundleProvenance(MapsModel& m, const std::string& prompt, const std::vector<int64_t>& tokens,
    const std::vector<std::string>& tokenDisplay, const MapRegion& region)
{
    namespace fs = std::filesystem;
    Provenance p;
    p.modelPath = m.path(); // where the model ran: here, or on the server
    p.modelName = fs::path(m.path()).lexically_normal().filename().string();
    p.modelFormat = m.format();
    p.weightsSha256 = m.sha256();
    p.attention = toString(m.config().attention);
    p.position = toString(m.config().position);
    p.device = m.device();
    p.dtype = m.dtype();
    p.prompt = prompt;
    p.tokens = tokens;
    p.tokenDisplay = tokenDisplay;
    p.region = regionText(region);
    p.frontEnd = std::string("attnscope-cli ") + ATTNSCOPE_VERSION;
    return p;
}

int runMaps(const MapsArgs& a)
{
    auto prompt = readPrompt(a.prompt, a.promptFile);
    if (!prompt)
        return fail(prompt.message());
    // Fails fast on an existing bundle (without --force) or a folder holding other files, before the model
    // loads; the writer checks again when it swaps the new bundle in.
    StopSignals signals;
    auto writer = MapsBundleWriter::begin(a.out, {a.force});
    if (!writer)
        return fail("--out: " + writer.message());
    signals.guardEmptyFolder((*writer)->stagingFolder());

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

    const auto start = std::chrono::steady_clock::now();
    signals.writesBegin();
    auto lambda = m.run(tokens, *layers, *heads, *kinds, *region, a.tile, signals.flag(),
        [&](const AttentionMap& map) { return signals.stopped() ? Status::cancelled() : (*writer)->add(map); });
    if (signals.stopped()) {
        writer->reset(); // removes the staging folder; --out stays as it was
        signals.reraise();
    }
    if (!lambda)
        return fail(lambda.message());
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    Provenance provenance = bundleProvenance(m, *prompt, tokens, tokenDisplay, *region);
    provenance.lambdaPerLayer = *lambda;
    const size_t written = (*writer)->mapCount();
    if (Status s = (*writer)->commit(provenance, seconds); !s)
        return fail(s.message());
    if (signals.stopped()) { // the bundle is complete and in place; stop as asked
        writer->reset();
        signals.reraise();
    }
    std::cout << "wrote " << written << " maps (" << regionText(*region) << ") for " << tokens.size() << " tokens to "
              << a.out << " in " << seconds << " s\n";
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
    cmd->add_option("--out", args->out, "output directory")
        ->required()
        ->check(CLI::Validator(
            [](std::string& text) { return text.empty() ? std::string("must name a folder") : std::string(); }, ""));
    cmd->add_flag("--force", args->force, "overwrite an existing maps.json in --out");
    cmd->add_option("--overview", args->overview,
           "reduce each map to at most R x R cells on the device (pooling blocks of ceil(N/R) tokens)")
        ->check(atLeastOne());
    cmd->add_option("--pool", args->pool, "overview pooling: max (keeps one-token spikes) or mean")
        ->capture_default_str();
    cmd->add_option("--window", args->window, "exact values of queries q0:q1 x keys k0:k1 only (end exclusive)");
    cmd->add_option("--tile", args->tile, "query rows per score tile (default: from a memory budget)")
        ->check(atLeastOne());
    args->run.addTo(*cmd);
    args->server.addTo(*cmd);
    cmd->callback([args, &exitCode] { exitCode = runMaps(*args); });
}

} // namespace attn::cli
