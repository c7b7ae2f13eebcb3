// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "attnscope/device_map.h"
#include "attnscope/status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace attn::server {

/// attnscope-server's command line, as parsed.
struct ServerOptions {
    std::string listen = "127.0.0.1:50051"; ///< HOST:PORT; port 0 picks a free one (printed at start)
    std::vector<std::string> allow; ///< folders whose models clients may open
    std::string tokenFile; ///< else $ATTNSCOPE_TOKEN
    std::string tlsCert, tlsKey; ///< PEM files
    /// The largest message sent or received; a layer's maps above it come in parts. The default fits one full map at
    /// the full-map limit (8192^2 float32 = 256 MiB).
    int64_t maxMessageMiB = 320;
    std::string devices; ///< --devices cuda:0,cuda:1: where models go unless a client names a device
    std::string deviceMap; ///< --device-map balanced|sequential|RANGES|FILE.json (with or instead of --devices)
    /// --idle-unload: a model whose client has made no call for this long is unloaded; 0 = never.
    int64_t idleUnloadSeconds = 300;
};

/// What the server runs with once the options passed the security rules.
struct ServerSetup {
    std::string listen;
    std::vector<std::string> allowedRoots; ///< canonical absolute folders
    std::string token; ///< empty = no token required (loopback only)
    std::string tlsCertPem, tlsKeyPem; ///< empty = plain TCP (loopback only)
    int64_t maxMessageBytes = 0;
    /// The placement of models whose Load names no device ("auto" or empty): empty devices and map = the engine's auto.
    std::vector<DeviceSpec> devices;
    DeviceMapStrategy strategy = DeviceMapStrategy::Balanced;
    std::string deviceMapText; ///< an explicit map (parseDeviceMap's text), checked against each model as it loads
    int64_t idleUnloadSeconds = 300; ///< 0: models stay until their client unloads them
};

/// True for 127.0.0.1 (any 127/8 address), ::1 and localhost: only this machine can connect.
bool isLoopbackHost(const std::string& host);
/// "HOST:PORT" or "[V6]:PORT" -> host (without brackets); an error names the text.
Result<std::string> listenHost(const std::string& listen);

/**
 * @brief Applies the security rules: every --allow folder exists; any address other than loopback needs TLS
 * (--tls-cert and --tls-key) AND a token (--token-file or ATTNSCOPE_TOKEN). Reads the certificate, key and token,
 * and checks --devices / --device-map (a device map file is read here).
 * The error is the message the server prints before it exits.
 */
Result<ServerSetup> prepareServer(const ServerOptions& options);

} // namespace attn::server
