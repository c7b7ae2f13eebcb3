// SPDX-License-Identifier: GPL-3.0-or-later
// A checkpoint of the CoPE paper's official code (facebookresearch/RAM projects/cope, interop.md 4.3) as a model
// source: its cfg Namespace -> ModelConfig, its state_dict -> recipes, its word vocabulary -> the tokenizer. Read by
// the restricted .pt reader (core/src/pt/): nothing in the file runs.
#include "attnscope/config_defaults.h"
#include "attnscope/model_format.h"
#include "attnscope/pt_checkpoint.h"
#include "attnscope/tensor_names.h"
#include "model_source_formats.h"
#include "ram/ram_tokenizer.h"

#include <filesystem>

namespace attn::detail {

namespace {

std::string yesNo(bool value)
{
    return value ? "yes" : "no";
}

Result<ModelConfig> translateRamConfig(const RamConfig& cfg, int64_t vocab, const std::string& origin)
{
    ModelConfig c;
    c.vocabSize = vocab;
    c.dModel = cfg.hidSz;
    c.nLayers = cfg.nlayers;
    c.nHeads = cfg.nheads;
    c.nKvHeads = cfg.nheads;
    c.headDim = cfg.headDim > 0 ? cfg.headDim : (cfg.nheads > 0 ? cfg.hidSz / cfg.nheads : 0);
    c.ffnHidden = cfg.ffSz > 0 ? cfg.ffSz : 4 * cfg.hidSz;
    c.normEps = configDefault("ram-cope", "layer_norm_eps"); // nn.LayerNorm's default, which the code uses
    c.tieEmbeddings = cfg.embTie;
    c.maxSeqLen = cfg.blockSize;
    c.attention = AttentionKind::Softmax;
    c.tokenizer.type = TokenizerType::Checkpoint;
    c.tokenizer.addBos = configDefaultBool("ram-cope", "add_bos"); // SimpleTokenizer.encode adds no BOS
    ArchitectureConfig& a = c.arch;
    a.family = "ram-cope";
    a.norm = NormKind::LayerNorm;
    a.block = cfg.postNorm ? BlockLayout::PostNorm : BlockLayout::PreNorm;
    a.mlp = MlpKind::Relu;
    a.qkvBias = a.outBias = a.mlpBias = true;

    if (cfg.model != "simpledec" && !cfg.model.empty())
        return Status::error(origin + ": cfg.model \"" + cfg.model
            + "\" is not supported (attnscope opens the decoder-only \"simpledec\" model)");
    if (cfg.posEmb == "cope") {
        c.position = PositionKind::Cope;
        c.cope.npos = cfg.copeNpos > 0 ? cfg.copeNpos : defaultCopeNpos(cfg.blockSize);
        c.cope.scaling = cfg.copeNodiv ? CopeScaling::Appendix : CopeScaling::Code;
        c.cope.sepKey = cfg.copeSepKey;
        a.copeValueGates = cfg.copeValGates;
        if (cfg.copeSepKey && cfg.copeValGates)
            return Status::error(origin + ": cope_sep_key and cope_val_gates are both set; the code uses one");
        if (cfg.copeLayers != 1)
            return Status::error(origin + ": cope_layers " + std::to_string(cfg.copeLayers)
                + " is not supported (attnscope opens models with CoPE in every layer, cope_layers 1)");
    } else if (cfg.posEmb == "abs") {
        c.position = PositionKind::Learned;
    } else if (cfg.posEmb == "rope") {
        c.position = PositionKind::None; // accepted by the code's argument parser but implemented nowhere
    } else {
        return Status::error(origin + ": pos_emb \"" + cfg.posEmb
            + "\" is not supported (attnscope opens cope, abs and rope, which the code runs without positions)");
    }
    if (Status s = validateConfig(c); !s)
        return Status::error(origin + ": " + s.message());
    return c;
}

void addRamRecipes(const ModelConfig& c, ModelSource& source)
{
    using Id = TensorId;
    auto& r = source.recipes;
    auto plain = [&](const std::string& internal, const std::string& stored) { r[internal] = {stored, false, {}, {}}; };
    plain(tensorName(Id::TokEmbeddings), "embed_toks.weight");
    if (c.position == PositionKind::Learned) // stored [1, block_size, hid]
        r[tensorName(Id::PosEmbeddings)] = {"abs_pos_emb", false, {}, {c.maxSeqLen, c.dModel}};
    if (!c.tieEmbeddings)
        plain(tensorName(Id::Output), "out_mod.weight");
    plain(tensorName(Id::Norm), "out_norm.weight");
    plain(tensorName(Id::NormBias), "out_norm.bias");
    // Every module of a layer has a weight and a bias (nn.Linear, nn.LayerNorm); the CoPE table is a bare parameter.
    struct Module {
        Id weight, bias;
        const char* pt; ///< the code's name under core.layers.N., without ".weight" / ".bias"
    };
    const Module modules[] = {
        {Id::AttentionNorm, Id::AttentionNormBias, "attn_norm"},
        {Id::FfnNorm, Id::FfnNormBias, "ff_norm"},
        {Id::QProj, Id::QProjBias, "attn.proj_query"},
        {Id::KProj, Id::KProjBias, "attn.proj_key"},
        {Id::VProj, Id::VProjBias, "attn.proj_val"},
        {Id::OutProj, Id::OutProjBias, "attn.proj_out"},
        {Id::CopeKeyProj, Id::CopeKeyProjBias, "attn.proj_key_cope"},
        {Id::W1, Id::W1Bias, "ff.fc1"},
        {Id::W2, Id::W2Bias, "ff.fc2"},
    };
    for (int64_t i = 0; i < c.nLayers; ++i) {
        const std::string pt = "core.layers." + std::to_string(i) + ".";
        for (const Module& m : modules) {
            plain(layerTensorName(i, m.weight), pt + m.pt + ".weight");
            plain(layerTensorName(i, m.bias), pt + m.pt + ".bias");
        }
        plain(layerTensorName(i, Id::CopePosEmb), pt + "attn.attn.pos_emb");
    }
}

} // namespace

Result<std::unique_ptr<ModelSource>> openPytorchCheckpoint(const std::string& path)
{
    const std::string sidecar = path + ".attnscope.json";
    std::error_code ec;
    if (std::filesystem::exists(sidecar, ec))
        return openStateDictWithSidecar(path, sidecar);
    return openRamCheckpoint(path);
}

Result<std::unique_ptr<ModelSource>> openRamCheckpoint(const std::string& path)
{
    auto ram = readRamCheckpoint(path);
    if (!ram)
        return Status::error(ram.message() + " (a plain state_dict opens with a sidecar "
            + std::filesystem::path(path).filename().string() + ".attnscope.json beside it: docs/model-format.md)");
    if (ram->cfgOnly)
        return Status::error(
            path + " holds only the training config (a .pt.cfg file); open the .pt checkpoint beside it");
    const RamConfig& cfg = ram->cfg;
    if (ram->ind2word.empty())
        return Status::error(
            path + ": the checkpoint has no tokenizer (tokenizer.ind2word); attnscope needs its words");
    const int64_t vocab = cfg.nvocab.value_or(static_cast<int64_t>(ram->ind2word.size()));
    if (vocab != static_cast<int64_t>(ram->ind2word.size()))
        return Status::error(path + ": cfg.nvocab is " + std::to_string(vocab) + " but tokenizer.ind2word has "
            + std::to_string(ram->ind2word.size()) + " words");
    auto config = translateRamConfig(cfg, vocab, path);
    if (!config)
        return config.status();

    auto source = std::make_unique<ModelSource>();
    source->path = path;
    source->format = "pytorch";
    source->config = *config;
    for (const PtNamedTensor& named : ram->tensors) {
        auto stored = storedTensorFromPt(named, path);
        if (!stored)
            return stored.status();
        source->stored.push_back(std::move(stored).value());
    }
    addRamRecipes(*config, *source);
    keepNeededRecipes(*source);
    std::vector<std::string> ignored;
    if (cfg.embTie)
        ignored.push_back("out_mod.weight"); // the same storage as embed_toks.weight
    if (Status s = checkRecipes(*source, ignored, "the checkpoint's cfg in " + path); !s)
        return s;

    source->tokenizer = std::make_unique<RamWordTokenizer>(ram->ind2word);
    source->weightFiles = {path};
    auto& d = source->description;
    d.push_back({"format", "PyTorch checkpoint of the CoPE paper's code (facebookresearch/RAM)"});
    d.push_back({"model", cfg.model.empty() ? "simpledec" : cfg.model});
    d.push_back({"pos_emb", cfg.posEmb + (cfg.posEmb == "rope" ? " (not implemented by the code: no positions)" : "")});
    d.push_back({"post_norm", yesNo(cfg.postNorm)});
    d.push_back({"emb_tie", yesNo(cfg.embTie)});
    d.push_back({"block_size", std::to_string(cfg.blockSize)});
    if (config->hasCope()) {
        d.push_back({"cope_npos", std::to_string(config->cope.npos)});
        d.push_back({"cope_sep_key / val_gates / nodiv",
            yesNo(cfg.copeSepKey) + " / " + yesNo(cfg.copeValGates) + " / " + yesNo(cfg.copeNodiv)});
    }
    d.push_back({"vocabulary", std::to_string(vocab) + " words, no BOS (as the code's SimpleTokenizer)"});
    if (ram->hadModulePrefix)
        d.push_back({"state_dict prefix", "module. (stripped)"});
    source->keepAlive.push_back(std::shared_ptr<PtCheckpoint>(std::move(ram->file)));
    return source;
}

} // namespace attn::detail
