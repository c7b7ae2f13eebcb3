// SPDX-License-Identifier: GPL-3.0-or-later
#include "pt_info.h"

#include "cli_common.h"

#include "attnscope/model_format.h"
#include "attnscope/pt_checkpoint.h"

#include <nlohmann/json.hpp>

#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>
#include <unordered_set>

#include <sys/stat.h>

namespace attn::cli {

namespace {

using Kind = PickleValue::Kind;

struct FoundTensor {
    std::string path;
    const PtTensor* tensor;
};

std::string keyText(const PickleValue& key)
{
    if (key.is(Kind::String))
        return key.asString();
    if (key.is(Kind::Int))
        return std::to_string(key.asInt());
    return "<" + key.typeName() + ">";
}

// Every tensor reachable from `value` by its path ("model/module.x.weight"). A tensor is listed under each
// key that holds it (torch pickles a tensor saved twice once and refers back to it), but each container is
// walked once: shared references form a DAG whose paths could be exponentially many.
void collectTensors(const PickleValue& value, const std::string& path, std::unordered_set<const PickleValue*>& seen,
    std::vector<FoundTensor>& out)
{
    if (value.is(Kind::Tensor)) {
        out.push_back({path, &value.tensor()});
        return;
    }
    if (!seen.insert(&value).second)
        return;
    const std::string prefix = path.empty() ? "" : path + "/";
    for (std::size_t i = 0; i < value.items().size(); ++i)
        collectTensors(*value.items()[i], prefix + std::to_string(i), seen, out);
    for (const auto& [key, item] : value.entries())
        collectTensors(*item, prefix + keyText(*key), seen, out);
    if (value.state())
        collectTensors(*value.state(), path, seen, out);
}

std::string shortText(const std::string& text)
{
    return text.size() <= 48 ? text : text.substr(0, 45) + "...";
}

// One line about a value: its type and size, or a scalar's value.
std::string summarize(const PickleValue& v)
{
    std::ostringstream out;
    switch (v.kind()) {
    case Kind::None:
        return "None";
    case Kind::Bool:
        return v.asBool() ? "True" : "False";
    case Kind::Int:
        return std::to_string(v.asInt());
    case Kind::Float:
        out << v.asFloat();
        return out.str();
    case Kind::String:
        return "'" + shortText(v.asString()) + "'";
    case Kind::Bytes:
        return "bytes[" + std::to_string(v.asString().size()) + "]";
    case Kind::List:
        return "list of " + std::to_string(v.items().size());
    case Kind::Tuple:
        return "tuple of " + std::to_string(v.items().size());
    case Kind::Dict:
        return "dict of " + std::to_string(v.entries().size());
    case Kind::Global:
        return "global " + v.typeName();
    case Kind::Object:
        return v.typeName() + " object (inert)";
    case Kind::Storage:
        return "storage '" + v.storage().key + "'";
    case Kind::Tensor:
        return "tensor " + ptScalarName(v.tensor().dtype) + " " + shapeToString(v.tensor().shape);
    }
    return "?";
}

// The top of the object graph, two levels deep, at most `limit` children per container.
void printOutline(const PickleValue& v, const std::string& label, int depth, int maxDepth)
{
    constexpr std::size_t limit = 12;
    std::cout << std::string(2 * static_cast<std::size_t>(depth + 1), ' ') << label << ": " << summarize(v) << "\n";
    if (depth >= maxDepth)
        return;
    const PickleValue* fields = v.is(Kind::Object) && v.state() && v.state()->is(Kind::Dict) ? v.state() : &v;
    std::size_t shown = 0;
    for (const auto& [key, item] : fields->entries()) {
        if (shown++ == limit) {
            std::cout << std::string(2 * static_cast<std::size_t>(depth + 2), ' ') << "... "
                      << fields->entries().size() - limit << " more\n";
            break;
        }
        printOutline(*item, keyText(*key), depth + 1, maxDepth);
    }
}

// A name column that stays readable when a name is longer than the column.
std::string column(const std::string& text, std::size_t width)
{
    return text.size() < width ? text + std::string(width - text.size(), ' ') : text + " ";
}

std::vector<std::vector<std::string>> aliasGroups(const std::vector<FoundTensor>& tensors)
{
    std::map<const PtStorage*, std::vector<std::string>> byStorage;
    std::vector<const PtStorage*> order;
    for (const FoundTensor& t : tensors) {
        auto& names = byStorage[t.tensor->storage];
        if (names.empty())
            order.push_back(t.tensor->storage);
        names.push_back(t.path);
    }
    std::vector<std::vector<std::string>> groups;
    for (const PtStorage* storage : order) {
        if (byStorage[storage].size() > 1)
            groups.push_back(byStorage[storage]);
    }
    return groups;
}

nlohmann::json configJson(const RamConfig& c)
{
    nlohmann::json j = {{"model", c.model}, {"nlayers", c.nlayers}, {"hid_sz", c.hidSz}, {"nheads", c.nheads},
        {"head_dim", c.headDim}, {"ff_sz", c.ffSz}, {"pos_emb", c.posEmb}, {"block_size", c.blockSize},
        {"rel_pos_extend", c.relPosExtend}, {"post_norm", c.postNorm}, {"emb_tie", c.embTie}, {"cope_npos", c.copeNpos},
        {"cope_sep_key", c.copeSepKey}, {"cope_val_gates", c.copeValGates}, {"cope_nodiv", c.copeNodiv},
        {"cope_layers", c.copeLayers}, {"cope_shared", c.copeShared}, {"drop", c.drop}};
    j["rel_pos_max"] = c.relPosMax ? nlohmann::json(*c.relPosMax) : nlohmann::json(nullptr);
    j["nvocab"] = c.nvocab ? nlohmann::json(*c.nvocab) : nlohmann::json(nullptr);
    return j;
}

nlohmann::json tensorJson(const std::string& name, const PtTensor& t)
{
    return {{"name", name}, {"dtype", ptScalarName(t.dtype)}, {"shape", t.shape}, {"stride", t.stride},
        {"storage", t.storage->key}, {"storage_offset", t.storageOffset}, {"contiguous", t.isContiguous()}};
}

} // namespace

bool isPtFile(const std::string& path)
{
    struct stat info { };
    return ::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode);
}

