// SPDX-License-Identifier: GPL-3.0-or-later
#include "service.h"

#include "client_id.h"
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
    , m_leases(std::chrono::seconds(setup.idleUnloadSeconds))
{
    if (m_leases.enabled()) {
        m_reaper = std::thread([this] {
            std::unique_lock<std::mutex> lock(m_mutex);
            // A quarter second's lateness is nothing next to an idle limit of seconds to minutes.
            while (!m_stopped.wait_for(lock, std::chrono::milliseconds(250), [this] { return m_stopping; })) {
                lock.unlock();
                unloadIdleModels();
                lock.lock();
            }
        });
    }
}

Service::~Service()
{
    beginShutdown();
    if (m_reaper.joinable())
        m_reaper.join();
}

void Service::beginShutdown()
{
    {
        const std::lock_guard<std::mutex> lock(m_mutex);
        m_stopping = true;
    }
    m_stopped.notify_all();
    m_hashed.notify_all();
}

bool Service::stopping() const
{
    const std::lock_guard<std::mutex> lock(m_mutex);
    return m_stopping;
}

namespace {

/// The calls in progress by method, for the stop's last-resort message. Never destroyed: the stop's watchdog thread
/// may read it while the process exits.
struct RunningCalls {
    std::mutex mutex;
    std::map<std::string, int> byMethod;
};
RunningCalls& runningCalls()
{
    static RunningCalls* calls = new RunningCalls;
    return *calls;
}

/// Counts one call of a method while it runs.
class RunningCall {
public:
    explicit RunningCall(const char* method)
        : m_method(method)
    {
        const std::lock_guard<std::mutex> lock(runningCalls().mutex);
        ++runningCalls().byMethod[m_method];
    }
    ~RunningCall()
    {
        const std::lock_guard<std::mutex> lock(runningCalls().mutex);
        if (--runningCalls().byMethod[m_method] == 0)
            runningCalls().byMethod.erase(m_method);
    }
    RunningCall(const RunningCall&) = delete;
    RunningCall& operator=(const RunningCall&) = delete;

private:
    const char* m_method;
};

std::string duration(int64_t seconds)
{
    return seconds >= 120 ? std::to_string(seconds / 60) + " min" : std::to_string(seconds) + " s";
}

} // namespace

std::string Service::describeRunningCalls()
{
    const std::lock_guard<std::mutex> lock(runningCalls().mutex);
    std::string out;
    for (const auto& [method, count] : runningCalls().byMethod)
        out += (out.empty() ? "" : ", ") + method + " x" + std::to_string(count);
    return out.empty() ? "none" : out;
}

void Service::unloadIdleModels()
{
    for (const LeaseTable::Expired& idle : m_leases.expire()) {
        {
            const std::lock_guard<std::mutex> lock(m_mutex);
            m_models.erase(idle.modelId);
            m_hashes.erase(idle.modelId);
        }
        m_hashed.notify_all(); // a GetModelInfo waiting for its hash stops waiting
        m_engine.unload(idle.modelId);
        std::cerr << "attnscope-server: " << idle.owner << " idle for " << idle.idleSeconds << " s; unloaded model "
                  << idle.modelId << " (" << idle.path << ")" << std::endl;
    }
}

grpc::Status Service::modelNotFound(int modelId) const
{
    if (const auto idle = m_leases.expired(modelId))
        return grpc::Status(grpc::StatusCode::NOT_FOUND,
            "the server unloaded model " + std::to_string(modelId) + " (" + idle->path + ") after "
                + duration(idle->idleSeconds) + " without contact from its client (its --idle-unload is "
                + std::to_string(m_leases.idleLimit().count()) + " s)");
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "no model " + std::to_string(modelId) + " on this server");
}

grpc::Status Service::refuse(grpc::ServerContext* context, const char* method, const grpc::Status& status) const
{
    std::cerr << "attnscope-server: " << context->peer() << " " << method << " refused: " << status.error_message()
              << std::endl;
    return status;
}

