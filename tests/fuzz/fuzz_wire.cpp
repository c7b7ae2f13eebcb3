// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer target: attnscope-server's messages from both ends of the wire. The first byte says which message the
// rest encodes (protobuf, server/proto/attnscope.proto):
//   0 AnalyzeRequest: what the server does before the engine (remote::fromWire, then checkAnalyzeRequest, the
//     prompt tokenized as bytes when no tokens are given); an accepted request must convert back to the same bytes.
//   1 LayerResult, 2 Started, 3 Summary, 4 ModelInfo, 5 AnalyzeEvent: what the client does with a server's replies
//     (a client must not trust a server either); an accepted map must hold rows x cols values.
#include "fuzz_util.h"

#include "request_checks.h"
#include "wire_convert.h"

#include "attnscope/tokenizer.h"

#include <cstdlib>

namespace {

using namespace attn;

constexpr int64_t kMessageLimit = int64_t(64) << 20; // attnscope-server's default --max-message-mib

void checkMap(const AttentionMap& map)
{
    if (map.rows < 0 || map.cols < 0 || static_cast<int64_t>(map.values.size()) != map.rows * map.cols
        || map.rowBlock < 1 || map.colBlock < 1 || map.rowBegin < 0 || map.colBegin < 0)
        __builtin_trap(); // fromWire accepted a map its consumers cannot index
    if (!map.values.empty())
        fuzz::consume(map.at(map.rows - 1, map.cols - 1));
}

void serverSide(const v1::AnalyzeRequest& wire)
{
    auto request = remote::fromWire(wire);
    if (!request)
        return;
    // What was accepted converts back to the same message (the client and the server agree by construction).
    const std::string once = remote::toWire(*request, wire.value_type()).SerializeAsString();
    auto again = remote::fromWire(remote::toWire(*request, wire.value_type()));
    if (!again || remote::toWire(*again, wire.value_type()).SerializeAsString() != once)
        __builtin_trap();
    if (request->tokens.empty())
        request->tokens = ByteTokenizer().encode(request->prompt);
    fuzz::consume(server::checkAnalyzeRequest(*request, remote::wireValueBytes(1, wire.value_type()), kMessageLimit));
}

void clientLayer(const v1::LayerResult& wire)
{
    auto layer = remote::fromWire(wire);
    if (!layer)
        return;
    for (const AttentionMap& map : layer->maps)
        checkMap(map);
    for (const AttentionMap& map : layer->thumbnails)
        checkMap(map);
}

void clientStarted(const v1::Started& wire)
{
    auto start = remote::fromWire(wire);
    if (start && start->tokens.size() != start->tokenDisplay.size())
        __builtin_trap();
}

void clientSummary(const v1::Summary& wire)
{
    auto summary = remote::fromWire(wire);
    if (summary && summary->tokens.size() != summary->tokenDisplay.size())
        __builtin_trap();
}

void clientModelInfo(const v1::ModelInfo& wire)
{
    auto model = remote::fromWire(wire);
    if (model)
        fuzz::consume(configToJson(model->config));
    fuzz::consume(remote::tensorsFromWire(wire).size());
}

void clientEvent(const v1::AnalyzeEvent& event)
{
    switch (event.event_case()) {
    case v1::AnalyzeEvent::kStarted:
        clientStarted(event.started());
        break;
    case v1::AnalyzeEvent::kLayer:
        clientLayer(event.layer());
        break;
    case v1::AnalyzeEvent::kSummary:
        clientSummary(event.summary());
        break;
    case v1::AnalyzeEvent::kFailure:
        fuzz::consume(remote::fromWire(event.failure().code()));
        break;
    default:
        break;
    }
}

template <typename Message, typename F> void parsed(const uint8_t* data, size_t size, F&& use)
{
    Message message;
    if (message.ParseFromArray(data, static_cast<int>(size)))
        use(message);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    if (size < 1 || size > (size_t(1) << 24))
        return 0;
    const uint8_t selector = data[0];
    ++data;
    --size;
    switch (selector % 6) {
    case 0:
        parsed<v1::AnalyzeRequest>(data, size, serverSide);
        break;
    case 1:
        parsed<v1::LayerResult>(data, size, clientLayer);
        break;
    case 2:
        parsed<v1::Started>(data, size, clientStarted);
        break;
    case 3:
        parsed<v1::Summary>(data, size, clientSummary);
        break;
    case 4:
        parsed<v1::ModelInfo>(data, size, clientModelInfo);
        break;
    case 5:
        parsed<v1::AnalyzeEvent>(data, size, clientEvent);
        break;
    }
    return 0;
}
