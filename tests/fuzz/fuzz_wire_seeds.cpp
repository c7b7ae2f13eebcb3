// SPDX-License-Identifier: GPL-3.0-or-later
// Writes fuzz_wire's seed corpus: real messages as attnscope-server and its client exchange them, made by the real
// conversions (remote::toWire) from real data: a bundled model's config and sample prompt, attention maps the
// reference implementation computed (tests/data/ram-cope), the requests the CLI's and the app's views send.
// Each file is the selector byte fuzz_wire reads first, then the message.
//
//   fuzz_wire_seeds OUTPUT_DIR
#include "wire_convert.h"

#include "attnscope/config.h"
#include "attnscope/npy.h"
#include "attnscope/tokenizer.h"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

namespace {

using namespace attn;
namespace fs = std::filesystem;

enum Selector : char { kRequest = 0, kLayer = 1, kStarted = 2, kSummary = 3, kModelInfo = 4, kEvent = 5 };

int g_failures = 0;

void write(const fs::path& dir, const std::string& name, Selector selector, const google::protobuf::Message& message)
{
    std::ofstream out(dir / name, std::ios::binary);
    out.put(selector);
    out << message.SerializeAsString();
    if (!out) {
        std::cerr << "fuzz_wire_seeds: cannot write " << (dir / name) << "\n";
        ++g_failures;
    }
}

std::string readText(const fs::path& path)
{
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

/// One map the reference implementation wrote (a .npy of rows x cols float32).
AttentionMap referenceMap(const fs::path& npy, int64_t layer, int64_t head, MapKind kind)
{
    AttentionMap map;
    auto array = readNpyFloat32(npy.string());
    if (!array || array->shape.size() != 2) {
        std::cerr << "fuzz_wire_seeds: " << npy << ": " << (array ? "not 2-D" : array.message()) << "\n";
        ++g_failures;
        return map;
    }
    map.layer = layer;
    map.head = head;
    map.kind = kind;
    map.rows = array->shape[0];
    map.cols = array->shape[1];
    map.values = std::move(array->values);
    return map;
}

std::vector<AnalysisRequest> requests(const std::vector<int64_t>& tokens, const std::string& prompt)
{
    std::vector<AnalysisRequest> out;
    AnalysisRequest full; // the CLI's `maps`: chosen heads, full maps, one shot
    full.modelId = 1;
    full.tokens = tokens;
    full.heads = {{0, 0}, {1, 1}};
    full.kinds = {MapKind::A, MapKind::D, MapKind::DN};
    full.keepPromptState = false;
    out.push_back(full);
    AnalysisRequest overview = full; // the app's overview of a long prompt, from its text
    overview.tokens.clear();
    overview.prompt = prompt;
    overview.region = MapRegion::overview(64, PoolMode::Mean);
    overview.keepPromptState = true;
    out.push_back(overview);
    AnalysisRequest window = full; // a window, with metrics and span numbers
    window.region = MapRegion::window(2, 10, 0, 10);
    window.metrics = true;
    window.span.begin = 1;
    window.span.end = 4;
    window.span.noiseEnd = 6;
    window.span.queryRows = {7, 8};
    out.push_back(window);
    AnalysisRequest batch = full; // batch export: every head of two layers, thumbnails
    batch.stream = "batch";
    batch.heads.clear();
    batch.everyHeadOfLayers = {0, 1};
    batch.thumbnailSize = 48;
    batch.queryTile = 16;
    out.push_back(batch);
    return out;
}

} // namespace

int main(int argc, char** argv)
{
    if (argc != 2) {
        std::cerr << "usage: fuzz_wire_seeds OUTPUT_DIR\n";
        return 2;
    }
    const fs::path out(argv[1]);
    fs::create_directories(out);
    const fs::path source(ATTNSCOPE_SOURCE_DIR);
    const fs::path model = source / "resources/models/needles-diff-rope";
    const fs::path maps = source / "tests/data/ram-cope/cope-postnorm/prompt_short";

    const std::string prompt = readText(model / "sample_prompt.txt").substr(0, 200);
    const ByteTokenizer tokenizer;
    const std::vector<int64_t> tokens = tokenizer.encode(prompt);

    int i = 0;
    for (const AnalysisRequest& r : requests(tokens, prompt)) {
        write(out, "request" + std::to_string(i) + "_f32", kRequest, remote::toWire(r, v1::FLOAT32));
        write(out, "request" + std::to_string(i++) + "_f16", kRequest, remote::toWire(r, v1::FLOAT16));
    }

    LayerResult layer;
    layer.requestId = 7;
    layer.layer = 1;
    layer.lambda = 0.8;
    layer.maps
        = {referenceMap(maps / "L1_H0_A.npy", 1, 0, MapKind::A), referenceMap(maps / "L1_H1_G.npy", 1, 1, MapKind::G)};
    HeadMetrics metrics;
    metrics.layer = 1;
    metrics.head = 0;
    metrics.entropy = 1.5;
    metrics.sinkMass = 0.25;
    layer.metrics = {metrics};
    layer.spans = {{1, 0, SpanAttention {0.5, 0.25, 0.125, 0.125, 2}}};
    AttentionMap thumbnail = referenceMap(maps / "L0_H0_A.npy", 1, 0, MapKind::A);
    layer.thumbnails = {thumbnail};
    for (v1::ValueType type : {v1::FLOAT32, v1::FLOAT16}) {
        const std::string suffix = type == v1::FLOAT16 ? "_f16" : "_f32";
        v1::AnalyzeEvent event;
        remote::toWire(layer, type, event.mutable_layer());
        write(out, "layer" + suffix, kLayer, event.layer());
        write(out, "event_layer" + suffix, kEvent, event);
    }

    AnalysisStart start;
    start.requestId = 7;
    start.layersTotal = 2;
    start.tokens = tokens;
    for (int64_t id : tokens)
        start.tokenDisplay.push_back(tokenizer.display(id));
    v1::AnalyzeEvent started;
    remote::toWire(start, started.mutable_started());
    write(out, "started", kStarted, started.started());
    write(out, "event_started", kEvent, started);

    AnalysisSummary summary;
    summary.requestId = 7;
    summary.modelId = 1;
    summary.tokens = start.tokens;
    summary.tokenDisplay = start.tokenDisplay;
    summary.lambda = {0.8, 0.7};
    summary.lastLogits = {0.5f, -1.0f, 2.0f};
    summary.spanAverage = SpanAttention {0.5, 0.25, 0.125, 0.125, 4};
    summary.layersComputed = 2;
    summary.seconds = 0.25;
    v1::AnalyzeEvent finished;
    remote::toWire(summary, finished.mutable_summary());
    write(out, "summary", kSummary, finished.summary());
    write(out, "event_summary", kEvent, finished);

    v1::AnalyzeEvent failure;
    failure.mutable_failure()->set_request_id(7);
    failure.mutable_failure()->set_code(remote::toWire(StatusCode::Cancelled));
    failure.mutable_failure()->set_message("superseded by request 8");
    write(out, "event_failure", kEvent, failure);

    for (const auto& entry : fs::directory_iterator(source / "resources/models")) {
        auto config = loadConfig((entry.path() / "config.json").string());
        if (!config) {
            std::cerr << "fuzz_wire_seeds: " << config.message() << "\n";
            ++g_failures;
            continue;
        }
        LoadedModel loaded;
        loaded.id = 1;
        loaded.path = entry.path().string();
        loaded.name = entry.path().filename().string();
        loaded.format = "attnscope";
        loaded.device = "cpu";
        loaded.dtype = "fp32";
        loaded.config = *config;
        loaded.parameters = 12345;
        loaded.description = {{"attention", toString(config->attention)}};
        v1::ModelInfo info;
        remote::toWire(loaded, &info);
        v1::TensorEntry* tensor = info.add_tensors();
        tensor->set_name("embed.weight");
        tensor->set_dtype("F32");
        tensor->add_shape(config->vocabSize);
        tensor->add_shape(config->dModel);
        write(out, "model_info_" + loaded.name, kModelInfo, info);
    }
    return g_failures == 0 ? 0 : 1;
}
