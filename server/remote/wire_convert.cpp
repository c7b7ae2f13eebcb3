// SPDX-License-Identifier: GPL-3.0-or-later
#include "wire_convert.h"

#include "attnscope/config.h"
#include "attnscope/dtype.h"
#include "json_limits.h"

#include <nlohmann/json.hpp>

#include <cstring>

// Values travel as little-endian bytes copied straight from memory.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "attnscope's wire format assumes a little-endian host");

namespace attn::remote {

namespace {

/// Proto3 enums are open: a peer may send any number, and only these two have a meaning.
bool knownValueType(v1::ValueType type)
{
    return type == v1::FLOAT32 || type == v1::FLOAT16;
}

/// A peer's tokens and their display strings must pair up: a client labels token i with display i.
Status checkTokenLabels(const char* what, int tokens, int display)
{
    if (tokens == display)
        return Status::ok();
    return Status::error(
        std::string(what) + ": " + std::to_string(tokens) + " tokens but " + std::to_string(display) + " token labels");
}

v1::Region toWire(const MapRegion& region)
{
    v1::Region out;
    switch (region.mode) {
    case MapRegion::Mode::Full:
        out.set_mode(v1::Region::FULL);
        break;
    case MapRegion::Mode::Overview:
        out.set_mode(v1::Region::OVERVIEW);
        break;
    case MapRegion::Mode::Window:
        out.set_mode(v1::Region::WINDOW);
        break;
    }
    out.set_overview_size(region.overviewSize);
    out.set_pool(toString(region.pool));
    out.set_row_begin(region.rowBegin);
    out.set_row_end(region.rowEnd);
    out.set_col_begin(region.colBegin);
    out.set_col_end(region.colEnd);
    return out;
}

Result<MapRegion> fromWire(const v1::Region& region)
{
    MapRegion out;
    switch (region.mode()) {
    case v1::Region::FULL:
        out.mode = MapRegion::Mode::Full;
        break;
    case v1::Region::OVERVIEW:
        out.mode = MapRegion::Mode::Overview;
        break;
    case v1::Region::WINDOW:
        out.mode = MapRegion::Mode::Window;
        break;
    default:
        return Status::error("region: unknown mode " + std::to_string(region.mode()));
    }
    if (!region.pool().empty()) {
        auto pool = parsePoolMode(region.pool());
        if (!pool)
            return Status::error("region: " + pool.message());
        out.pool = *pool;
    }
    if (region.overview_size() != 0)
        out.overviewSize = region.overview_size();
    out.rowBegin = region.row_begin();
    out.rowEnd = region.row_end();
    out.colBegin = region.col_begin();
    out.colEnd = region.col_end();
    return out;
}

void toWire(const HeadMetrics& m, v1::HeadMetrics* out)
{
    out->set_layer(m.layer);
    out->set_head(m.head);
    out->set_entropy(m.entropy);
    out->set_sink_mass(m.sinkMass);
    out->set_max_weight(m.maxWeight);
    out->set_mean_distance(m.meanDistance);
    out->set_negative_mass(m.negativeMass);
    out->set_lambda(m.lambda);
    out->set_mean_gate(m.meanGate);
    out->set_gate_row_sum(m.gateRowSum);
}

HeadMetrics fromWire(const v1::HeadMetrics& m)
{
    HeadMetrics out;
    out.layer = m.layer();
    out.head = m.head();
    out.entropy = m.entropy();
    out.sinkMass = m.sink_mass();
    out.maxWeight = m.max_weight();
    out.meanDistance = m.mean_distance();
    out.negativeMass = m.negative_mass();
    out.lambda = m.lambda();
    out.meanGate = m.mean_gate();
    out.gateRowSum = m.gate_row_sum();
    return out;
}

void toWire(const SpanAttention& s, v1::SpanAttention* out)
{
    out->set_to_span(s.toSpan);
    out->set_noise(s.noise);
    out->set_sink(s.sink);
    out->set_rest(s.rest);
    out->set_rows(s.rows);
}

SpanAttention fromWire(const v1::SpanAttention& s)
{
    SpanAttention out;
    out.toSpan = s.to_span();
    out.noise = s.noise();
    out.sink = s.sink();
    out.rest = s.rest();
    out.rows = s.rows();
    return out;
}

} // namespace

Result<ModelConfig> parseWireConfig(const std::string& json)
{
    // parseConfig reads attnscope's own config.json, whose tokenizer is "bytes" or "word"; an imported model's is
    // "tokenizer.json" or "checkpoint" (its tokenizer stays on the server). Parse with a stand-in, then put it back.
    // The text comes from a peer: parsed with the same depth and duplicate-key limits as a config.json on disk
    // (dump() below recurses, so a deeply nested value must be refused before it exists).
    nlohmann::json root;
    if (Status s = detail::parseUntrustedJson(json, {}, root); !s)
        return Status::error("the model config: " + s.message());
    if (!root.is_object() || !root.contains("tokenizer") || !root["tokenizer"].is_object())
        return Status::error("the model config is not a JSON object with a tokenizer");
    // Typed reads: json::value() throws on a field of another type, and nothing may throw out of here.
    const nlohmann::json& tokenizer = root["tokenizer"];
    const auto typeField = tokenizer.find("type");
    const auto bosField = tokenizer.find("add_bos");
    if ((typeField != tokenizer.end() && !typeField->is_string())
        || (bosField != tokenizer.end() && !bosField->is_boolean()))
        return Status::error("the model config: tokenizer.type must be a string and tokenizer.add_bos true or false");
    const std::string type = typeField != tokenizer.end() ? typeField->get<std::string>() : std::string();
    const bool addBos = bosField != tokenizer.end() && bosField->get<bool>();
    std::optional<TokenizerType> imported;
    for (TokenizerType t : {TokenizerType::HuggingFace, TokenizerType::Checkpoint})
        if (type == toString(t))
            imported = t;
    if (imported)
        root["tokenizer"] = {{"type", "word"}, {"vocab", "vocab.txt"}, {"lowercase", false}, {"add_bos", addBos}};
    auto config = parseConfig(root.dump());
    if (!config || !imported)
        return config;
    config->tokenizer = TokenizerConfig {};
    config->tokenizer.type = *imported;
    config->tokenizer.addBos = addBos;
    return config;
}

int64_t wireValueBytes(int64_t cells, v1::ValueType valueType)
{
    return cells * (valueType == v1::FLOAT16 ? 2 : 4);
}

v1::AnalyzeRequest toWire(const AnalysisRequest& request, v1::ValueType valueType)
{
    v1::AnalyzeRequest out;
    out.set_model_id(request.modelId);
    out.set_stream(request.stream);
    out.set_prompt(request.prompt);
    for (int64_t id : request.tokens)
        out.add_tokens(id);
    for (const HeadRef& h : request.heads) {
        v1::HeadRef* ref = out.add_heads();
        ref->set_layer(h.layer);
        ref->set_head(h.head);
    }
    for (MapKind kind : request.kinds)
        out.add_kinds(toString(kind));
    *out.mutable_region() = toWire(request.region);
    for (int64_t layer : request.everyHeadOfLayers)
        out.add_every_head_of_layers(layer);
    out.set_metrics(request.metrics);
    v1::SpanSpec* span = out.mutable_span();
    span->set_begin(request.span.begin);
    span->set_end(request.span.end);
    span->set_noise_end(request.span.noiseEnd);
    for (int64_t row : request.span.queryRows)
        span->add_query_rows(row);
    out.set_thumbnail_size(request.thumbnailSize);
    out.set_query_tile(request.queryTile);
    out.set_value_type(valueType);
    out.set_one_shot(!request.keepPromptState);
    return out;
}

Result<AnalysisRequest> fromWire(const v1::AnalyzeRequest& request)
{
    AnalysisRequest out;
    if (!knownValueType(request.value_type()))
        return Status::error("value_type: unknown value type " + std::to_string(request.value_type()));
    out.modelId = request.model_id();
    if (!request.stream().empty())
        out.stream = request.stream();
    out.prompt = request.prompt();
    out.tokens.assign(request.tokens().begin(), request.tokens().end());
    for (const v1::HeadRef& h : request.heads())
        out.heads.push_back({h.layer(), h.head()});
    for (const std::string& name : request.kinds()) {
        auto kind = parseMapKind(name);
        if (!kind)
            return Status::error("kinds: " + kind.message());
        out.kinds.push_back(*kind);
    }
    auto region = fromWire(request.region());
    if (!region)
        return region.status();
    out.region = *region;
    out.everyHeadOfLayers.assign(request.every_head_of_layers().begin(), request.every_head_of_layers().end());
    out.metrics = request.metrics();
    if (request.has_span()) {
        out.span.begin = request.span().begin();
        out.span.end = request.span().end();
        out.span.noiseEnd = request.span().noise_end();
        out.span.queryRows.assign(request.span().query_rows().begin(), request.span().query_rows().end());
    }
    out.thumbnailSize = request.thumbnail_size();
    out.queryTile = request.query_tile();
    out.keepPromptState = !request.one_shot();
    return out;
}

void toWire(const AttentionMap& map, v1::ValueType valueType, v1::AttentionMap* out)
{
    out->set_layer(map.layer);
    out->set_head(map.head);
    out->set_kind(toString(map.kind));
    out->set_rows(map.rows);
    out->set_cols(map.cols);
    out->set_row_begin(map.rowBegin);
    out->set_col_begin(map.colBegin);
    out->set_row_block(map.rowBlock);
    out->set_col_block(map.colBlock);
    out->set_value_type(valueType);
    std::string* bytes = out->mutable_values();
    if (valueType == v1::FLOAT16) {
        bytes->resize(map.values.size() * sizeof(uint16_t));
        for (size_t i = 0; i < map.values.size(); ++i) {
            const uint16_t half = floatToHalf(map.values[i]);
            std::memcpy(bytes->data() + i * sizeof half, &half, sizeof half);
        }
    } else {
        bytes->assign(reinterpret_cast<const char*>(map.values.data()), map.values.size() * sizeof(float));
    }
}

Result<AttentionMap> fromWire(const v1::AttentionMap& map)
{
    AttentionMap out;
    auto kind = parseMapKind(map.kind());
    if (!kind)
        return Status::error("map kind: " + kind.message());
    out.kind = *kind;
    out.layer = map.layer();
    out.head = map.head();
    out.rows = map.rows();
    out.cols = map.cols();
    out.rowBegin = map.row_begin();
    out.colBegin = map.col_begin();
    out.rowBlock = map.row_block();
    out.colBlock = map.col_block();
    const std::string where = "map L" + std::to_string(out.layer) + " H" + std::to_string(out.head);
    if (!knownValueType(map.value_type()))
        return Status::error(where + ": unknown value type " + std::to_string(map.value_type()));
    // Consumers index tokens with firstQuery/firstKey (begin + cell x block): nothing here may be negative, and a
    // block covers at least one token.
    if (out.layer < 0 || out.head < 0 || out.rowBegin < 0 || out.colBegin < 0 || out.rowBlock < 1 || out.colBlock < 1)
        return Status::error(where + ": bad geometry (first query " + std::to_string(out.rowBegin) + ", first key "
            + std::to_string(out.colBegin) + ", blocks " + std::to_string(out.rowBlock) + " x "
            + std::to_string(out.colBlock) + ")");
    if (out.rows < 0 || out.cols < 0 || (out.cols != 0 && out.rows > INT64_MAX / 4 / out.cols))
        return Status::error("map L" + std::to_string(out.layer) + " H" + std::to_string(out.head) + ": bad shape");
    const int64_t cells = out.rows * out.cols;
    const std::string& bytes = map.values();
    if (static_cast<int64_t>(bytes.size()) != wireValueBytes(cells, map.value_type()))
        return Status::error("map L" + std::to_string(out.layer) + " H" + std::to_string(out.head) + " " + map.kind()
            + ": " + std::to_string(bytes.size()) + " value bytes for " + std::to_string(out.rows) + " x "
            + std::to_string(out.cols) + " cells");
    out.values.resize(static_cast<size_t>(cells));
    if (map.value_type() == v1::FLOAT16) {
        for (size_t i = 0; i < out.values.size(); ++i) {
            uint16_t half = 0;
            std::memcpy(&half, bytes.data() + i * sizeof half, sizeof half);
            out.values[i] = halfToFloat(half);
        }
    } else if (!bytes.empty()) { // a map of no cells has no buffer: memcpy must not see its null pointer
        std::memcpy(out.values.data(), bytes.data(), bytes.size());
    }
    return out;
}

void toWire(const LayerResult& layer, v1::ValueType valueType, v1::LayerResult* out)
{
    out->set_request_id(layer.requestId);
    out->set_layer(layer.layer);
    out->set_lambda(layer.lambda);
    for (const AttentionMap& map : layer.maps)
        toWire(map, valueType, out->add_maps());
    for (const HeadMetrics& m : layer.metrics)
        toWire(m, out->add_metrics());
    for (const HeadSpan& s : layer.spans) {
        v1::HeadSpan* span = out->add_spans();
        span->set_layer(s.layer);
        span->set_head(s.head);
        toWire(s.span, span->mutable_span());
    }
    for (const AttentionMap& map : layer.thumbnails)
        toWire(map, valueType, out->add_thumbnails());
}

Result<LayerResult> fromWire(const v1::LayerResult& layer)
{
    LayerResult out;
    out.requestId = layer.request_id();
    out.layer = layer.layer();
    out.lambda = layer.lambda();
    for (const v1::AttentionMap& map : layer.maps()) {
        auto m = fromWire(map);
        if (!m)
            return m.status();
        out.maps.push_back(std::move(*m));
    }
    for (const v1::HeadMetrics& m : layer.metrics())
        out.metrics.push_back(fromWire(m));
    for (const v1::HeadSpan& s : layer.spans())
        out.spans.push_back({s.layer(), s.head(), fromWire(s.span())});
    for (const v1::AttentionMap& map : layer.thumbnails()) {
        auto m = fromWire(map);
        if (!m)
            return m.status();
        out.thumbnails.push_back(std::move(*m));
    }
    return out;
}

void toWire(const AnalysisStart& start, v1::Started* out)
{
    out->set_request_id(start.requestId);
    out->set_layers_total(start.layersTotal);
    for (int64_t id : start.tokens)
        out->add_tokens(id);
    for (const std::string& d : start.tokenDisplay)
        out->add_token_display(d);
}

Result<AnalysisStart> fromWire(const v1::Started& start)
{
    if (Status s = checkTokenLabels("started", start.tokens_size(), start.token_display_size()); !s)
        return s;
    AnalysisStart out;
    out.requestId = start.request_id();
    out.layersTotal = start.layers_total();
    out.tokens.assign(start.tokens().begin(), start.tokens().end());
    out.tokenDisplay.assign(start.token_display().begin(), start.token_display().end());
    return out;
}

void toWire(const AnalysisSummary& summary, v1::Summary* out)
{
    out->set_request_id(summary.requestId);
    out->set_model_id(summary.modelId);
    for (int64_t id : summary.tokens)
        out->add_tokens(id);
    for (const std::string& d : summary.tokenDisplay)
        out->add_token_display(d);
    for (double l : summary.lambda)
        out->add_lambda(l);
    out->mutable_last_logits()->Add(summary.lastLogits.begin(), summary.lastLogits.end());
    toWire(summary.spanAverage, out->mutable_span_average());
    out->set_layers_computed(summary.layersComputed);
    out->set_seconds(summary.seconds);
}

Result<AnalysisSummary> fromWire(const v1::Summary& summary)
{
    if (Status s = checkTokenLabels("summary", summary.tokens_size(), summary.token_display_size()); !s)
        return s;
    AnalysisSummary out;
    out.requestId = summary.request_id();
    out.modelId = summary.model_id();
    out.tokens.assign(summary.tokens().begin(), summary.tokens().end());
    out.tokenDisplay.assign(summary.token_display().begin(), summary.token_display().end());
    out.lambda.assign(summary.lambda().begin(), summary.lambda().end());
    out.lastLogits.assign(summary.last_logits().begin(), summary.last_logits().end());
    out.spanAverage = fromWire(summary.span_average());
    out.layersComputed = summary.layers_computed();
    out.seconds = summary.seconds();
    return out;
}

void toWire(const LoadedModel& model, v1::ModelInfo* out)
{
    out->set_model_id(model.id);
    out->set_path(model.path);
    out->set_name(model.name);
    out->set_format(model.format);
    out->set_device(model.device);
    out->set_dtype(model.dtype);
    out->set_config_json(configToJson(model.config));
    out->set_parameters(model.parameters);
    for (const auto& [key, value] : model.description) {
        v1::KeyValue* kv = out->add_description();
        kv->set_key(key);
        kv->set_value(value);
    }
    out->set_sample_prompt(model.samplePrompt);
}

Result<LoadedModel> fromWire(const v1::ModelInfo& info)
{
    LoadedModel out;
    auto config = parseWireConfig(info.config_json());
    if (!config)
        return Status::error("the server's model config: " + config.message());
    out.config = *config;
    out.id = info.model_id();
    out.path = info.path();
    out.name = info.name();
    out.format = info.format();
    out.device = info.device();
    out.dtype = info.dtype();
    out.parameters = info.parameters();
    for (const v1::KeyValue& kv : info.description())
        out.description.emplace_back(kv.key(), kv.value());
    out.samplePrompt = info.sample_prompt();
    return out;
}

std::vector<TensorInfo> tensorsFromWire(const v1::ModelInfo& info)
{
    std::vector<TensorInfo> out;
    for (const v1::TensorEntry& t : info.tensors()) {
        TensorInfo ti;
        ti.name = t.name();
        if (auto dtype = parseDTypeName(t.dtype()))
            ti.dtype = *dtype;
        ti.shape.assign(t.shape().begin(), t.shape().end());
        out.push_back(std::move(ti));
    }
    return out;
}

v1::StatusCode toWire(StatusCode code)
{
    switch (code) {
    case StatusCode::Ok:
        return v1::OK;
    case StatusCode::Invalid:
        return v1::INVALID;
    case StatusCode::Refused:
        return v1::REFUSED;
    case StatusCode::Cancelled:
        return v1::CANCELLED;
    case StatusCode::OutOfMemory:
        return v1::OUT_OF_MEMORY;
    case StatusCode::Io:
        return v1::IO;
    case StatusCode::Internal:
        return v1::INTERNAL;
    }
    return v1::INTERNAL;
}

StatusCode fromWire(v1::StatusCode code)
{
    switch (code) {
    case v1::OK:
        return StatusCode::Ok;
    case v1::INVALID:
        return StatusCode::Invalid;
    case v1::REFUSED:
        return StatusCode::Refused;
    case v1::CANCELLED:
        return StatusCode::Cancelled;
    case v1::OUT_OF_MEMORY:
        return StatusCode::OutOfMemory;
    case v1::IO:
        return StatusCode::Io;
    default:
        return StatusCode::Internal;
    }
}

} // namespace attn::remote
