// SPDX-License-Identifier: GPL-3.0-or-later
// attnscope-server: the core engine behind gRPC, next to the GPUs and the checkpoints (issue 13). Clients (the CLI's
// --server, later the app) send requests and receive results per layer; models are opened from the allowed folders.
#include "server_options.h"
#include "service.h"

#include <CLI/CLI.hpp>
#include <grpcpp/grpcpp.h>

#include <csignal>
#include <cstdlib>
#include <future>
#include <iostream>
#include <thread>

namespace {

volatile std::sig_atomic_t g_stop = 0;
void onSignal(int)
{
    g_stop = 1;
}

} // namespace

int main(int argc, char** argv)
{
    attn::server::ServerOptions options;
    CLI::App app("attnscope-server: serves attnscope's engine over gRPC to attnscope-cli --server (and the app)");
    app.add_option("--listen", options.listen,
           "HOST:PORT to listen on; anything but 127.0.0.1 / ::1 / localhost needs --tls-cert, --tls-key and a token "
           "(port 0: pick a free port)")
        ->capture_default_str();
    app.add_option("--allow", options.allow, "a folder whose models clients may open (repeatable)")->required();
    app.add_option("--token-file", options.tokenFile,
        "file whose first line is the token clients must send (else $ATTNSCOPE_TOKEN; none: no token on loopback)");
    app.add_option("--tls-cert", options.tlsCert, "PEM certificate (chain) of this server");
    app.add_option("--tls-key", options.tlsKey, "PEM private key of --tls-cert");
    app.add_option("--max-message-mib", options.maxMessageMiB,
           "largest message sent or received; a request whose layer results would not fit is refused")
        ->capture_default_str();
    app.add_option("--devices", options.devices,
        "place each model's layers over these devices of this machine, e.g. cuda:0,cuda:1 (a model larger than one "
        "GPU); applies to loads that name no device");
    app.add_option("--device-map", options.deviceMap,
        "with --devices: balanced (default) or sequential; or an explicit map: layer ranges 0-15:cuda:0,16-31:cuda:1 "
        "or a JSON file as Hugging Face's device_map");
    app.add_option("--idle-unload", options.idleUnloadSeconds,
           "unload a client's models after this many seconds without a call from it (a client that crashed or lost "
           "its network); the app's heartbeat and any running request keep them; 0: never")
        ->capture_default_str();
    app.set_version_flag("--version", ATTNSCOPE_VERSION);
    CLI11_PARSE(app, argc, argv);

    auto setup = attn::server::prepareServer(options);
    if (!setup) {
        std::cerr << "attnscope-server: error: " << setup.message() << "\n";
        return 2;
    }

    auto service = std::make_unique<attn::server::Service>(*setup);
    std::shared_ptr<grpc::ServerCredentials> credentials;
    if (setup->tlsCertPem.empty()) {
        credentials = grpc::InsecureServerCredentials();
    } else {
        grpc::SslServerCredentialsOptions ssl;
        ssl.pem_key_cert_pairs.push_back({setup->tlsKeyPem, setup->tlsCertPem});
        credentials = grpc::SslServerCredentials(ssl);
    }
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort(setup->listen, credentials, &port);
    builder.SetMaxSendMessageSize(static_cast<int>(setup->maxMessageBytes));
    builder.SetMaxReceiveMessageSize(static_cast<int>(setup->maxMessageBytes));
    builder.RegisterService(service.get());
    std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
    if (!server || port == 0) {
        std::cerr << "attnscope-server: error: cannot listen on " << setup->listen
                  << " (address in use, or not an address of this machine)\n";
        return 1;
    }
    const std::string host = setup->listen.substr(0, setup->listen.rfind(':'));
    for (const std::string& root : setup->allowedRoots)
        std::cout << "attnscope-server: allowed folder " << root << "\n";
    // Clients and tests read this line to learn the port (--listen HOST:0).
    std::cout << "attnscope-server: listening on " << host << ":" << port << (setup->tlsCertPem.empty() ? "" : " (TLS)")
              << (setup->token.empty() ? "" : " (token required)") << std::endl;

    std::signal(SIGINT, onSignal);
    std::signal(SIGTERM, onSignal);
    while (!g_stop)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::cout << "attnscope-server: stopping" << std::endl;
    // Calls that wait on the engine (a Load, an Analyze, GetModelInfo waiting for the hash) return now: Shutdown waits
    // for every call in progress, and the engine finishes a load or a layer only when it finishes it.
    service->beginShutdown();
    // Last resort, not expected to act: if the stop still takes 10 s (gRPC's Shutdown itself stuck), the process ends
    // anyway and says which calls were in progress; the server writes no files, so nothing can be left half-written.
    std::thread([] {
        std::this_thread::sleep_for(std::chrono::seconds(10));
        std::cerr << "attnscope-server: still stopping 10 s after the stop (calls in progress: "
                  << attn::server::Service::describeRunningCalls() << "); exiting without them" << std::endl;
        std::_Exit(0);
    }).detach();
    server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    server.reset();
    // The engine stops a cancelled request at its next layer or attention tile, but one layer of a large model on a
    // CPU (its MLP over thousands of tokens) can take minutes, and a load cannot be interrupted. Nobody needs that
    // work any more: wait a little for a clean end, then leave without it.
    auto engineStopped = std::async(std::launch::async, [&service] { service.reset(); });
    if (engineStopped.wait_for(std::chrono::seconds(3)) != std::future_status::ready) {
        std::cerr << "attnscope-server: the engine is still inside a layer or a load 3 s after the stop; exiting "
                     "without waiting for it"
                  << std::endl;
        std::cout << "attnscope-server: stopped" << std::endl;
        std::_Exit(0);
    }
    std::cout << "attnscope-server: stopped" << std::endl;
    return 0;
}
