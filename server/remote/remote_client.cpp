// SPDX-License-Identifier: GPL-3.0-or-later
#include "attnscope/remote/remote_client.h"

#include "attnscope.grpc.pb.h"
#include "client_id.h"
#include "wire_convert.h"
#include "wire_status.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

namespace attn::remote {

namespace {

std::string trimmed(std::string text)
{
    const size_t end = text.find_last_not_of(" \t\r\n");
    text.erase(end == std::string::npos ? 0 : end + 1);
    const size_t begin = text.find_first_not_of(" \t");
    return begin == std::string::npos ? std::string() : text.substr(begin);
}

Result<std::string> readWholeFile(const std::string& path, const std::string& what)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return Status::error(StatusCode::Io, what + " " + path + ": cannot open it");
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

} // namespace

Result<std::string> readClientToken(const std::string& tokenFile)
{
    if (!tokenFile.empty()) {
        auto text = readWholeFile(tokenFile, "--token-file");
        if (!text)
            return text.status();
        std::string token = trimmed(text->substr(0, text->find('\n')));
        if (token.empty())
            return Status::error("--token-file " + tokenFile + ": the file's first line is empty");
        return token;
    }
    const char* env = std::getenv("ATTNSCOPE_TOKEN");
    return env ? trimmed(env) : std::string();
}

struct RemoteClient::Impl {
    ConnectOptions options; ///< options.clientId is set (made here when the caller gave none)
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<v1::Attnscope::Stub> stub;
    mutable std::mutex goneMutex;
    std::set<int> gone; ///< models the server said it does not have (NOT_FOUND)

    void prepare(grpc::ClientContext& context) const
    {
        if (!options.token.empty())
            context.AddMetadata("authorization", "Bearer " + options.token);
        // Who this is across reconnects: the server keeps this client's models and requests under it.
        context.AddMetadata(kClientIdMetadata, options.clientId);
    }
    /// prepare() plus the short-call deadline (ConnectOptions::callSeconds).
    void prepareShort(grpc::ClientContext& context) const
    {
        prepare(context);
        if (options.callSeconds > 0)
            context.set_deadline(std::chrono::system_clock::now()
                + std::chrono::milliseconds(static_cast<int64_t>(options.callSeconds * 1000.0)));
    }
    Status failed(const grpc::Status& status) const { return fromGrpc(status, options.target); }
    /// failed() for a call about one model: remembers a model the server no longer has.
    Status failedFor(const grpc::Status& status, int modelId)
    {
        if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
            const std::lock_guard<std::mutex> lock(goneMutex);
            gone.insert(modelId);
        }
        return failed(status);
    }

    Result<RemoteModel> modelFromWire(const v1::ModelInfo& info) const
    {
        auto model = fromWire(info);
        if (!model)
            return model.status();
        RemoteModel out;
        out.model = std::move(*model);
        out.sha256 = info.sha256();
        out.configJson = info.config_json();
        out.tensors = tensorsFromWire(info);
        return out;
    }
};

RemoteClient::RemoteClient()
    : m(std::make_unique<Impl>())
{
}

RemoteClient::~RemoteClient() = default;

const std::string& RemoteClient::target() const
{
    return m->options.target;
}

const std::string& RemoteClient::clientId() const
{
    return m->options.clientId;
}

bool RemoteClient::serverDropped(int modelId) const
{
    const std::lock_guard<std::mutex> lock(m->goneMutex);
    return m->gone.count(modelId) > 0;
}

Result<std::unique_ptr<RemoteClient>> RemoteClient::connect(const ConnectOptions& options)
{
    if (options.target.empty() || options.target.find(':') == std::string::npos)
        return Status::error("--server: expected HOST:PORT, got '" + options.target + "'");
    if (!options.clientId.empty() && !isValidClientId(options.clientId))
        return Status::error("client id '" + options.clientId.substr(0, 80) + "': expected "
            + std::to_string(kClientIdMinLength) + " to " + std::to_string(kClientIdMaxLength)
            + " letters, digits, '-' or '_'");
    std::shared_ptr<grpc::ChannelCredentials> credentials;
    if (options.tlsCaFile.empty()) {
        credentials = grpc::InsecureChannelCredentials();
    } else {
        auto ca = readWholeFile(options.tlsCaFile, "--tls-ca");
        if (!ca)
            return ca.status();
        grpc::SslCredentialsOptions ssl;
        ssl.pem_root_certs = *ca;
        credentials = grpc::SslCredentials(ssl);
    }
    grpc::ChannelArguments arguments;
    // One client, one connection: the server tells clients apart by their connection (latest wins per stream, who
    // may cancel a request or unload a model), and gRPC would otherwise share one connection between the channels a
    // process opens to the same server.
    arguments.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    arguments.SetMaxReceiveMessageSize(static_cast<int>(std::min<int64_t>(options.maxMessageBytes, INT32_MAX)));
    arguments.SetMaxSendMessageSize(64 << 20);
    std::unique_ptr<RemoteClient> client(new RemoteClient());
    client->m->options = options;
    if (client->m->options.clientId.empty())
        client->m->options.clientId = makeClientId();
    client->m->channel = grpc::CreateCustomChannel(options.target, credentials, arguments);
    const auto deadline = std::chrono::system_clock::now()
        + std::chrono::milliseconds(static_cast<int64_t>(options.connectSeconds * 1000.0));
    if (!client->m->channel->WaitForConnected(deadline))
        return Status::error(StatusCode::Io,
            "attnscope-server at " + options.target + " is not reachable within "
                + std::to_string(static_cast<int>(options.connectSeconds))
                + " s (is it running? for a remote host, is the SSH tunnel open? does --tls-ca match its "
                  "certificate?)");
    client->m->stub = v1::Attnscope::NewStub(client->m->channel);
    return client;
}

