// SPDX-License-Identifier: GPL-3.0-or-later
// A Hugging Face folder as it is: config.json, model.safetensors or shards + model.safetensors.index.json,
// tokenizer.json (+ tokenizer_config.json). Tensor names map onto the engine's (interop.md 1.2, 1.5, 2.5) through
// recipes; nothing is converted or copied here.
#include "attnscope/fileio.h"
#include "attnscope/hf_tokenizer.h"
#include "attnscope/model_format.h"
#include "attnscope/tensor_names.h"
#include "hf/hf_config.h"
#include "hf/hf_index.h"
#include "json_limits.h"
#include "model_source_formats.h"

#include <filesystem>
#include <map>
#include <set>

namespace attn::detail {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using hf::Family;

constexpr const char* kIndexFile = "model.safetensors.index.json";
constexpr const char* kSingleFile = "model.safetensors";

// Opens the weights: one file, or every shard the index names, checking the index against the shards.
Status openWeights(const std::string& dir, ModelSource& source)
{
    const fs::path index = fs::path(dir) / kIndexFile;
    std::error_code ec;
    if (!fs::exists(index, ec)) {
        const fs::path single = fs::path(dir) / kSingleFile;
        if (!fs::exists(single, ec)) {
            if (fs::exists(fs::path(dir) / "pytorch_model.bin", ec))
                return Status::error(dir
                    + ": the weights are pytorch_model.bin (pickle); attnscope reads "
                      "model.safetensors (save with safe_serialization=True)");
            return Status::error(dir + ": neither " + kSingleFile + " nor " + kIndexFile + " is here");
        }
        auto file = SafetensorsFile::open(single.string());
        if (!file)
            return file.status();
        addSafetensorsFile(source, std::shared_ptr<SafetensorsFile>(std::move(file).value()), "");
        return Status::ok();
    }

    Result<std::string> text = readRegularFile(index.string(), detail::kMaxIndexBytes);
    if (!text)
        return text.status();
    Result<std::map<std::string, std::string>> parsed = hf::parseSafetensorsIndex(*text, index.string());
    if (!parsed)
        return parsed.status();
    const std::map<std::string, std::string>& shardOf = *parsed; // tensor -> shard file name
    std::set<std::string> shards;
    for (const auto& entry : shardOf)
        shards.insert(entry.second);
    std::map<std::string, std::string> foundIn; // tensor -> the shard it was found in
    std::vector<std::shared_ptr<SafetensorsFile>> files;
    for (const std::string& shard : shards) {
        const fs::path path = fs::path(dir) / shard;
        if (!fs::exists(path, ec))
            return Status::error(index.string() + " names the shard " + shard + ", which is missing from " + dir);
        auto file = SafetensorsFile::open(path.string());
        if (!file)
            return file.status();
        for (const TensorInfo& info : (*file)->tensors()) {
            auto seen = foundIn.find(info.name);
            if (seen != foundIn.end())
                return Status::error("tensor " + detail::textExcerpt(info.name, 120)
                    + " is in two shards: " + seen->second + " and " + shard);
            foundIn[info.name] = shard;
        }
        files.push_back(std::shared_ptr<SafetensorsFile>(std::move(file).value()));
    }
    for (const auto& [name, shard] : foundIn) { // every stored tensor is where the index says
        auto indexed = shardOf.find(name);
        if (indexed == shardOf.end())
            return Status::error(
                shard + " holds tensor " + detail::textExcerpt(name, 120) + ", which " + kIndexFile + " does not list");
        if (indexed->second != shard)
            return Status::error(kIndexFile + std::string(" puts tensor ") + detail::textExcerpt(name, 120) + " in "
                + indexed->second + " but it is in " + shard);
    }
    for (auto& file : files)
        addSafetensorsFile(source, std::move(file), "");
    for (const auto& [name, shard] : shardOf)
        if (!foundIn.count(name))
            return Status::error(kIndexFile + std::string(" puts tensor ") + detail::textExcerpt(name, 120) + " in "
                + shard + ", which does not hold it");
    return Status::ok();
}

// Rows [s * d, (s + 1) * d) of each sub-head s, in the order given.
std::vector<RowRange> subHeadRows(const std::vector<int64_t>& order, int64_t d)
{
    std::vector<RowRange> rows;
    for (int64_t s : order)
        rows.push_back({s * d, d});
    return rows;
}

// DiffLlama -> attnscope's interleaved sub-heads (interop.md 2.5): q sub-head 2h + g <- g H + h; kv sub-head 2j + g
// <- g Hkv + j; v head j = [v sub-head j ; v sub-head Hkv + j].
struct DiffLlamaRows {
    std::vector<RowRange> q, k, v;
};

DiffLlamaRows diffLlamaRows(int64_t heads, int64_t kvHeads, int64_t d)
{
    std::vector<int64_t> q, kv;
    for (int64_t h = 0; h < heads; ++h)
        for (int64_t g = 0; g < 2; ++g)
            q.push_back(g * heads + h);
    for (int64_t j = 0; j < kvHeads; ++j)
        for (int64_t g = 0; g < 2; ++g)
            kv.push_back(g * kvHeads + j);
    return {subHeadRows(q, d), subHeadRows(kv, d), subHeadRows(kv, d)};
}

// A linear layer's two engine tensors: weight and bias (kept only where the config has a bias: keepNeededRecipes).
struct LinearIds {
    TensorId weight, bias;
};

void addLlamaFamilyRecipes(const hf::HfConfig& hc, ModelSource& source)
{
    using Id = TensorId;
    const ModelConfig& c = hc.config;
    auto& r = source.recipes;
    auto plain = [&](const std::string& internal, const std::string& stored) { r[internal] = {stored, false, {}, {}}; };
    plain(tensorName(Id::TokEmbeddings), "model.embed_tokens.weight");
    plain(tensorName(Id::Norm), "model.norm.weight");
    if (!c.tieEmbeddings)
        plain(tensorName(Id::Output), "lm_head.weight");
    const bool diff = hc.family == Family::DiffLlama;
    const DiffLlamaRows rows = diff ? diffLlamaRows(c.nHeads, c.nKvHeads, c.headDim) : DiffLlamaRows {};
    const std::vector<RowRange> allRows;
    struct Linear {
        LinearIds ours;
        const char* hf; ///< without ".weight" / ".bias"
        const std::vector<RowRange>& rows; ///< DiffLlama's sub-head order; empty = every row as stored
    };
    const Linear linears[] = {
        {{Id::QProj, Id::QProjBias}, "self_attn.q_proj", rows.q},
        {{Id::KProj, Id::KProjBias}, "self_attn.k_proj", rows.k},
        {{Id::VProj, Id::VProjBias}, "self_attn.v_proj", rows.v},
        {{Id::OutProj, Id::OutProjBias}, "self_attn.o_proj", allRows},
        {{Id::W1, Id::W1Bias}, "mlp.gate_proj", allRows},
        {{Id::W3, Id::W3Bias}, "mlp.up_proj", allRows},
        {{Id::W2, Id::W2Bias}, "mlp.down_proj", allRows},
    };
    const std::pair<Id, const char*> perLayer[] = {
        {Id::AttentionNorm, "input_layernorm.weight"},
        {Id::QNorm, "self_attn.q_norm.weight"},
        {Id::KNorm, "self_attn.k_norm.weight"},
        {Id::LambdaQ1, "self_attn.lambda_q1"},
        {Id::LambdaK1, "self_attn.lambda_k1"},
        {Id::LambdaQ2, "self_attn.lambda_q2"},
        {Id::LambdaK2, "self_attn.lambda_k2"},
    };
    // Gemma 2's sandwich block names its four norms differently from the pre-norm families' two.
    const std::vector<std::pair<Id, const char*>> mlpNorms = hc.family == Family::Gemma2
        ? std::vector<std::pair<Id, const char*>> {{Id::AttentionPostNorm, "post_attention_layernorm.weight"},
            {Id::FfnNorm, "pre_feedforward_layernorm.weight"}, {Id::FfnPostNorm, "post_feedforward_layernorm.weight"}}
        : std::vector<std::pair<Id, const char*>> {{Id::FfnNorm, "post_attention_layernorm.weight"}};
    for (int64_t i = 0; i < c.nLayers; ++i) {
        const std::string hf = "model.layers." + std::to_string(i) + ".";
        for (const Linear& l : linears) {
            r[layerTensorName(i, l.ours.weight)] = {hf + l.hf + ".weight", false, l.rows, {}};
            r[layerTensorName(i, l.ours.bias)] = {hf + l.hf + ".bias", false, l.rows, {}};
        }
        for (const auto& [ours, theirs] : perLayer)
            plain(layerTensorName(i, ours), hf + theirs);
        for (const auto& [ours, theirs] : mlpNorms)
            plain(layerTensorName(i, ours), hf + theirs);
    }
}

// GPT-2: Conv1D weights are stored [in, out] (transposed here) and c_attn holds q | k | v.
void addGpt2Recipes(const hf::HfConfig& hc, ModelSource& source, const std::string& prefix)
{
    using Id = TensorId;
    const ModelConfig& c = hc.config;
    const int64_t dm = c.dModel;
    auto& r = source.recipes;
    r[tensorName(Id::TokEmbeddings)] = {prefix + "wte.weight", false, {}, {}};
    r[tensorName(Id::PosEmbeddings)] = {prefix + "wpe.weight", false, {}, {}};
    r[tensorName(Id::Norm)] = {prefix + "ln_f.weight", false, {}, {}};
    r[tensorName(Id::NormBias)] = {prefix + "ln_f.bias", false, {}, {}};
    if (!c.tieEmbeddings)
        r[tensorName(Id::Output)] = {"lm_head.weight", false, {}, {}};
    const LinearIds qkv[] = {{Id::QProj, Id::QProjBias}, {Id::KProj, Id::KProjBias}, {Id::VProj, Id::VProjBias}};
    const std::pair<LinearIds, const char*> conv1d[] = {
        {{Id::OutProj, Id::OutProjBias}, "attn.c_proj"},
        {{Id::W1, Id::W1Bias}, "mlp.c_fc"},
        {{Id::W2, Id::W2Bias}, "mlp.c_proj"},
    };
    const std::pair<LinearIds, const char*> norms[] = {
        {{Id::AttentionNorm, Id::AttentionNormBias}, "ln_1"},
        {{Id::FfnNorm, Id::FfnNormBias}, "ln_2"},
    };
    for (int64_t i = 0; i < c.nLayers; ++i) {
        const std::string hf = prefix + "h." + std::to_string(i) + ".";
        for (const auto& [ours, theirs] : norms) {
            r[layerTensorName(i, ours.weight)] = {hf + theirs + ".weight", false, {}, {}};
            r[layerTensorName(i, ours.bias)] = {hf + theirs + ".bias", false, {}, {}};
        }
        for (int64_t part = 0; part < 3; ++part) {
            r[layerTensorName(i, qkv[part].weight)] = {hf + "attn.c_attn.weight", true, {{part * dm, dm}}, {}};
            r[layerTensorName(i, qkv[part].bias)] = {hf + "attn.c_attn.bias", false, {{part * dm, dm}}, {}};
        }
        for (const auto& [ours, theirs] : conv1d) {
            r[layerTensorName(i, ours.weight)] = {hf + theirs + ".weight", true, {}, {}};
            r[layerTensorName(i, ours.bias)] = {hf + theirs + ".bias", false, {}, {}};
        }
    }
}

// Stored tensors transformers itself ignores: buffers of old checkpoints and a tied head saved anyway.
std::vector<std::string> ignoredTensors(const hf::HfConfig& hc, const ModelSource& source, const std::string& prefix)
{
    std::vector<std::string> ignored;
    for (const StoredTensor& t : source.stored) {
        const std::string& n = t.name;
        auto endsWith = [&n](const std::string& tail) {
            return n.size() >= tail.size() && n.compare(n.size() - tail.size(), tail.size(), tail) == 0;
        };
        if (endsWith("rotary_emb.inv_freq") || (hc.config.tieEmbeddings && n == "lm_head.weight"))
            ignored.push_back(n);
        if (hc.family == Family::Gpt2 && n.compare(0, prefix.size() + 2, prefix + "h.") == 0
            && (endsWith(".attn.bias") || endsWith(".attn.masked_bias")))
            ignored.push_back(n);
    }
    return ignored;
}

} // namespace

