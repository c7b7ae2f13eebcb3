// SPDX-License-Identifier: GPL-3.0-or-later
#include "service.h"

#include "event_queue.h"
#include "model_listing.h"
#include "request_checks.h"
#include "wire_convert.h"
#include "wire_status.h"

#include "attnscope/dtype.h"
#include "attnscope/model_source.h"

#include <algorithm>
#include <chrono>
#include <future>
#include <iostream>

namespace attn::server {

Service::Service(const ServerSetup& setup)
    : m_guard(setup.allowedRoots)
    , m_token(setup.token)
    , m_maxMessageBytes(setup.maxMessageBytes)
    , m_devices(setup.devices)
    , m_strategy(setup.strategy)
    , m_deviceMapText(setup.deviceMapText)
{
}

Service::~Service() = default;

grpc::Status Service::refuse(grpc::ServerContext* context, const char* method, const grpc::Status& status) const
{
    std::cerr << "attnscope-server: " << context->peer() << " " << method << " refused: " << status.error_message()
              << std::endl;
    return status;
}

grpc::Status Service::authorize(grpc::ServerContext* context, const char* method) const
{
    if (!m_token.required())
        return grpc::Status::OK;
    const auto& metadata = context->client_metadata();
    const auto found = metadata.find("authorization");
    const std::string header
        = found == metadata.end() ? std::string() : std::string(found->second.data(), found->second.size());
    if (m_token.accepts(header))
        return grpc::Status::OK;
    return refuse(context, method,
        grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
            header.empty() ? "this server needs a token (authorization: Bearer TOKEN)" : "wrong token"));
}

bool Service::findModel(int modelId, ModelState& out) const
{
    std::lock_guard<std::mutex> lock(m_mutex);
    const auto it = m_models.find(modelId);
    if (it == m_models.end())
        return false;
    out = it->second;
    return true;
}

void Service::fillInfo(const ModelState& state, v1::ModelInfo* reply) const
{
    remote::toWire(state.model, reply);
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        const auto hash = m_hashes.find(state.model.id);
        if (hash != m_hashes.end())
            reply->set_sha256(hash->second);
    }
    for (const TensorInfo& t : state.tensors) {
        v1::TensorEntry* entry = reply->add_tensors();
        entry->set_name(t.name);
        entry->set_dtype(dtypeName(t.dtype));
        for (int64_t d : t.shape)
            entry->add_shape(d);
    }
}

grpc::Status Service::ListModels(grpc::ServerContext* context, const v1::ListModelsRequest*, v1::ListModelsReply* reply)
{
    if (grpc::Status s = authorize(context, "ListModels"); !s.ok())
        return s;
    for (const std::string& root : m_guard.roots())
        reply->add_roots(root);
    for (const ListedModel& listed : listModels(m_guard)) {
        v1::ModelEntry* entry = reply->add_models();
        entry->set_root(listed.root);
        entry->set_relative_path(listed.relativePath);
        entry->set_kind(listed.kind);
    }
    return grpc::Status::OK;
}

grpc::Status Service::Load(grpc::ServerContext* context, const v1::LoadRequest* request, v1::ModelInfo* reply)
{
    if (grpc::Status s = authorize(context, "Load"); !s.ok())
        return s;
    auto path = m_guard.resolve(request->path());
    if (!path)
        return refuse(context, "Load", remote::toGrpc(path.status()));
    LoadOptions options;
    // A client that names no device gets the server's placement (--devices / --device-map); one that names a device,
    // or a list of them ("cuda:0,cuda:1"), gets that.
    const bool serverPlaces = request->device().empty() || request->device() == "auto";
    auto devices = parseDeviceList(serverPlaces ? "auto" : request->device());
    auto dtype = parseComputeDType(request->dtype().empty() ? "fp32" : request->dtype());
    if (!devices || !dtype)
        return refuse(context, "Load",
            grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, !devices ? devices.message() : dtype.message()));
    options.device = devices->front();
    if (devices->size() > 1)
        options.devices = *devices;
    if (serverPlaces) {
        options.devices = m_devices;
        options.strategy = m_strategy;
        options.deviceMap = m_deviceMapText;
    }
    options.dtype = *dtype;

    auto outcome = std::make_shared<std::promise<Result<LoadedModel>>>();
    LoadSink sink;
    sink.loaded = [outcome](uint64_t, LoadedModel model) { outcome->set_value(std::move(model)); };
    sink.failed = [outcome](uint64_t, Status status) { outcome->set_value(std::move(status)); };
    sink.hashed = [this](int modelId, std::string sha256) {
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            m_hashes[modelId] = std::move(sha256);
        }
        m_hashed.notify_all();
    };
    m_engine.load(*path, options, std::move(sink));
    Result<LoadedModel> loaded = outcome->get_future().get();
    if (!loaded)
        return remote::toGrpc(loaded.status());

    ModelState state;
    state.model = std::move(*loaded);
    state.owner = context->peer();
    // The stored tensors' names and shapes for `info` (LoadedModel does not carry them): the headers again.
    if (auto source = openModelSource(*path)) {
        for (const StoredTensor& t : (*source)->stored)
            state.tensors.push_back({t.name, t.dtype, t.shape, 0, 0});
    }
    std::cerr << "attnscope-server: " << context->peer() << " loaded " << *path << " as model " << state.model.id
              << " on " << state.model.device << std::endl;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_models[state.model.id] = state;
    }
    fillInfo(state, reply);
    return grpc::Status::OK;
}

