// SPDX-License-Identifier: GPL-3.0-or-later
// MapsModel and InfoFacts for a model on an attnscope-server (--server).
#include "model_facts.h"

#include "attnscope/remote/remote_client.h"

#include <map>

namespace attn::cli {

namespace {

Result<std::unique_ptr<remote::RemoteClient>> connectTo(const ServerArgs& server)
{
    auto token = remote::readClientToken(server.tokenFile);
    if (!token)
        return token.status();
    remote::ConnectOptions options;
    options.target = server.server;
    options.token = *token;
    options.tlsCaFile = server.tlsCa;
    return remote::RemoteClient::connect(options);
}

class RemoteMapsModel final : public MapsModel {
public:
    RemoteMapsModel(std::unique_ptr<remote::RemoteClient> client, remote::RemoteModel model)
        : m_client(std::move(client))
        , m_model(std::move(model))
    {
    }
    ~RemoteMapsModel() override { m_client->unload(m_model.model.id); }
    const ModelConfig& config() const override { return m_model.model.config; }
    Status encode(const std::string& prompt, std::vector<int64_t>& ids, std::vector<std::string>& display) override
    {
        auto tokens = m_client->tokenize(m_model.model.id, prompt);
        if (!tokens)
            return tokens.status();
        ids = tokens->encoding.ids;
        display = tokens->display;
        return Status::ok();
    }
    Result<std::vector<double>> run(const std::vector<int64_t>& tokens, const std::vector<int64_t>& layers,
        const std::vector<int64_t>& heads, const std::vector<MapKind>& kinds, const MapRegion& region, int64_t tile,
        const std::atomic<bool>* cancel, const std::function<Status(const AttentionMap&)>& onMap) override
    {
        AnalysisRequest request;
        request.stream = "cli";
        request.modelId = m_model.model.id;
        request.tokens = tokens;
        request.kinds = kinds;
        request.region = region;
        request.queryTile = tile;
        request.keepPromptState = false; // one request per run, like a local run
        for (int64_t layer : layers)
            for (int64_t head : heads)
                request.heads.push_back({layer, head});
        // Layers arrive in increasing order; hand them on in the order asked (as a local run writes them).
        std::map<int64_t, std::vector<AttentionMap>> pending;
        size_t next = 0;
        Status written = Status::ok();
        std::vector<double> lambda;
        auto flush = [&] {
            while (written && next < layers.size() && pending.count(layers[next])) {
                std::vector<AttentionMap>& maps = pending[layers[next]];
                for (int64_t head : heads)
                    for (MapKind kind : kinds)
                        for (const AttentionMap& map : maps)
                            if (written && map.head == head && map.kind == kind)
                                written = onMap(map);
                pending.erase(layers[next]);
                ++next;
            }
        };
        CancelToken stop;
        AnalysisSink sink;
        // A local stop request (Ctrl+C) ends the call at the next layer, which cancels the request on the server.
        sink.progress = [&](uint64_t, int64_t, int64_t) {
            if (cancel && cancel->load())
                stop.cancel();
        };
        sink.layer = [&](LayerResult layer) {
            pending[layer.layer] = std::move(layer.maps);
            flush();
            if (!written)
                stop.cancel(); // a map could not be written: stop the server's work too
        };
        sink.finished = [&](AnalysisSummary summary) { lambda = summary.lambda; };
        Status status = m_client->analyze(request, false, sink, stop);
        if (!written)
            return written;
        if (!status)
            return status;
        return lambda;
    }
    std::string path() const override { return m_model.model.path; }
    std::string format() const override { return m_model.model.format; }
    std::string sha256() override
    {
        if (m_model.sha256.empty())
            if (auto info = m_client->modelInfo(m_model.model.id, true))
                m_model.sha256 = info->sha256;
        return m_model.sha256;
    }
    std::string device() const override { return m_model.model.device; }
    std::string dtype() const override { return m_model.model.dtype; }

private:
    std::unique_ptr<remote::RemoteClient> m_client;
    remote::RemoteModel m_model;
};

} // namespace

Result<std::unique_ptr<MapsModel>> openRemoteMapsModel(
    const ServerArgs& server, const std::string& dir, const RunOptions& run)
{
    auto client = connectTo(server);
    if (!client)
        return client.status();
    if (!run.deviceMap.empty() && run.deviceMap != "balanced")
        return Status::error("--device-map places a local model; a server places its models as its own --devices and "
                             "--device-map say (--devices here asks it for a device list)");
    auto model = (*client)->load(dir, run.remoteDevice(), run.dtype);
    if (!model)
        return model.status();
    return std::unique_ptr<MapsModel>(new RemoteMapsModel(std::move(*client), std::move(*model)));
}

Result<InfoFacts> remoteInfoFacts(const ServerArgs& server, const std::string& dir)
{
    auto client = connectTo(server);
    if (!client)
        return client.status();
    auto loaded = (*client)->load(dir, "cpu", "fp32");
    if (!loaded)
        return loaded.status();
    auto info = (*client)->modelInfo(loaded->model.id, true);
    (*client)->unload(loaded->model.id);
    if (!info)
        return info.status();
    InfoFacts facts;
    facts.format = info->model.format;
    facts.description = info->model.description;
    facts.config = info->model.config;
    facts.configJson = info->configJson;
    facts.parameters = info->model.parameters;
    facts.sha256 = info->sha256;
    facts.tensors = info->tensors;
    return facts;
}

} // namespace attn::cli
