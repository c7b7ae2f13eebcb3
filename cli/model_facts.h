// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// What `info` and `maps` need from a model, wherever it runs: opened here (a Model) or on an attnscope-server
// (--server). Both commands write the same output from these, so a remote run's files equal a local run's.

#include "cli_common.h"

#include "attnscope/maps.h"
#include "attnscope/safetensors.h"

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace attn::cli {

/// --server HOST:PORT, --token-file F, --tls-ca F: run on an attnscope-server (MODEL is a path there).
struct ServerArgs {
    std::string server;
    std::string tokenFile;
    std::string tlsCa;
    void addTo(CLI::App& command);
    bool active() const { return !server.empty(); }
};

/// What `info` prints.
struct InfoFacts {
    std::string format;
    std::vector<std::pair<std::string, std::string>> description;
    ModelConfig config;
    std::string configJson; ///< configToJson as computed where the model is
    int64_t parameters = 0;
    std::string sha256;
    std::vector<TensorInfo> tensors;
    /// Where the parts were placed (--devices / --device-map; empty: not asked, nothing printed).
    std::vector<std::string> deviceMapLines;
    std::string deviceMapJson;
};

/// A model that `maps` runs.
class MapsModel {
public:
    virtual ~MapsModel() = default;
    virtual const ModelConfig& config() const = 0;
    /// The prompt's ids and each one's display string.
    virtual Status encode(const std::string& prompt, std::vector<int64_t>& ids, std::vector<std::string>& display) = 0;
    /**
     * @brief Computes the maps of (layer, head) for every layer in `layers` and head in `heads`, in `kinds`, and
     * hands each to onMap in that order (layers as listed, then heads, then kinds); returns λ per layer (DIFF).
     * Setting *cancel stops the run between layers; an error from onMap stops it too and is returned.
     */
    virtual Result<std::vector<double>> run(const std::vector<int64_t>& tokens, const std::vector<int64_t>& layers,
        const std::vector<int64_t>& heads, const std::vector<MapKind>& kinds, const MapRegion& region, int64_t tile,
        const std::atomic<bool>* cancel, const std::function<Status(const AttentionMap&)>& onMap)
        = 0;
    /// The model's path where it runs (absolute).
    virtual std::string path() const = 0;
    /// "attnscope", "huggingface" or "pytorch".
    virtual std::string format() const = 0;
    virtual std::string sha256() = 0;
    virtual std::string device() const = 0;
    virtual std::string dtype() const = 0;
};

Result<std::unique_ptr<MapsModel>> openLocalMapsModel(const std::string& dir, const RunOptions& run);
/// MODEL opened on the server (device and dtype as asked there); unloaded there when the object goes away.
Result<std::unique_ptr<MapsModel>> openRemoteMapsModel(
    const ServerArgs& server, const std::string& dir, const RunOptions& run);

InfoFacts localInfoFacts(const Model& model);
/// MODEL opened on the server's CPU, described, and closed again.
Result<InfoFacts> remoteInfoFacts(const ServerArgs& server, const std::string& dir);

} // namespace attn::cli