grpc::Status Service::Unload(grpc::ServerContext* context, const v1::UnloadRequest* request, v1::UnloadReply*)
{
    if (grpc::Status s = authorize(context, "Unload"); !s.ok())
        return s;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        const auto model = m_models.find(request->model_id());
        if (model == m_models.end())
            return grpc::Status(grpc::StatusCode::NOT_FOUND, "no model " + std::to_string(request->model_id()));
        if (model->second.owner != context->peer())
            return refuse(context, "Unload",
                grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                    "model " + std::to_string(request->model_id()) + " was opened by another client"));
        m_models.erase(model);
        m_hashes.erase(request->model_id());
    }
    m_engine.unload(request->model_id());
    return grpc::Status::OK;
}

grpc::Status Service::GetModelInfo(
    grpc::ServerContext* context, const v1::ModelInfoRequest* request, v1::ModelInfo* reply)
{
    if (grpc::Status s = authorize(context, "GetModelInfo"); !s.ok())
        return s;
    ModelState state;
    if (!findModel(request->model_id(), state))
        return grpc::Status(grpc::StatusCode::NOT_FOUND, "no model " + std::to_string(request->model_id()));
    if (request->wait_for_hash()) {
        std::unique_lock<std::mutex> lock(m_mutex);
        // Until hashed, the client gives up, or the model is closed meanwhile.
        while (!m_hashes.count(request->model_id()) && !context->IsCancelled() && m_models.count(request->model_id()))
            m_hashed.wait_for(lock, std::chrono::milliseconds(50));
    }
    fillInfo(state, reply);
    return grpc::Status::OK;
}

grpc::Status Service::Tokenize(
    grpc::ServerContext* context, const v1::TokenizeRequest* request, v1::TokenizeReply* reply)
{
    if (grpc::Status s = authorize(context, "Tokenize"); !s.ok())
        return s;
    ModelState state;
    if (!findModel(request->model_id(), state) || !state.model.tokenizer)
        return grpc::Status(grpc::StatusCode::NOT_FOUND, "no model " + std::to_string(request->model_id()));
    auto encoded = state.model.tokenizer->encodeChecked(request->text(), !request->without_special_tokens());
    if (!encoded)
        return remote::toGrpc(encoded.status());
    for (size_t i = 0; i < encoded->ids.size(); ++i) {
        reply->add_ids(encoded->ids[i]);
        reply->add_display(state.model.tokenizer->display(encoded->ids[i]));
        const TokenSpan span = i < encoded->spans.size() ? encoded->spans[i] : TokenSpan {};
        reply->add_span_begin(span.begin);
        reply->add_span_end(span.end);
    }
    return grpc::Status::OK;
}

bool Service::writeLayer(
    const LayerResult& layer, v1::ValueType type, grpc::ServerWriter<v1::AnalyzeEvent>* writer) const
{
    auto header = [&layer] {
        v1::AnalyzeEvent event;
        v1::LayerResult* out = event.mutable_layer();
        out->set_request_id(layer.requestId);
        out->set_layer(layer.layer);
        out->set_lambda(layer.lambda);
        return event;
    };
    // Numbers and thumbnails first (small), then the maps, starting a new part whenever the next map would not fit.
    LayerResult numbers = layer;
    numbers.maps.clear();
    v1::AnalyzeEvent part;
    remote::toWire(numbers, type, part.mutable_layer());
    const int64_t budget = m_maxMessageBytes - 1024;
    for (const AttentionMap& map : layer.maps) {
        v1::AttentionMap wire;
        remote::toWire(map, type, &wire);
        const int64_t mapBytes = static_cast<int64_t>(wire.ByteSizeLong()) + 16;
        if (part.layer().maps_size() > 0 && static_cast<int64_t>(part.ByteSizeLong()) + mapBytes > budget) {
            part.mutable_layer()->set_continued(true);
            if (!writer->Write(part))
                return false;
            part = header();
        }
        *part.mutable_layer()->add_maps() = std::move(wire);
    }
    return writer->Write(part);
}

