// SPDX-License-Identifier: GPL-3.0-or-later
// A plain state_dict (torch.save of model.state_dict(), e.g. the official DIFF module inside a researcher's own
// Llama-style model, named as the unilm YOCO code names it: interop.md 4.4) opens with a sidecar FILE.attnscope.json:
// an attnscope config.json (the shape facts the file lacks) plus where the weights are and how they are named.
#include "attnscope/fileio.h"
#include "attnscope/model_format.h"
#include "attnscope/pt_checkpoint.h"
#include "attnscope/tensor_names.h"
#include "json_limits.h"
#include "model_source_formats.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <regex>

namespace attn::detail {

namespace {

namespace fs = std::filesystem;

struct WeightsLocation {
    std::string key; ///< the top-level dict entry holding the state_dict ("" = the top level itself)
    std::string prefix; ///< stripped from every name ("decoder.model.", "module.")
    std::string names = "yoco"; ///< yoco: layers.{i}.attention.* and wq/wk/wv/wo; attnscope: our own names
};

Result<WeightsLocation> readLocation(const nlohmann::json& sidecar, const std::string& origin)
{
    WeightsLocation where;
    const auto it = sidecar.find("state_dict");
    if (it == sidecar.end())
        return where;
    if (!it->is_object())
        return Status::error(origin + ": \"state_dict\" must be an object {\"key\", \"prefix\", \"names\"}");
    for (const auto& [field, value] : it->items()) {
        if (!value.is_string())
            return Status::error(origin + ": state_dict." + field + " must be a string");
        if (field == "key")
            where.key = value.get<std::string>();
        else if (field == "prefix")
            where.prefix = value.get<std::string>();
        else if (field == "names")
            where.names = value.get<std::string>();
        else
            return Status::error(origin + ": state_dict." + field + " is not a known field (key, prefix, names)");
    }
    if (where.names != "yoco" && where.names != "attnscope")
        return Status::error(origin + ": state_dict.names \"" + where.names + "\" is not yoco or attnscope");
    return where;
}

// YOCO's softmax layers name the attention projections as LLaMA does.
const std::pair<TensorId, const char*> kYocoProjections[] = {
    {TensorId::QProj, "wq.weight"},
    {TensorId::QProjBias, "wq.bias"},
    {TensorId::KProj, "wk.weight"},
    {TensorId::KProjBias, "wk.bias"},
    {TensorId::VProj, "wv.weight"},
    {TensorId::VProjBias, "wv.bias"},
    {TensorId::OutProj, "wo.weight"},
    {TensorId::OutProjBias, "wo.bias"},
};

// The engine's name for a stored name (prefix already stripped). YOCO's names are ours but for the attention block:
// "layers.N.attention.X" is ours under the block's own prefix, the softmax projections renamed.
std::string internalName(const std::string& name, const std::string& style)
{
    if (style != "yoco")
        return name;
    static const std::regex attention(R"(^(layers\.\d+\.)attention\.(.+)$)");
    std::smatch m;
    if (!std::regex_match(name, m, attention))
        return name;
    const std::string layer = m[1].str(), rest = m[2].str();
    for (const auto& [id, yoco] : kYocoProjections)
        if (rest == yoco)
            return layer + tensorName(id);
    return layer + kAttentionBlockPrefix + rest;
}

} // namespace

Result<std::unique_ptr<ModelSource>> openStateDictWithSidecar(const std::string& path, const std::string& sidecarPath)
{
    Result<std::string> text = readRegularFile(sidecarPath, detail::kMaxConfigBytes);
    if (!text)
        return text.status();
    nlohmann::json sidecar;
    if (Status parsed = detail::parseUntrustedJson(*text, {}, sidecar); !parsed)
        return Status::error(sidecarPath + ": " + parsed.message());
    if (!sidecar.is_object())
        return Status::error(sidecarPath + ": not a JSON object");
    auto where = readLocation(sidecar, sidecarPath);
    if (!where)
        return where.status();
    sidecar.erase("state_dict");
    auto config = parseConfig(sidecar.dump());
    if (!config)
        return Status::error(sidecarPath + ": " + config.message());
    const std::string sidecarDir = fs::path(sidecarPath).parent_path().string();
    auto tokenizer = makeTokenizer(config->tokenizer, sidecarDir);
    if (!tokenizer)
        return Status::error(sidecarPath + ": " + tokenizer.message());

    auto file = PtCheckpoint::open(path);
    if (!file)
        return file.status();
    const PickleValue* dict = &(*file)->root();
    if (!where->key.empty()) {
        dict = dict->find(where->key);
        if (!dict)
            return Status::error(path + ": the file has no top-level entry '" + where->key + "' (state_dict.key in "
                + sidecarPath + ")");
    }
    auto tensors = listTensors(*dict, where->key.empty() ? "the state_dict" : where->key);
    if (!tensors)
        return Status::error(path + ": " + tensors.message());

    auto source = std::make_unique<ModelSource>();
    source->path = path;
    source->format = "pytorch";
    source->config = *config;
    source->tokenizer = std::move(tokenizer).value();
    std::vector<std::string> outside; // names without the prefix are not weights of the model
    for (const PtNamedTensor& named : *tensors) {
        if (named.name.compare(0, where->prefix.size(), where->prefix) != 0) {
            outside.push_back(named.name);
            continue;
        }
        auto stored = storedTensorFromPt(named, path);
        if (!stored)
            return stored.status();
        source->recipes[internalName(named.name.substr(where->prefix.size()), where->names)]
            = {named.name, false, {}, {}};
        source->stored.push_back(std::move(stored).value());
    }
    keepNeededRecipes(*source);
    if (Status s = checkRecipes(*source, outside, sidecarPath); !s)
        return s;
    source->weightFiles = {path};
    source->description
        = {{"format", "PyTorch state_dict with the sidecar " + fs::path(sidecarPath).filename().string()},
            {"names", where->names + (where->prefix.empty() ? "" : ", prefix " + where->prefix)}};
    source->keepAlive.push_back(std::shared_ptr<PtCheckpoint>(std::move(file).value()));
    return source;
}

} // namespace attn::detail
