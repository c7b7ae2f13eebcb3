// SPDX-License-Identifier: GPL-3.0-or-later
// attnscope-remote-bench: what one Analyze request costs over the wire. Loads MODEL on a running attnscope-server,
// sends random token ids, asks for every head of every layer as an overview, and reports the bytes received (the
// serialized messages), the message count, the time to the first LayerResult and to the end. With --as-app it sends
// what the desktop app sends instead: a new prompt (layer 0 head 0's maps of every kind, full up to the app's full-map
// limit and a 1024² overview above, every head's metrics and 48² thumbnails), then a head switch on the kept prompt.
#include "attnscope/maps.h"
#include "attnscope/remote/remote_client.h"

#include <CLI/CLI.hpp>

#include <chrono>
#include <iomanip>
#include <iostream>
#include <random>
#include <sstream>

int main(int argc, char** argv)
{
    std::string server = "127.0.0.1:50051", model, tokenFile, device = "auto", kind = "A";
    std::vector<int64_t> lengths {2048, 8192};
    int64_t overview = 1024;
    bool float16 = false;
    bool firstLayerOnly = false;
    bool asApp = false;
    CLI::App app("attnscope-remote-bench: bytes and time to first LayerResult of an Analyze request");
    app.add_option("--server", server, "HOST:PORT")->capture_default_str();
    app.add_option("MODEL", model, "model path on the server")->required();
    app.add_option("--tokens", lengths, "prompt lengths (random ids)")->delimiter(',');
    app.add_option("--overview", overview, "overview size R")->capture_default_str();
    app.add_option("--kind", kind, "map kind of every head")->capture_default_str();
    app.add_flag("--float16", float16, "maps as float16");
    app.add_flag("--first-layer-only", firstLayerOnly,
        "cancel after the first LayerResult (time to first pixels on a slow machine; bytes then cover started + one "
        "layer)");
    app.add_flag("--as-app", asApp,
        "the app's requests: a new prompt (one head's maps, every head's metrics and thumbnails), then a head switch");
    app.add_option("--device", device, "device on the server")->capture_default_str();
    app.add_option("--token-file", tokenFile, "the server's token (else ATTNSCOPE_TOKEN)");
    CLI11_PARSE(app, argc, argv);

    auto token = attn::remote::readClientToken(tokenFile);
    if (!token) {
        std::cerr << "attnscope-remote-bench: " << token.message() << "\n";
        return 1;
    }
    attn::remote::ConnectOptions options;
    options.target = server;
    options.token = *token;
    options.maxMessageBytes = 2047ll << 20;
    auto client = attn::remote::RemoteClient::connect(options);
    if (!client) {
        std::cerr << "attnscope-remote-bench: " << client.message() << "\n";
        return 1;
    }
    auto loaded = (*client)->load(model, device);
    if (!loaded) {
        std::cerr << "attnscope-remote-bench: " << loaded.message() << "\n";
        return 1;
    }
    auto mapKind = attn::parseMapKind(kind);
    if (!mapKind) {
        std::cerr << "attnscope-remote-bench: --kind: " << mapKind.message() << "\n";
        return 1;
    }
    const attn::ModelConfig& config = loaded->model.config;
    std::cout << "model " << model << " (" << config.nLayers << " layers x " << config.nHeads << " heads) on "
              << loaded->model.device << ", overview " << overview << ", " << (float16 ? "float16" : "float32") << "\n";
    std::cout << "tokens  request  bytes_received  MiB  messages  first_layer_s  total_s\n";
    for (int64_t n : lengths) {
        std::vector<int64_t> tokens;
        std::mt19937 rng(1);
        for (int64_t i = 0; i < n; ++i)
            tokens.push_back(
                static_cast<int64_t>(rng() % static_cast<uint32_t>(std::min<int64_t>(config.vocabSize, 30000))));
        // One request as the app's (asApp) or every head of every layer as an overview.
        auto makeRequest = [&](int64_t head, bool newPrompt) {
            attn::AnalysisRequest request;
            request.modelId = loaded->model.id;
            request.tokens = tokens;
            if (asApp) {
                request.kinds = attn::availableMapKinds(config, /*includeLogits=*/false);
                request.heads = {{0, head}};
                request.region
                    = n > attn::kInteractiveFullMapTokens ? attn::MapRegion::overview(1024) : attn::MapRegion::full();
                request.metrics = newPrompt;
                request.thumbnailSize = newPrompt ? 48 : 0;
            } else {
                request.kinds = {*mapKind};
                request.region = attn::MapRegion::overview(overview);
                for (int64_t layer = 0; layer < config.nLayers; ++layer)
                    for (int64_t h = 0; h < config.nHeads; ++h)
                        request.heads.push_back({layer, h});
            }
            return request;
        };
        std::vector<std::pair<std::string, attn::AnalysisRequest>> requests {{"prompt", makeRequest(0, true)}};
        if (asApp)
            requests.push_back({"switch", makeRequest(1, false)});
        for (auto& [what, request] : requests) {
            attn::remote::AnalyzeStats stats;
            attn::AnalysisSink sink;
            attn::CancelToken stop;
            const auto start = std::chrono::steady_clock::now();
            int64_t layersSeen = 0;
            sink.layer = [&](attn::LayerResult layer) {
                const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
                std::cerr << "  layer " << layer.layer << " at " << t << " s (" << layer.maps.size() << " maps)"
                          << std::endl;
                if (++layersSeen == 1 && firstLayerOnly)
                    stop.cancel();
            };
            attn::Status status = (*client)->analyze(request, float16, sink, stop, &stats);
            if (firstLayerOnly && status.isCancelled())
                status = attn::Status::ok();
            if (!status) {
                std::cerr << "attnscope-remote-bench: " << n << " tokens, " << what << ": " << status.message() << "\n";
                return 1;
            }
            std::cout << std::setw(6) << n << "  " << std::setw(7) << what << "  " << std::setw(14)
                      << stats.bytesReceived << "  " << std::setw(6) << std::fixed << std::setprecision(1)
                      << stats.bytesReceived / 1048576.0 << "  " << std::setw(8) << stats.messages << "  "
                      << std::setw(13) << std::setprecision(3) << stats.secondsToFirstLayer << "  " << std::setw(7)
                      << stats.seconds << std::endl;
        }
    }
    (*client)->unload(loaded->model.id);
    return 0;
}
