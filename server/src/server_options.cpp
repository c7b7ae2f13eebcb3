// SPDX-License-Identifier: GPL-3.0-or-later
#include "server_options.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace attn::server {

namespace {

Result<std::string> readFile(const std::string& path, const std::string& option)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return Status::error(StatusCode::Io, option + " " + path + ": cannot open it");
    std::ostringstream text;
    text << in.rdbuf();
    if (text.str().empty())
        return Status::error(option + " " + path + ": the file is empty");
    return text.str();
}

std::string trimmed(const std::string& text)
{
    const size_t begin = text.find_first_not_of(" \t\r\n");
    if (begin == std::string::npos)
        return {};
    const size_t end = text.find_last_not_of(" \t\r\n");
    return text.substr(begin, end - begin + 1);
}

} // namespace

bool isLoopbackHost(const std::string& host)
{
    return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

Result<std::string> listenHost(const std::string& listen)
{
    if (!listen.empty() && listen.front() == '[') {
        const size_t close = listen.find(']');
        if (close == std::string::npos || close + 1 >= listen.size() || listen[close + 1] != ':')
            return Status::error("--listen: expected [IPV6]:PORT, got '" + listen + "'");
        return listen.substr(1, close - 1);
    }
    const size_t colon = listen.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == listen.size() || listen.find(':') != colon)
        return Status::error("--listen: expected HOST:PORT (e.g. 127.0.0.1:50051), got '" + listen + "'");
    return listen.substr(0, colon);
}

Result<ServerSetup> prepareServer(const ServerOptions& options)
{
    namespace fs = std::filesystem;
    ServerSetup setup;
    auto host = listenHost(options.listen);
    if (!host)
        return host.status();
    setup.listen = options.listen;
    if (options.allow.empty())
        return Status::error("give at least one --allow DIR: the folders whose models clients may open");
    for (const std::string& dir : options.allow) {
        std::error_code ec;
        const fs::path root = fs::canonical(dir, ec);
        if (ec || !fs::is_directory(root))
            return Status::error("--allow " + dir + ": not an existing folder");
        setup.allowedRoots.push_back(root.string());
    }

    if (!options.tokenFile.empty()) {
        auto text = readFile(options.tokenFile, "--token-file");
        if (!text)
            return text.status();
        setup.token = trimmed(text->substr(0, text->find('\n')));
        if (setup.token.empty())
            return Status::error("--token-file " + options.tokenFile + ": the first line is empty");
    } else if (const char* env = std::getenv("ATTNSCOPE_TOKEN")) {
        setup.token = trimmed(env);
    }
    if (options.tlsCert.empty() != options.tlsKey.empty())
        return Status::error("--tls-cert and --tls-key go together: give both, or neither");
    if (!options.tlsCert.empty()) {
        auto cert = readFile(options.tlsCert, "--tls-cert");
        if (!cert)
            return cert.status();
        auto key = readFile(options.tlsKey, "--tls-key");
        if (!key)
            return key.status();
        setup.tlsCertPem = *cert;
        setup.tlsKeyPem = *key;
    }
    if (!isLoopbackHost(*host) && (setup.tlsCertPem.empty() || setup.token.empty()))
        return Status::error(StatusCode::Refused,
            "refusing to listen on " + options.listen
                + ": an address other than 127.0.0.1 / ::1 / localhost needs TLS (--tls-cert and --tls-key) and a "
                  "token (--token-file or ATTNSCOPE_TOKEN), so that only your clients can reach the models. "
                  "Without them, keep the default 127.0.0.1 and use an SSH tunnel (README: Remote GPU).");
    if (options.maxMessageMiB < 1 || options.maxMessageMiB > 2047)
        return Status::error("--max-message-mib: between 1 and 2047 (gRPC's limit is 2 GiB)");
    setup.maxMessageBytes = options.maxMessageMiB << 20;
    // Up to a week: longer is "never" in practice, and 0 says that plainly.
    if (options.idleUnloadSeconds < 0 || options.idleUnloadSeconds > 7 * 24 * 3600)
        return Status::error("--idle-unload: between 0 (never) and 604800 seconds (a week), got "
            + std::to_string(options.idleUnloadSeconds));
    setup.idleUnloadSeconds = options.idleUnloadSeconds;
    if (!options.devices.empty()) {
        auto devices = parseDeviceList(options.devices);
        if (!devices)
            return Status::error("--devices: " + devices.message());
        setup.devices = *devices;
    }
    if (auto strategy = parseDeviceMapStrategy(options.deviceMap.empty() ? "balanced" : options.deviceMap)) {
        setup.strategy = *strategy;
    } else if (options.deviceMap.find_first_of("{:") == std::string::npos
        || (options.deviceMap.size() > 5
            && options.deviceMap.compare(options.deviceMap.size() - 5, 5, ".json") == 0)) { // HF's device_map JSON
        auto text = readFile(options.deviceMap, "--device-map");
        if (!text)
            return text.status();
        setup.deviceMapText = *text;
    } else {
        setup.deviceMapText = options.deviceMap;
    }
    // An explicit map is checked against each model as it loads (its layers are the model's); a bad one fails the Load
    // with the entry at fault.
    return setup;
}

} // namespace attn::server