grpc::Status Service::Analyze(
    grpc::ServerContext* context, const v1::AnalyzeRequest* wire, grpc::ServerWriter<v1::AnalyzeEvent>* writer)
{
    if (grpc::Status s = authorize(context, "Analyze"); !s.ok())
        return s;
    auto parsed = remote::fromWire(*wire);
    if (!parsed)
        return refuse(context, "Analyze", remote::toGrpc(parsed.status()));
    AnalysisRequest request = std::move(*parsed);
    ModelState state;
    if (!findModel(request.modelId, state))
        return refuse(context, "Analyze",
            grpc::Status(
                grpc::StatusCode::NOT_FOUND, "no model " + std::to_string(request.modelId) + " on this server"));
    if (request.tokens.empty()) {
        auto encoded = state.model.tokenizer->encodeChecked(request.prompt);
        if (!encoded)
            return refuse(context, "Analyze", remote::toGrpc(encoded.status().withContext("the prompt: ")));
        request.tokens = encoded->ids;
    }
    // The checks that need no model (tests/fuzz/fuzz_wire.cpp runs them on arbitrary messages).
    const int64_t bytesPerValue = remote::wireValueBytes(1, wire->value_type());
    if (Status s = checkAnalyzeRequest(request, bytesPerValue, m_maxMessageBytes); !s)
        return refuse(context, "Analyze", remote::toGrpc(s));

    // "Latest wins" within a stream of this connection, not across clients.
    const std::string stream = request.stream;
    request.stream = context->peer() + "#" + stream;
    auto queue = std::make_shared<EventQueue>();
    const uint64_t id = m_engine.submit(std::move(request), EventQueue::sinkFor(queue));
    {
        const std::lock_guard<std::mutex> lock(m_mutex);
        m_requestOwners[id] = context->peer();
    }
    struct Forget { // however the loop below ends, the request no longer has an owner to check
        Service& service;
        uint64_t id;
        ~Forget()
        {
            const std::lock_guard<std::mutex> lock(service.m_mutex);
            service.m_requestOwners.erase(id);
        }
    } forget {*this, id};

    bool cancelled = false;
    bool clientGone = false;
    const v1::ValueType valueType = wire->value_type();
    for (;;) {
        std::optional<AnalysisEvent> event = queue->pop(std::chrono::milliseconds(20));
        if (!cancelled && context->IsCancelled()) {
            // The client went away or cancelled the call: stop the work it asked for.
            std::cerr << "attnscope-server: " << context->peer() << " went away; cancelling request " << id
                      << std::endl;
            m_engine.cancel(id);
            cancelled = true;
            clientGone = true;
        }
        if (!event)
            continue;
        v1::AnalyzeEvent out;
        bool last = false;
        if (const auto* e = std::get_if<AnalysisStart>(&*event)) {
            remote::toWire(*e, out.mutable_started());
        } else if (const auto* e = std::get_if<ProgressEvent>(&*event)) {
            out.mutable_progress()->set_request_id(e->requestId);
            out.mutable_progress()->set_layers_done(e->layersDone);
            out.mutable_progress()->set_layers_total(e->layersTotal);
        } else if (const auto* e = std::get_if<LayerResult>(&*event)) {
            if (!clientGone && !writeLayer(*e, valueType, writer)) {
                m_engine.cancel(id);
                cancelled = true;
                clientGone = true;
            }
            continue;
        } else if (const auto* e = std::get_if<AnalysisSummary>(&*event)) {
            remote::toWire(*e, out.mutable_summary());
            last = true;
        } else if (const auto* e = std::get_if<FailedEvent>(&*event)) {
            v1::Failure* failure = out.mutable_failure();
            failure->set_request_id(e->requestId);
            failure->set_code(remote::toWire(e->status.code()));
            failure->set_message(e->status.message());
            last = true;
        }
        if (!clientGone && !writer->Write(out)) {
            if (!cancelled)
                m_engine.cancel(id);
            cancelled = true;
            clientGone = true;
        }
        if (last)
            break;
    }
    return clientGone ? grpc::Status(grpc::StatusCode::CANCELLED, "the client went away") : grpc::Status::OK;
}

grpc::Status Service::Cancel(grpc::ServerContext* context, const v1::CancelRequest* request, v1::CancelReply*)
{
    if (grpc::Status s = authorize(context, "Cancel"); !s.ok())
        return s;
    if (request->request_id() != 0) {
        {
            // A request id is a small counter, easy to guess: a client may cancel its own requests only.
            const std::lock_guard<std::mutex> lock(m_mutex);
            const auto owner = m_requestOwners.find(request->request_id());
            if (owner == m_requestOwners.end())
                return grpc::Status::OK; // already ended: nothing to cancel
            if (owner->second != context->peer())
                return refuse(context, "Cancel",
                    grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        "request " + std::to_string(request->request_id()) + " belongs to another client"));
        }
        m_engine.cancel(request->request_id());
    } else
        m_engine.cancelStream(context->peer() + "#" + (request->stream().empty() ? "run" : request->stream()));
    return grpc::Status::OK;
}

} // namespace attn::server
