// SPDX-License-Identifier: GPL-3.0-or-later
// One writer of provenance for every export: the CLI's maps.json and every sidecar the app writes.
#include "attnscope/export.h"

#include "attnscope/fileio.h"
#include "export/provenance_json.h"
#include "export/text_escape.h"

#include <cmath>
#include <ctime>

namespace attn {

namespace exportfmt {

nlohmann::ordered_json numberOrNull(double value)
{
    return std::isfinite(value) ? nlohmann::ordered_json(value) : nlohmann::ordered_json();
}

namespace {

std::string utcNow()
{
    const std::time_t now = std::time(nullptr);
    std::tm utc {};
    gmtime_r(&now, &utc);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
    return text;
}

} // namespace

nlohmann::ordered_json originObject(const Provenance& p)
{
    using nlohmann::ordered_json;
    ordered_json json;
    json["attnscope_version"] = attnscopeVersion();
    json["created"] = utcNow();
    putText(json, "front_end", p.frontEnd);
    json["request_id"] = p.requestId != 0 ? ordered_json(p.requestId) : ordered_json();
    ordered_json model;
    putText(model, "path", p.modelPath);
    putText(model, "name", p.modelName);
    model["format"] = p.modelFormat;
    model["sha256"] = p.weightsSha256;
    model["attention"] = p.attention;
    model["position"] = p.position;
    json["model"] = std::move(model);
    json["device"] = p.device;
    json["dtype"] = p.dtype;
    putText(json, "prompt", p.prompt);
    json["tokens"] = p.tokens;
    putTextArray(json, "display", p.tokenDisplay);
    return json;
}

} // namespace exportfmt

std::string attnscopeVersion()
{
    return ATTNSCOPE_VERSION;
}

std::string regionText(const MapRegion& r)
{
    switch (r.mode) {
    case MapRegion::Mode::Overview:
        return "overview " + std::to_string(r.overviewSize) + " " + toString(r.pool);
    case MapRegion::Mode::Window:
        return "window " + std::to_string(r.rowBegin) + ":" + std::to_string(r.rowEnd) + ","
            + std::to_string(r.colBegin) + ":" + std::to_string(r.colEnd);
    case MapRegion::Mode::Full:
        break;
    }
    return "full";
}

std::string regionText(const AttentionMap& map, int64_t tokenCount)
{
    if (map.rowBlock > 1 || map.colBlock > 1)
        return "overview " + std::to_string(map.rows) + "x" + std::to_string(map.cols) + " cells of "
            + std::to_string(map.rowBlock) + "x" + std::to_string(map.colBlock) + " tokens";
    const bool whole
        = map.rowBegin == 0 && map.colBegin == 0 && map.rows == map.cols && (tokenCount < 0 || map.rows == tokenCount);
    if (whole)
        return "full";
    return "window " + std::to_string(map.rowBegin) + ":" + std::to_string(map.rowBegin + map.rows) + ","
        + std::to_string(map.colBegin) + ":" + std::to_string(map.colBegin + map.cols);
}

void describeMap(Provenance& p, const AttentionMap& map)
{
    p.layer = map.layer;
    p.head = map.head;
    p.kind = toString(map.kind);
    AttentionMap geometry;
    geometry.layer = map.layer;
    geometry.head = map.head;
    geometry.kind = map.kind;
    geometry.rows = map.rows;
    geometry.cols = map.cols;
    geometry.rowBegin = map.rowBegin;
    geometry.colBegin = map.colBegin;
    geometry.rowBlock = map.rowBlock;
    geometry.colBlock = map.colBlock;
    p.regionOf = std::move(geometry); // without the values: a copy of a 64K-token map's cells would be 16 GiB
    if (map.layer >= 0 && static_cast<size_t>(map.layer) < p.lambdaPerLayer.size())
        p.lambda = p.lambdaPerLayer[static_cast<size_t>(map.layer)];
}

std::string provenanceJson(const Provenance& p)
{
    using exportfmt::numberOrNull;
    using nlohmann::ordered_json;
    ordered_json json = exportfmt::originObject(p);
    json["layer"] = p.layer >= 0 ? ordered_json(p.layer) : ordered_json();
    json["head"] = p.head >= 0 ? ordered_json(p.head) : ordered_json();
    json["kind"] = p.kind;
    if (p.regionOf) {
        const AttentionMap& m = *p.regionOf;
        json["region"] = p.region.empty()
            ? regionText(m, p.tokens.empty() ? int64_t {-1} : static_cast<int64_t>(p.tokens.size()))
            : p.region;
        json["shape"] = {m.rows, m.cols};
        json["first_query"] = m.rowBegin;
        json["first_key"] = m.colBegin;
        json["block"] = {m.rowBlock, m.colBlock};
        json["layout"] = "float32, row = query token, column = key token, masked (future) = NaN / empty CSV cell; "
                         "cell (r, c) covers queries first_query + r*block[0] .. +block[0] and keys "
                         "first_key + c*block[1] .. +block[1]";
    } else if (!p.region.empty()) {
        json["region"] = p.region;
    }
    json["lambda"] = numberOrNull(p.lambda);
    if (!p.lambdaPerLayer.empty()) {
        ordered_json all = ordered_json::array();
        for (double l : p.lambdaPerLayer)
            all.push_back(numberOrNull(l));
        json["lambda_per_layer"] = std::move(all);
    }
    json["color_scale"] = p.colorScale;
    json["color_range"] = {numberOrNull(p.colorLow), numberOrNull(p.colorHigh)};
    // Every string above is valid UTF-8 by construction; replace is a second guard, never a throw.
    return json.dump(2, ' ', false, ordered_json::error_handler_t::replace) + "\n";
}

std::string sidecarPath(const std::string& dataPath)
{
    return dataPath + ".json";
}

Status writeSidecar(const std::string& dataPath, const Provenance& provenance)
{
    try {
        const std::string path = sidecarPath(dataPath);
        if (Status s = writeFileAtomic(path, provenanceJson(provenance)); !s)
            return Status::error(StatusCode::Io, "provenance sidecar: " + s.message());
        return Status::ok();
    } catch (const std::exception& e) {
        return Status::error(StatusCode::Internal, "provenance sidecar of \"" + dataPath + "\": " + e.what());
    }
}

} // namespace attn
