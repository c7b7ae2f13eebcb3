// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "attnscope/status.h"

#include <grpcpp/support/status.h>

#include <string>

namespace attn::remote {

/// The gRPC status a server returns for a core error (a refusal stays a refusal, a bad input an invalid argument).
grpc::Status toGrpc(const Status& status);

/**
 * @brief A failed call as a core Status a person can act on. `target` (host:port) names the server in transport
 * errors: an unreachable or stopped server reads "attnscope-server at HOST:PORT is not reachable (...)".
 */
Status fromGrpc(const grpc::Status& status, const std::string& target);

} // namespace attn::remote