grpc::Status Service::admit(grpc::ServerContext* context, const char* method, std::string& owner)
{
    const auto& metadata = context->client_metadata();
    if (m_token.required()) {
        const auto found = metadata.find("authorization");
        const std::string header
            = found == metadata.end() ? std::string() : std::string(found->second.data(), found->second.size());
        if (!m_token.accepts(header))
            return refuse(context, method,
                grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                    header.empty() ? "this server needs a token (authorization: Bearer TOKEN)" : "wrong token"));
    }
    // After the token: only an authorized caller may hold a lease.
    const auto id = metadata.find(remote::kClientIdMetadata);
    if (id == metadata.end()) {
        owner = "peer " + context->peer(); // an older client: its connection is all there is to tell it apart
    } else {
        const std::string_view value(id->second.data(), id->second.size());
        if (!remote::isValidClientId(value))
            return refuse(context, method,
                grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                    std::string(remote::kClientIdMetadata) + ": expected " + std::to_string(remote::kClientIdMinLength)
                        + " to " + std::to_string(remote::kClientIdMaxLength) + " letters, digits, '-' or '_', got "
                        + std::to_string(value.size()) + " bytes"));
        owner = "client " + std::string(value);
    }
    m_leases.touch(owner);
    return grpc::Status::OK;
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
    const RunningCall running("ListModels");
    std::string owner;
    if (grpc::Status s = admit(context, "ListModels", owner); !s.ok())
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
    const RunningCall running("Load");
    std::string owner;
    if (grpc::Status s = admit(context, "Load", owner); !s.ok())
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

    const LeaseTable::Call call(m_leases, owner); // loading multi-GB weights takes what it takes
    // The engine's answer, unless this call stops waiting first (the client went away, the server stops): then a model
    // that arrives after all has no one to use it and is closed at once.
    struct Outcome {
        std::mutex mutex;
        std::condition_variable ready;
        std::optional<Result<LoadedModel>> result;
        bool abandoned = false;
    };
    auto outcome = std::make_shared<Outcome>();
    LoadSink sink;
    sink.loaded = [this, outcome](uint64_t, LoadedModel model) {
        {
            const std::lock_guard<std::mutex> lock(outcome->mutex);
            if (!outcome->abandoned) {
                outcome->result = std::move(model);
                outcome->ready.notify_all();
                return;
            }
        }
        m_engine.unload(model.id);
    };
    sink.failed = [outcome](uint64_t, Status status) {
        const std::lock_guard<std::mutex> lock(outcome->mutex);
        outcome->result = std::move(status);
        outcome->ready.notify_all();
    };
    sink.hashed = [this](int modelId, std::string sha256) {
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            m_hashes[modelId] = std::move(sha256);
        }
        m_hashed.notify_all();
    };
    m_engine.load(*path, options, std::move(sink));
    std::optional<Result<LoadedModel>> answer;
    {
        std::unique_lock<std::mutex> lock(outcome->mutex);
        while (!outcome->ready.wait_for(
            lock, std::chrono::milliseconds(50), [&] { return outcome->result.has_value(); })) {
            const bool gone = context->IsCancelled();
            if (gone || stopping()) {
                outcome->abandoned = true;
                std::cerr << "attnscope-server: " << owner << " Load of " << *path
                          << " abandoned: " << (gone ? "the client went away" : "the server is stopping") << std::endl;
                return gone ? grpc::Status(grpc::StatusCode::CANCELLED, "the client went away")
                            : grpc::Status(grpc::StatusCode::UNAVAILABLE, "attnscope-server is stopping");
            }
        }
        answer = std::move(outcome->result);
    }
    Result<LoadedModel> loaded = std::move(*answer);
    if (!loaded)
        return remote::toGrpc(loaded.status());

    ModelState state;
    state.model = std::move(*loaded);
    state.owner = owner;
    // The stored tensors' names and shapes for `info` (LoadedModel does not carry them): the headers again.
    if (auto source = openModelSource(*path)) {
        for (const StoredTensor& t : (*source)->stored)
            state.tensors.push_back({t.name, t.dtype, t.shape, 0, 0});
    }
    std::cerr << "attnscope-server: " << owner << " (" << context->peer() << ") loaded " << *path << " as model "
              << state.model.id << " on " << state.model.device << std::endl;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_models[state.model.id] = state;
    }
    m_leases.addModel(state.model.id, owner, *path);
    fillInfo(state, reply);
    return grpc::Status::OK;
}

grpc::Status Service::Unload(grpc::ServerContext* context, const v1::UnloadRequest* request, v1::UnloadReply*)
{
    const RunningCall running("Unload");
    std::string owner;
    if (grpc::Status s = admit(context, "Unload", owner); !s.ok())
        return s;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        const auto model = m_models.find(request->model_id());
        if (model == m_models.end())
            return modelNotFound(request->model_id());
        if (model->second.owner != owner)
            return refuse(context, "Unload",
                grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                    "model " + std::to_string(request->model_id()) + " was opened by another client"));
        m_models.erase(model);
        m_hashes.erase(request->model_id());
    }
    m_leases.forget(request->model_id());
    m_engine.unload(request->model_id());
    return grpc::Status::OK;
}

