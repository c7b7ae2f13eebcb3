// SPDX-License-Identifier: GPL-3.0-or-later
// facebookresearch/RAM (projects/cope) checkpoints: {cfg: argparse.Namespace, model: state_dict, logger,
// optimizer, tokenizer: {word2ind, ind2word}}, or the Namespace alone in `<checkpoint>.cfg`.
#include "attnscope/pt_checkpoint.h"

#include "attnscope/config_defaults.h"

#include "pt/pt_globals.h"

namespace attn {

namespace {

using Kind = PickleValue::Kind;

class CfgReader {
public:
    CfgReader(const PickleValue& cfg, const std::string& where)
        : m_cfg(cfg)
        , m_where(where)
    {
    }

    // A missing field or None keeps the parser default.
    Status readInt(const char* field, int64_t& out) const
    {
        const PickleValue* v = m_cfg.attr(field);
        if (!v || v->is(Kind::None))
            return Status::ok();
        if (!v->is(Kind::Int))
            return typeError(field, *v, "an int");
        out = v->asInt();
        return Status::ok();
    }
    Status readOptionalInt(const char* field, std::optional<int64_t>& out) const
    {
        const PickleValue* v = m_cfg.attr(field);
        if (!v || v->is(Kind::None))
            return Status::ok();
        if (!v->is(Kind::Int))
            return typeError(field, *v, "an int or None");
        out = v->asInt();
        return Status::ok();
    }
    Status readBool(const char* field, bool& out) const
    {
        const PickleValue* v = m_cfg.attr(field);
        if (!v || v->is(Kind::None))
            return Status::ok();
        if (!v->is(Kind::Bool))
            return typeError(field, *v, "a bool");
        out = v->asBool();
        return Status::ok();
    }
    Status readString(const char* field, std::string& out) const
    {
        const PickleValue* v = m_cfg.attr(field);
        if (!v || v->is(Kind::None))
            return Status::ok();
        if (!v->is(Kind::String))
            return typeError(field, *v, "a string");
        out = v->asString();
        return Status::ok();
    }
    Status readFloat(const char* field, double& out) const
    {
        const PickleValue* v = m_cfg.attr(field);
        if (!v || v->is(Kind::None))
            return Status::ok();
        if (v->is(Kind::Float))
            out = v->asFloat();
        else if (v->is(Kind::Int))
            out = static_cast<double>(v->asInt());
        else
            return typeError(field, *v, "a number");
        return Status::ok();
    }
    bool has(const char* field) const
    {
        const PickleValue* v = m_cfg.attr(field);
        return v && !v->is(Kind::None);
    }
    Status error(const std::string& what) const { return Status::error(m_where + ": " + what); }

private:
    Status typeError(const char* field, const PickleValue& v, const char* expected) const
    {
        return error(std::string("cfg.") + field + " is " + describeValue(v) + ", expected " + expected);
    }
    const PickleValue& m_cfg;
    const std::string& m_where;
};

Result<RamConfig> readConfig(const PickleValue& cfg, const std::string& where)
{
    CfgReader r(cfg, where);
    RamConfig c;
    for (Status s : {r.readString("model", c.model), r.readInt("nlayers", c.nlayers), r.readInt("hid_sz", c.hidSz),
             r.readInt("nheads", c.nheads), r.readString("pos_emb", c.posEmb), r.readInt("block_size", c.blockSize),
             r.readOptionalInt("rel_pos_max", c.relPosMax), r.readBool("rel_pos_extend", c.relPosExtend),
             r.readBool("post_norm", c.postNorm), r.readBool("emb_tie", c.embTie),
             r.readBool("cope_sep_key", c.copeSepKey), r.readBool("cope_val_gates", c.copeValGates),
             r.readBool("cope_nodiv", c.copeNodiv), r.readInt("cope_layers", c.copeLayers),
             r.readBool("cope_shared", c.copeShared), r.readFloat("drop", c.drop),
             r.readOptionalInt("nvocab", c.nvocab)}) {
        if (!s)
            return s;
    }
    if (!r.has("block_size"))
        return r.error("cfg.block_size is missing; the RAM code requires it");
    if (c.nlayers <= 0 || c.hidSz <= 0 || c.nheads <= 0 || c.blockSize <= 0)
        return r.error("cfg has a non-positive nlayers, hid_sz, nheads or block_size");
    // Derived defaults, as src/main.py's preprocess_config fills them in.
    c.headDim = c.hidSz / c.nheads;
    c.ffSz = 4 * c.hidSz;
    c.copeNpos = defaultCopeNpos(c.blockSize);
    for (Status s :
        {r.readInt("head_dim", c.headDim), r.readInt("ff_sz", c.ffSz), r.readInt("cope_npos", c.copeNpos)}) {
        if (!s)
            return s;
    }
    return c;
}

const PickleValue* findNamespace(const PickleValue& root)
{
    if (root.isObjectOf("argparse", "Namespace"))
        return &root;
    if (root.is(Kind::Dict)) {
        const PickleValue* cfg = root.find("cfg");
        if (cfg && cfg->isObjectOf("argparse", "Namespace"))
            return cfg;
    }
    return nullptr;
}

} // namespace

Result<RamCheckpoint> readRamCheckpoint(const std::string& path)
{
    Result<std::unique_ptr<PtCheckpoint>> file = PtCheckpoint::open(path);
    if (!file)
        return file.status();
    return readRamCheckpoint(std::move(*file));
}

Result<RamCheckpoint> readRamCheckpoint(std::unique_ptr<PtCheckpoint> file)
{
    const std::string where = file->path();
    const PickleValue& root = file->root();
    const PickleValue* cfg = findNamespace(root);
    if (!cfg) {
        return Status::error(where + ": not a RAM checkpoint: the top level is " + describeValue(root)
            + ", expected a dict with 'cfg' (argparse.Namespace) or a bare Namespace (.pt.cfg)");
    }
    Result<RamConfig> config = readConfig(*cfg, where);
    if (!config)
        return config.status();

    RamCheckpoint out;
    out.cfg = std::move(*config);
    out.cfgOnly = cfg == &root;
    if (!out.cfgOnly) {
        const PickleValue* model = root.find("model");
        if (!model)
            return Status::error(where + ": the checkpoint has 'cfg' but no 'model' state_dict");
        Result<std::vector<PtNamedTensor>> tensors = listTensors(*model, where + ": model");
        if (!tensors)
            return tensors.status();
        // DummyWrapper and DDP save every key under "module."; FSDP does not. Strip it only when all keys have it.
        const std::string prefix = "module.";
        bool allPrefixed = !tensors->empty();
        for (const PtNamedTensor& t : *tensors)
            allPrefixed = allPrefixed && t.name.compare(0, prefix.size(), prefix) == 0;
        if (allPrefixed) {
            for (PtNamedTensor& t : *tensors)
                t.name.erase(0, prefix.size());
        }
        out.hadModulePrefix = allPrefixed;
        out.tensors = std::move(*tensors);

        const PickleValue* tokenizer = root.find("tokenizer");
        const PickleValue* words = tokenizer ? tokenizer->find("ind2word") : nullptr;
        if (!words || !words->is(Kind::List))
            return Status::error(where
                + ": tokenizer.ind2word is missing or not a list; RAM checkpoints carry "
                  "their vocabulary there");
        for (const PickleValue* word : words->items()) {
            if (!word->is(Kind::String))
                return Status::error(where + ": tokenizer.ind2word[" + std::to_string(out.ind2word.size()) + "] is "
                    + describeValue(*word) + ", not a string");
            out.ind2word.push_back(word->asString());
        }
        if (!out.cfg.nvocab)
            out.cfg.nvocab = static_cast<int64_t>(out.ind2word.size());
    }
    out.file = std::move(file);
    return out;
}

} // namespace attn
