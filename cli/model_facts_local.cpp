// SPDX-License-Identifier: GPL-3.0-or-later
// MapsModel and InfoFacts for a model opened in this process.
#include "model_facts.h"

#include "attnscope/model_format.h"

#include <algorithm>
#include <filesystem>

namespace attn::cli {

namespace {

constexpr double kMapBudgetBytes = 1024.0 * 1024.0 * 1024.0;

class LocalMapsModel final : public MapsModel {
public:
    LocalMapsModel(std::unique_ptr<Model> model, std::string dir)
        : m_model(std::move(model))
        , m_dir(std::move(dir))
    {
    }
    const ModelConfig& config() const override { return m_model->config(); }
    Status encode(const std::string& prompt, std::vector<int64_t>& ids, std::vector<std::string>& display) override
    {
        auto encoded = m_model->tokenizer().encodeChecked(prompt);
        if (!encoded)
            return encoded.status();
        ids = encoded->ids;
        display.clear();
        for (int64_t id : ids)
            display.push_back(m_model->tokenizer().display(id));
        return Status::ok();
    }
    Result<std::vector<double>> run(const std::vector<int64_t>& tokens, const std::vector<int64_t>& layers,
        const std::vector<int64_t>& heads, const std::vector<MapKind>& kinds, const MapRegion& region, int64_t tile,
        const std::atomic<bool>* cancel, const std::function<Status(const AttentionMap&)>& onMap) override
    {
        std::vector<double> lambda;
        // Layers are captured in groups whose maps fit a host-memory budget: one forward pass when they
        // all fit, one per layer at worst (each capture reruns the forward pass).
        CaptureRequest oneLayer {tokens, {}, kinds, region, tile};
        for (int64_t head : heads)
            oneLayer.heads.push_back({layers.front(), head});
        auto perLayer = m_model->estimateMemory(oneLayer);
        if (!perLayer)
            return perLayer.status();
        const size_t layersPerCapture = std::max<size_t>(
            1, static_cast<size_t>(kMapBudgetBytes / std::max(1.0, static_cast<double>(perLayer->hostMapBytes))));
        for (size_t first = 0; first < layers.size(); first += layersPerCapture) {
            CaptureRequest request {tokens, {}, kinds, region, tile};
            for (size_t i = first; i < std::min(layers.size(), first + layersPerCapture); ++i)
                for (int64_t head : heads)
                    request.heads.push_back({layers[i], head});
            RunControl control;
            control.cancel = cancel;
            auto result = m_model->capture(request, control);
            if (!result)
                return result.status();
            lambda = result->lambda;
            for (const AttentionMap& map : result->maps)
                if (Status s = onMap(map); !s)
                    return s;
        }
        return lambda;
    }
    std::string path() const override { return std::filesystem::absolute(m_dir).string(); }
    std::string format() const override { return m_model->format(); }
    std::string sha256() override { return m_model->weightsHash(); }
    std::string device() const override { return m_model->deviceName(); }
    std::string dtype() const override { return toString(m_model->dtype()); }

private:
    std::unique_ptr<Model> m_model;
    std::string m_dir;
};

} // namespace

Result<std::unique_ptr<MapsModel>> openLocalMapsModel(const std::string& dir, const RunOptions& run)
{
    auto model = loadModel(dir, run);
    if (!model)
        return model.status();
    return std::unique_ptr<MapsModel>(new LocalMapsModel(std::move(*model), dir));
}

InfoFacts localInfoFacts(const Model& model)
{
    InfoFacts facts;
    facts.format = model.format();
    facts.description = model.description();
    facts.config = model.config();
    facts.configJson = configToJson(model.config());
    facts.parameters = model.parameterCount();
    facts.sha256 = model.weightsHash();
    facts.tensors = model.tensorInfos();
    return facts;
}

void ServerArgs::addTo(CLI::App& command)
{
    command.add_option("--server", server,
        "HOST:PORT of an attnscope-server: run there (MODEL is a path on the server; token from ATTNSCOPE_TOKEN or "
        "--token-file)");
    command.add_option("--token-file", tokenFile, "with --server: file whose first line is the server's token");
    command.add_option("--tls-ca", tlsCa, "with --server: PEM certificate to trust for the server's TLS");
}

} // namespace attn::cli