int printPtInfo(const std::string& path, bool asJson)
{
    auto file = PtCheckpoint::open(path);
    if (!file)
        return fail(file.message());
    const PtCheckpoint& ck = **file;
    std::vector<FoundTensor> tensors;
    std::unordered_set<const PickleValue*> seen;
    collectTensors(ck.root(), "", seen, tensors);
    const auto aliases = aliasGroups(tensors);

    // A RAM CoPE checkpoint gets its typed view; anything else is described as it is.
    auto ram = readRamCheckpoint(path);
    const bool isRam = static_cast<bool>(ram);

    if (asJson) {
        nlohmann::json out;
        out["file"] = path;
        out["bytes"] = ck.fileSize();
        out["archive_prefix"] = ck.archivePrefix();
        out["storages"] = ck.storages().size();
        out["top_level"] = summarize(ck.root());
        out["ram_checkpoint"] = isRam;
        if (isRam) {
            out["cfg"] = configJson(ram->cfg);
            out["cfg_only"] = ram->cfgOnly;
            out["module_prefix_stripped"] = ram->hadModulePrefix;
            out["tokenizer_words"] = ram->ind2word.size();
            for (const PtNamedTensor& t : ram->tensors)
                out["model"].push_back(tensorJson(t.name, *t.tensor));
        }
        out["tensors"] = nlohmann::json::array();
        for (const FoundTensor& t : tensors)
            out["tensors"].push_back(tensorJson(t.path, *t.tensor));
        out["aliases"] = aliases;
        nlohmann::json top = nlohmann::json::object();
        const PickleValue& root = ck.root();
        for (const auto& [key, item] : root.entries())
            top[keyText(*key)] = summarize(*item);
        out["contents"] = top;
        std::cout << out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
        return 0;
    }

    std::cout << "file       " << path << " (" << ck.fileSize() << " bytes)\n"
              << "format     torch.save zip, entries under \"" << ck.archivePrefix() << "/\", " << ck.storages().size()
              << " storages; read without running anything in it\n";
    if (isRam) {
        std::cout << "kind       RAM CoPE checkpoint (facebookresearch/RAM projects/cope)"
                  << (ram->cfgOnly ? ", config only (.pt.cfg)" : "") << "\n"
                  << "cfg        " << configJson(ram->cfg).dump() << "\n";
        if (!ram->cfgOnly) {
            std::cout << "tokenizer  " << ram->ind2word.size() << " words\n"
                      << "model      " << ram->tensors.size() << " tensors"
                      << (ram->hadModulePrefix ? " (\"module.\" prefix stripped)" : "") << "\n";
            for (const PtNamedTensor& t : ram->tensors)
                std::cout << "  " << std::left << std::setw(44) << t.name << std::setw(6)
                          << ptScalarName(t.tensor->dtype) << std::setw(16) << shapeToString(t.tensor->shape)
                          << "storage " << t.tensor->storage->key << "\n";
        }
    } else {
        std::cout << "kind       " << summarize(ck.root()) << " (not a RAM checkpoint)\n";
    }
    std::cout << "contents\n";
    printOutline(ck.root(), "root", 0, 2);
    // A RAM checkpoint's model was listed above; the rest (optimizer state, ...) follows.
    const bool skipModel = isRam && !ram->cfgOnly;
    std::cout << (skipModel ? "other tensors " : "tensors    ")
              << tensors.size() - (skipModel ? ram->tensors.size() : 0) << "\n";
    for (const FoundTensor& t : tensors) {
        if (skipModel && t.path.compare(0, 6, "model/") == 0)
            continue;
        std::cout << "  " << column(t.path, 44) << std::left << std::setw(6) << ptScalarName(t.tensor->dtype)
                  << std::setw(16) << shapeToString(t.tensor->shape);
        if (!t.tensor->isContiguous() || t.tensor->storageOffset != 0)
            std::cout << "stride " << shapeToString(t.tensor->stride) << " offset " << t.tensor->storageOffset << " ";
        std::cout << "storage " << t.tensor->storage->key << "\n";
    }
    std::cout << "aliases    " << aliases.size() << (aliases.empty() ? " (no storage is shared)" : "") << "\n";
    for (const auto& group : aliases) {
        std::cout << " ";
        for (std::size_t i = 0; i < group.size(); ++i)
            std::cout << (i ? " = " : " ") << group[i];
        std::cout << "\n";
    }
    return 0;
}

} // namespace attn::cli
