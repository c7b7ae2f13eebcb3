// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Core value types <-> attnscope.v1 messages. Both directions live here so the server and the client agree by
// construction; the round trip is exact for float32 maps and every number field.

#include "attnscope.pb.h"

#include "attnscope/analysis.h"
#include "attnscope/analysis_engine.h"
#include "attnscope/safetensors.h"
#include "attnscope/status.h"

#include <string>
#include <vector>

namespace attn {
/// The wire messages' namespace (package attnscope.v1), shortened.
namespace v1 = ::attnscope::v1;
} // namespace attn

namespace attn::remote {

// Requests.
v1::AnalyzeRequest toWire(const AnalysisRequest& request, v1::ValueType valueType);
/// Checks kind names and the region's pool; the stream is copied as sent (the server scopes it per connection).
Result<AnalysisRequest> fromWire(const v1::AnalyzeRequest& request);

// Results.
void toWire(const AttentionMap& map, v1::ValueType valueType, v1::AttentionMap* out);
/// Checks the value type, the geometry (nothing negative, blocks of at least one token) and that the byte count
/// matches rows x cols and the value type: a client must not trust a server either.
Result<AttentionMap> fromWire(const v1::AttentionMap& map);
void toWire(const LayerResult& layer, v1::ValueType valueType, v1::LayerResult* out);
Result<LayerResult> fromWire(const v1::LayerResult& layer);
void toWire(const AnalysisStart& start, v1::Started* out);
/// Checks that every token has its label (a client labels its axes with them).
Result<AnalysisStart> fromWire(const v1::Started& start);
void toWire(const AnalysisSummary& summary, v1::Summary* out);
/// Checks that every token has its label.
Result<AnalysisSummary> fromWire(const v1::Summary& summary);

// Model facts.
void toWire(const LoadedModel& model, v1::ModelInfo* out);
/// The config is parsed back from its JSON; the tokenizer stays on the server (null here).
Result<LoadedModel> fromWire(const v1::ModelInfo& info);
std::vector<TensorInfo> tensorsFromWire(const v1::ModelInfo& info);

v1::StatusCode toWire(StatusCode code);
StatusCode fromWire(v1::StatusCode code);

/// A config as configToJson wrote it, for any model the server opens (its own parseConfig refuses the tokenizer
/// types of imported models: tokenizer.json, checkpoint). configToJson of the result gives the same text back.
Result<ModelConfig> parseWireConfig(const std::string& json);

/// Bytes one map takes on the wire (values only), for the server's message-size check before a run.
int64_t wireValueBytes(int64_t cells, v1::ValueType valueType);

} // namespace attn::remote