grpc::Status Service::GetModelInfo(
    grpc::ServerContext* context, const v1::ModelInfoRequest* request, v1::ModelInfo* reply)
{
    const RunningCall running("GetModelInfo");
    std::string owner;
    if (grpc::Status s = admit(context, "GetModelInfo", owner); !s.ok())
        return s;
    ModelState state;
    if (!findModel(request->model_id(), state))
        return modelNotFound(request->model_id());
    if (request->wait_for_hash()) {
        const LeaseTable::Call call(m_leases, owner);
        std::unique_lock<std::mutex> lock(m_mutex);
        // Until hashed, the client gives up, the model is closed meanwhile, or the server stops.
        while (!m_hashes.count(request->model_id()) && !context->IsCancelled() && m_models.count(request->model_id())
            && !m_stopping)
            m_hashed.wait_for(lock, std::chrono::milliseconds(50));
    }
    fillInfo(state, reply);
    return grpc::Status::OK;
}

grpc::Status Service::Tokenize(
    grpc::ServerContext* context, const v1::TokenizeRequest* request, v1::TokenizeReply* reply)
{
    const RunningCall running("Tokenize");
    std::string owner;
    if (grpc::Status s = admit(context, "Tokenize", owner); !s.ok())
        return s;
    ModelState state;
    if (!findModel(request->model_id(), state) || !state.model.tokenizer)
        return modelNotFound(request->model_id());
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
    const RunningCall running("Analyze");
    std::string owner;
    if (grpc::Status s = admit(context, "Analyze", owner); !s.ok())
        return s;
    auto parsed = remote::fromWire(*wire);
    if (!parsed)
        return refuse(context, "Analyze", remote::toGrpc(parsed.status()));
    AnalysisRequest request = std::move(*parsed);
    ModelState state;
    if (!findModel(request.modelId, state))
        return refuse(context, "Analyze", modelNotFound(request.modelId));
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

    // "Latest wins" within a stream of this client, not across clients.
    const LeaseTable::Call call(m_leases, owner); // a long run keeps its client's lease
    const std::string stream = request.stream;
    request.stream = owner + "#" + stream;
    auto queue = std::make_shared<EventQueue>();
    const uint64_t id = m_engine.submit(std::move(request), EventQueue::sinkFor(queue));
    {
        const std::lock_guard<std::mutex> lock(m_mutex);
        m_requestOwners[id] = owner;
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

    // The client went away or cancelled the call, or the server stops: cancel the work and return now, without
    // waiting for the engine to say it stopped (it does at its next layer or query tile): nobody is left to tell, and
    // a stop must not wait for a layer of a large model. The abandoned queue lets the engine's last calls through.
    auto stop = [&](bool serverStopping) {
        if (serverStopping)
            std::cerr << "attnscope-server: stopping; cancelling request " << id << " of " << owner << " ("
                      << context->peer() << ")" << std::endl;
        else
            std::cerr << "attnscope-server: " << owner << " (" << context->peer() << ") went away; cancelling request "
                      << id << std::endl;
        m_engine.cancel(id);
        queue->abandon();
        // A stop is the server going away (UNAVAILABLE: the client reports its server gone), not a cancel.
        return serverStopping ? grpc::Status(grpc::StatusCode::UNAVAILABLE, "attnscope-server is stopping")
                              : grpc::Status(grpc::StatusCode::CANCELLED, "the client went away");
    };
    const v1::ValueType valueType = wire->value_type();
    for (;;) {
        std::optional<AnalysisEvent> event = queue->pop(std::chrono::milliseconds(20));
        if (stopping())
            return stop(true);
        if (context->IsCancelled())
            return stop(false);
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
            if (!writeLayer(*e, valueType, writer))
                return stop(false);
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
        if (!writer->Write(out))
            return last ? grpc::Status(grpc::StatusCode::CANCELLED, "the client went away") : stop(false);
        if (last)
            return grpc::Status::OK;
    }
}

grpc::Status Service::Cancel(grpc::ServerContext* context, const v1::CancelRequest* request, v1::CancelReply*)
{
    const RunningCall running("Cancel");
    std::string owner;
    if (grpc::Status s = admit(context, "Cancel", owner); !s.ok())
        return s;
    if (request->request_id() != 0) {
        {
            // A request id is a small counter, easy to guess: a client may cancel its own requests only.
            const std::lock_guard<std::mutex> lock(m_mutex);
            const auto requestOwner = m_requestOwners.find(request->request_id());
            if (requestOwner == m_requestOwners.end())
                return grpc::Status::OK; // already ended: nothing to cancel
            if (requestOwner->second != owner)
                return refuse(context, "Cancel",
                    grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        "request " + std::to_string(request->request_id()) + " belongs to another client"));
        }
        m_engine.cancel(request->request_id());
    } else
        m_engine.cancelStream(owner + "#" + (request->stream().empty() ? "run" : request->stream()));
    return grpc::Status::OK;
}

} // namespace attn::server