Result<ServerModelList> RemoteClient::listModels()
{
    grpc::ClientContext context;
    m->prepareShort(context);
    v1::ListModelsReply reply;
    if (grpc::Status s = m->stub->ListModels(&context, v1::ListModelsRequest(), &reply); !s.ok())
        return m->failed(s);
    ServerModelList out;
    out.roots.assign(reply.roots().begin(), reply.roots().end());
    for (const v1::ModelEntry& e : reply.models())
        out.models.push_back({e.root(), e.relative_path(), e.kind()});
    return out;
}

Result<RemoteModel> RemoteClient::load(const std::string& path, const std::string& device, const std::string& dtype)
{
    grpc::ClientContext context;
    m->prepare(context);
    v1::LoadRequest request;
    request.set_path(path);
    request.set_device(device);
    request.set_dtype(dtype);
    v1::ModelInfo reply;
    if (grpc::Status s = m->stub->Load(&context, request, &reply); !s.ok())
        return m->failed(s);
    return m->modelFromWire(reply);
}

Status RemoteClient::unload(int modelId)
{
    grpc::ClientContext context;
    m->prepareShort(context);
    v1::UnloadRequest request;
    request.set_model_id(modelId);
    v1::UnloadReply reply;
    if (grpc::Status s = m->stub->Unload(&context, request, &reply); !s.ok())
        return m->failedFor(s, modelId);
    return Status::ok();
}

Result<RemoteModel> RemoteClient::modelInfo(int modelId, bool waitForHash)
{
    grpc::ClientContext context;
    if (waitForHash)
        m->prepare(context); // hashing multi-GB weights takes what it takes
    else
        m->prepareShort(context);
    v1::ModelInfoRequest request;
    request.set_model_id(modelId);
    request.set_wait_for_hash(waitForHash);
    v1::ModelInfo reply;
    if (grpc::Status s = m->stub->GetModelInfo(&context, request, &reply); !s.ok())
        return m->failedFor(s, modelId);
    return m->modelFromWire(reply);
}

Result<RemoteTokens> RemoteClient::tokenize(int modelId, const std::string& text, bool addSpecialTokens)
{
    grpc::ClientContext context;
    m->prepareShort(context);
    v1::TokenizeRequest request;
    request.set_model_id(modelId);
    request.set_text(text);
    request.set_without_special_tokens(!addSpecialTokens);
    v1::TokenizeReply reply;
    if (grpc::Status s = m->stub->Tokenize(&context, request, &reply); !s.ok())
        return m->failedFor(s, modelId);
    const int n = reply.ids_size();
    if (reply.display_size() != n || reply.span_begin_size() != n || reply.span_end_size() != n)
        return Status::error(StatusCode::Internal, "Tokenize: the server's reply has fields of different lengths");
    RemoteTokens out;
    out.encoding.ids.assign(reply.ids().begin(), reply.ids().end());
    out.display.assign(reply.display().begin(), reply.display().end());
    for (int i = 0; i < n; ++i) {
        // The spans index the text this client sent: a server must not make it read outside it.
        if (reply.span_begin(i) > reply.span_end(i) || reply.span_end(i) > text.size())
            return Status::error(StatusCode::Internal,
                "Tokenize: the server's token " + std::to_string(i) + " spans bytes "
                    + std::to_string(reply.span_begin(i)) + ".." + std::to_string(reply.span_end(i)) + " of a "
                    + std::to_string(text.size()) + "-byte text");
        out.encoding.spans.push_back(
            {static_cast<size_t>(reply.span_begin(i)), static_cast<size_t>(reply.span_end(i))});
    }
    return out;
}

