// SPDX-License-Identifier: GPL-3.0-or-later
#include "wire_status.h"

namespace attn::remote {

grpc::Status toGrpc(const Status& status)
{
    switch (status.code()) {
    case StatusCode::Ok:
        return grpc::Status::OK;
    case StatusCode::Invalid:
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, status.message());
    case StatusCode::Refused:
        return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, status.message());
    case StatusCode::Cancelled:
        return grpc::Status(grpc::StatusCode::CANCELLED, status.message());
    case StatusCode::OutOfMemory:
        return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, status.message());
    case StatusCode::Io:
        return grpc::Status(grpc::StatusCode::UNAVAILABLE, status.message());
    case StatusCode::Internal:
        break;
    }
    return grpc::Status(grpc::StatusCode::INTERNAL, status.message());
}

Status fromGrpc(const grpc::Status& status, const std::string& target)
{
    const std::string& message = status.error_message();
    const std::string server = "attnscope-server at " + target;
    switch (status.error_code()) {
    case grpc::StatusCode::OK:
        return Status::ok();
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::NOT_FOUND:
    case grpc::StatusCode::OUT_OF_RANGE:
    case grpc::StatusCode::FAILED_PRECONDITION:
        return Status::error(StatusCode::Invalid, message);
    case grpc::StatusCode::PERMISSION_DENIED:
        return Status::error(StatusCode::Refused, message);
    case grpc::StatusCode::UNAUTHENTICATED:
        return Status::error(StatusCode::Refused,
            server + " refused the token: " + message + " (set ATTNSCOPE_TOKEN or --token-file to the server's token)");
    case grpc::StatusCode::CANCELLED:
        return Status::cancelled(message.empty() ? "cancelled" : message);
    case grpc::StatusCode::RESOURCE_EXHAUSTED: // a message size limit (the engine's own out-of-memory comes in-stream)
        return Status::error(StatusCode::Refused, server + ": " + message);
    case grpc::StatusCode::UNAVAILABLE:
        return Status::error(StatusCode::Io,
            server + " is not reachable (it stopped, or nothing listens there, or TLS does not match): " + message);
    case grpc::StatusCode::DEADLINE_EXCEEDED:
        return Status::error(StatusCode::Io, server + " did not answer in time: " + message);
    default:
        break;
    }
    return Status::error(StatusCode::Internal, server + ": " + message);
}

} // namespace attn::remote
