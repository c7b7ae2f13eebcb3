// SPDX-License-Identifier: GPL-3.0-or-later
// This build has no gRPC (ATTNSCOPE_BUILD_SERVER=OFF): --server says so.
#include "model_facts.h"

namespace attn::cli {

namespace {

Status noRemote()
{
    return Status::error(StatusCode::Refused,
        "--server: this attnscope-cli was built without gRPC (ATTNSCOPE_BUILD_SERVER=OFF; install libgrpc++-dev and "
        "protobuf-compiler-grpc and rebuild)");
}

} // namespace

Result<std::unique_ptr<MapsModel>> openRemoteMapsModel(const ServerArgs&, const std::string&, const RunOptions&)
{
    return noRemote();
}

Result<InfoFacts> remoteInfoFacts(const ServerArgs&, const std::string&)
{
    return noRemote();
}

} // namespace attn::cli