Status RemoteClient::analyze(const AnalysisRequest& request, bool float16, const AnalysisSink& sink,
    const CancelToken& cancel, AnalyzeStats* stats)
{
    const auto start = std::chrono::steady_clock::now();
    auto elapsed = [&start] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
    AnalyzeStats local;
    AnalyzeStats& st = stats ? *stats : local;
    st = AnalyzeStats();

    grpc::ClientContext context;
    m->prepare(context);
    // A cancelled token ends the call; the server sees the call cancelled and cancels the request there.
    std::mutex mutex;
    std::condition_variable wake;
    bool done = false;
    std::thread watcher([&] {
        std::unique_lock<std::mutex> lock(mutex);
        while (!done) {
            if (cancel.cancelled()) {
                context.TryCancel();
                return;
            }
            wake.wait_for(lock, std::chrono::milliseconds(20));
        }
    });
    auto stopWatcher = [&] {
        {
            std::lock_guard<std::mutex> lock(mutex);
            done = true;
        }
        wake.notify_all();
        watcher.join();
    };

    const v1::AnalyzeRequest wire = toWire(request, float16 ? v1::FLOAT16 : v1::FLOAT32);
    std::unique_ptr<grpc::ClientReader<v1::AnalyzeEvent>> reader(m->stub->Analyze(&context, wire));
    v1::AnalyzeEvent event;
    uint64_t requestId = 0;
    bool ended = false;
    std::optional<LayerResult> partial;
    bool serverEnded = false; // a Summary or a Failure arrived (the sink has had its last call)
    Status outcome = Status::ok();
    while (!ended && reader->Read(&event)) {
        st.bytesReceived += static_cast<int64_t>(event.ByteSizeLong());
        ++st.messages;
        switch (event.event_case()) {
        case v1::AnalyzeEvent::kStarted: {
            requestId = event.started().request_id();
            auto start = fromWire(event.started());
            if (!start) {
                outcome = start.status().withContext("the server's start of the analysis: ");
                ended = true;
                break;
            }
            if (sink.started)
                sink.started(std::move(*start));
            break;
        }
        case v1::AnalyzeEvent::kProgress:
            if (sink.progress)
                sink.progress(
                    event.progress().request_id(), event.progress().layers_done(), event.progress().layers_total());
            break;
        case v1::AnalyzeEvent::kLayer: {
            if (st.secondsToFirstLayer < 0)
                st.secondsToFirstLayer = elapsed();
            auto layer = fromWire(event.layer());
            if (!layer) {
                outcome = layer.status().withContext("the server's layer result: ");
                ended = true;
                break;
            }
            // A layer above the server's message limit comes in parts: join them, then hand the layer on.
            if (partial && partial->layer == layer->layer) {
                for (AttentionMap& map : layer->maps)
                    partial->maps.push_back(std::move(map));
            } else {
                partial = std::move(*layer);
            }
            if (!event.layer().continued()) {
                if (sink.layer)
                    sink.layer(std::move(*partial));
                partial.reset();
            }
            break;
        }
        case v1::AnalyzeEvent::kSummary: {
            auto summary = fromWire(event.summary());
            if (!summary) {
                outcome = summary.status().withContext("the server's summary: ");
                ended = true;
                break;
            }
            if (sink.finished)
                sink.finished(std::move(*summary));
            ended = true;
            serverEnded = true;
            break;
        }
        case v1::AnalyzeEvent::kFailure:
            outcome = Status::error(fromWire(event.failure().code()), event.failure().message());
            if (sink.failed)
                sink.failed(event.failure().request_id(), outcome);
            ended = true;
            serverEnded = true;
            break;
        case v1::AnalyzeEvent::EVENT_NOT_SET:
            break;
        }
    }
    if (serverEnded) {
        // Drain the rest so the call ends cleanly (the server closes it right after the last event).
        while (reader->Read(&event)) { }
        reader->Finish();
        stopWatcher();
        st.seconds = elapsed();
        return outcome;
    }
    if (!outcome.isOk()) // a malformed message: stop the call (the server cancels the request)
        context.TryCancel();
    const grpc::Status finish = reader->Finish();
    stopWatcher();
    st.seconds = elapsed();
    if (cancel.cancelled())
        outcome = Status::cancelled("cancelled by the client");
    else if (outcome.isOk())
        outcome = finish.ok() ? Status::error(StatusCode::Io,
                      "attnscope-server at " + m->options.target + " ended the analysis without a result")
                              : m->failedFor(finish, request.modelId);
    if (sink.failed)
        sink.failed(requestId, outcome);
    return outcome;
}

Status RemoteClient::cancel(uint64_t requestId, const std::string& stream)
{
    grpc::ClientContext context;
    m->prepareShort(context);
    v1::CancelRequest request;
    request.set_request_id(requestId);
    request.set_stream(stream);
    v1::CancelReply reply;
    if (grpc::Status s = m->stub->Cancel(&context, request, &reply); !s.ok())
        return m->failed(s);
    return Status::ok();
}

} // namespace attn::remote
