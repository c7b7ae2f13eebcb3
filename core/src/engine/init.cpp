// SPDX-License-Identifier: GPL-3.0-or-later
#include "attnscope/init.h"

#include "attnscope/fileio.h"
#include "attnscope/model_format.h"
#include "attnscope/safetensors.h"
#include "attnscope/tensor_names.h"
#include "engine/torch_includes.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <filesystem>

namespace attn {

namespace {

/// The init of one tensor, chosen by what it is (see init.h for the reasons).
at::Tensor initTensor(TensorId id, const std::vector<int64_t>& shape, const ModelConfig& config, at::Generator& gen)
{
    at::Tensor t = at::empty(shape, at::TensorOptions().dtype(at::kFloat));
    switch (id) {
    case TensorId::AttentionNorm:
    case TensorId::QNorm:
    case TensorId::KNorm:
    case TensorId::Subln:
    case TensorId::AttentionPostNorm:
    case TensorId::FfnNorm:
    case TensorId::FfnPostNorm:
    case TensorId::Norm:
        return t.fill_(1.0);
    case TensorId::LambdaQ1:
    case TensorId::LambdaK1:
    case TensorId::LambdaQ2:
    case TensorId::LambdaK2:
        return t.normal_(0.0, 0.1, gen);
    case TensorId::CopePosEmb:
    case TensorId::TokEmbeddings:
        return t.normal_(0.0, 1.0, gen);
    case TensorId::PosEmbeddings:
        return t.normal_(0.0, 1.0 / std::sqrt(static_cast<double>(config.dModel)), gen);
    default:
        break;
    }
    // nn.Linear default (kaiming_uniform with a = sqrt(5)) is U(-1/sqrt(in), 1/sqrt(in)); the bias uses the same bound.
    const double fanIn = static_cast<double>(config.dModel);
    const int64_t in = shape.size() == 2 ? shape[1] : static_cast<int64_t>(fanIn);
    const double bound = 1.0 / std::sqrt(static_cast<double>(in));
    return t.uniform_(-bound, bound, gen);
}

} // namespace

Status initRandomModel(const std::string& dir, const ModelConfig& config, uint64_t seed, bool overwrite,
    const std::vector<std::string>& wordVocab)
{
    if (Status s = validateConfig(config); !s)
        return s;
    namespace fs = std::filesystem;
    const fs::path root(dir);
    const fs::path configPath = root / kConfigFileName;
    const fs::path weightsPath = root / kWeightsFileName;
    if (!overwrite && (fs::exists(configPath) || fs::exists(weightsPath)))
        return Status::error(dir + " already holds a model ("
            + (fs::exists(configPath) ? configPath : weightsPath).string()
            + " exists); choose another directory or allow overwriting (--force)");
    if (config.tokenizer.type == TokenizerType::Word && static_cast<int64_t>(wordVocab.size()) != config.vocabSize)
        return Status::error("a word tokenizer needs a vocabulary of vocab_size (" + std::to_string(config.vocabSize)
            + ") tokens, got " + std::to_string(wordVocab.size()));
    try {
        std::error_code ec;
        fs::create_directories(root, ec);
        if (ec)
            return Status::error("cannot create " + dir + ": " + ec.message());

        at::Generator gen = at::detail::createCPUGenerator(seed);
        std::vector<at::Tensor> tensors;
        std::vector<TensorToWrite> toWrite;
        std::vector<std::string> names;
        forEachTensor(config, [&](const TensorEntry& entry, int64_t layer) {
            names.push_back(tensorName(entry.id, layer));
            tensors.push_back(initTensor(entry.id, entry.shape(config), config, gen).contiguous());
        });
        for (size_t i = 0; i < tensors.size(); ++i) {
            const at::Tensor& t = tensors[i];
            toWrite.push_back({names[i], DType::F32, t.sizes().vec(), t.data_ptr(), static_cast<size_t>(t.nbytes())});
        }
        const std::map<std::string, std::string> metadata
            = {{"creator", "attnscope-cli init"}, {"seed", std::to_string(seed)}};
        if (Status s = writeSafetensors(weightsPath.string(), toWrite, metadata); !s)
            return s;
        if (config.tokenizer.type == TokenizerType::Word) {
            std::string text;
            for (const std::string& token : wordVocab)
                text += token + "\n";
            if (Status s = writeFileAtomic((root / config.tokenizer.vocabFile).string(), text); !s)
                return s;
        }
        // config.json last: a directory with a config is a complete model.
        return writeFileAtomic(configPath.string(), configToJson(config));
    } catch (const std::exception& e) {
        return Status::error("cannot initialise a model in " + dir + ": " + e.what());
    }
}

} // namespace attn