Result<std::unique_ptr<ModelSource>> openHuggingFaceFolder(const std::string& dir, const nlohmann::json& root)
{
    const std::string configPath = (fs::path(dir) / "config.json").string();
    Result<hf::HfConfig> hc = hf::translateConfig(root, configPath);
    if (!hc)
        return hc.status();

    auto source = std::make_unique<ModelSource>();
    source->path = dir;
    source->format = "huggingface";
    source->config = hc->config;
    source->description = hc->description;
    if (Status s = openWeights(dir, *source); !s)
        return s;

    std::string prefix;
    if (hc->family == Family::Gpt2) { // fine-tunes may keep transformers' base_model_prefix
        prefix = source->find("transformer.wte.weight") ? "transformer." : "";
        addGpt2Recipes(*hc, *source, prefix);
    } else {
        addLlamaFamilyRecipes(*hc, *source);
    }
    keepNeededRecipes(*source);
    if (Status s = checkRecipes(*source, ignoredTensors(*hc, *source, prefix), "config.json in " + dir); !s)
        return s;

    auto tokenizer = loadHfTokenizer(dir);
    if (!tokenizer)
        return Status::error(dir + ": " + tokenizer.message());
    if ((*tokenizer)->vocabSize() > source->config.vocabSize)
        return Status::error(dir + ": tokenizer.json has " + std::to_string((*tokenizer)->vocabSize())
            + " tokens but the model's vocabulary (vocab_size) holds only " + std::to_string(source->config.vocabSize));
    source->tokenizer = std::move(tokenizer).value();
    int64_t shards = static_cast<int64_t>(source->weightFiles.size());
    source->description.push_back(
        {"weights", shards == 1 ? std::string(kSingleFile) : std::to_string(shards) + " safetensors shards"});
    return source;
}

} // namespace attn::detail
