// SPDX-License-Identifier: GPL-3.0-or-later
// attnscope-cli init: a seeded random model in the documented format.
#include "cli_common.h"

#include "attnscope/config_defaults.h"
#include "attnscope/init.h"
#include "attnscope/model_format.h"
#include "attnscope/tokenizer.h"

#include <iostream>
#include <map>

namespace attn::cli {

namespace {

struct InitArgs {
    std::string dir;
    ModelShapeArgs shape;
    int64_t headDim = 0;
    int64_t ffnHidden = 0;
    int64_t maxSeqLen = 1024;
    uint64_t seed = 0;
    std::string tokenizer = "bytes";
    int64_t npos = 0;
    std::string copeScaling = "code";
    bool copeSepKey = configDefaultBool("attnscope", "cope.sep_key");
    double ropeTheta = configDefault("attnscope", "rope.theta");
    std::string ropeStyle = "interleaved";
    std::string ropeFreqs = "linspace";
    std::string gqa = "flash";
    bool tieEmbeddings = configDefaultBool("attnscope", "tie_embeddings");
    bool force = false;
};

Result<ModelConfig> buildConfig(const InitArgs& a)
{
    if (a.tokenizer != "bytes")
        return Status::error("--tokenizer: only 'bytes' can be initialised from the CLI (word vocabularies come with "
                             "a task; see docs/model-format.md)");
    ModelConfig c;
    c.vocabSize = ByteTokenizer::kVocabSize;
    c.headDim = a.headDim;
    if (Status s = a.shape.applyTo(c, "; pass --head-dim"); !s)
        return s;
    // SwiGLU at 8/3 D, rounded up to a multiple of 8.
    c.ffnHidden = a.ffnHidden > 0 ? a.ffnHidden : ((8 * c.dModel / 3 + 7) / 8) * 8;
    c.maxSeqLen = a.maxSeqLen;
    c.tieEmbeddings = a.tieEmbeddings;
    if (c.isDiff())
        c.gqa = a.gqa == "naive" ? GqaSemantics::Naive : GqaSemantics::Flash;
    c.rope.theta = a.ropeTheta;
    c.rope.style = a.ropeStyle == "rotate_half" ? RopeStyle::RotateHalf : RopeStyle::Interleaved;
    c.rope.freqs = a.ropeFreqs == "standard" ? RopeFreqs::Standard : RopeFreqs::Linspace;
    c.cope.npos = a.npos > 0 ? a.npos : defaultCopeNpos(a.maxSeqLen);
    c.cope.scaling = a.copeScaling == "appendix" ? CopeScaling::Appendix : CopeScaling::Code;
    c.cope.sepKey = a.copeSepKey;
    c.tokenizer.type = TokenizerType::Bytes;
    c.tokenizer.addBos = configDefaultBool("attnscope", "tokenizer.add_bos.bytes");
    if (Status s = validateConfig(c); !s)
        return s;
    return c;
}

} // namespace

void registerInit(CLI::App& app, int& exitCode)
{
    auto args = std::make_shared<InitArgs>();
    CLI::App* cmd = app.add_subcommand("init", "create a seeded, randomly initialised model directory");
    cmd->add_option("DIR", args->dir, "model directory to create")->required();
    args->shape.addTo(*cmd);
    cmd->add_option("--head-dim", args->headDim, "q/k head dim; default d_model/heads (diff: d_model/(2 heads))")
        ->check(CLI::Range(1, 4096));
    cmd->add_option("--ffn-hidden", args->ffnHidden, "SwiGLU hidden width; default 8/3 d_model rounded up to 8")
        ->check(CLI::Range(1, 1 << 20));
    cmd->add_option("--max-seq-len", args->maxSeqLen, "longest prompt")
        ->check(CLI::Range(1, 1 << 20))
        ->capture_default_str();
    cmd->add_option("--seed", args->seed, "random seed")->capture_default_str();
    cmd->add_option("--tokenizer", args->tokenizer, "tokenizer (bytes)")
        ->check(CLI::IsMember({"bytes"}))
        ->capture_default_str();
    cmd->add_option("--npos", args->npos, "CoPE positions with an embedding; default max_seq_len + 1")
        ->check(CLI::Range(2, 1 << 20));
    cmd->add_option("--cope-scaling", args->copeScaling, "code or appendix")
        ->check(CLI::IsMember({"code", "appendix"}))
        ->capture_default_str();
    cmd->add_flag("--cope-sep-key", args->copeSepKey, "separate CoPE gate keys (cope_key_proj)");
    cmd->add_option("--rope-theta", args->ropeTheta, "RoPE base")->capture_default_str();
    cmd->add_option("--rope-style", args->ropeStyle, "interleaved or rotate_half")
        ->check(CLI::IsMember({"interleaved", "rotate_half"}))
        ->capture_default_str();
    cmd->add_option("--rope-freqs", args->ropeFreqs, "linspace or standard")
        ->check(CLI::IsMember({"linspace", "standard"}))
        ->capture_default_str();
    cmd->add_option("--gqa", args->gqa, "diff GQA semantics: flash or naive")
        ->check(CLI::IsMember({"flash", "naive"}))
        ->capture_default_str();
    cmd->add_flag("--tie-embeddings", args->tieEmbeddings, "share the embedding and output matrices");
    cmd->add_flag("--force", args->force, "overwrite a model already in DIR");
    cmd->callback([args, &exitCode] {
        auto config = buildConfig(*args);
        if (!config) {
            exitCode = fail(config.message());
            return;
        }
        if (Status s = initRandomModel(args->dir, *config, args->seed, args->force); !s) {
            exitCode = fail(s.message());
            return;
        }
        std::cout << "created " << args->dir << ": " << toString(config->attention) << " attention, "
                  << toString(config->position) << " positions, " << config->nLayers << " layers, " << config->nHeads
                  << " heads, d_model " << config->dModel << ", " << parameterCount(*config) << " parameters\n";
    });
}

} // namespace attn::cli
