// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "attnscope/config.h"
#include "attnscope/dtype.h"
#include "attnscope/status.h"
#include "attnscope/tokenizer.h"

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace attn {

/** @brief One tensor as a file stores it: raw little-endian bytes inside a mapping the source keeps alive. */
struct StoredTensor {
    std::string name; ///< its name in the file
    std::string file; ///< the file holding it
    DType dtype = DType::F32;
    std::vector<int64_t> shape;
    std::vector<int64_t> strides; ///< in elements; empty = C-contiguous
    const uint8_t* data = nullptr; ///< first element
    int64_t numel() const;
};

/** @brief Rows [begin, begin + count) of a tensor's first dimension. */
struct RowRange {
    int64_t begin = 0;
    int64_t count = 0;
};

/**
 * @brief How one of the engine's tensors (docs/model-format.md's internal names) is made from a stored tensor:
 * optionally transposed (GPT-2's Conv1D stores [in, out]), then the concatenation of some of its row ranges (GPT-2's
 * fused q|k|v, DiffLlama's sub-head order), then viewed with `shape`. Nothing else: no arithmetic on weights.
 */
struct TensorRecipe {
    std::string source; ///< StoredTensor::name
    bool transpose = false; ///< 2-D sources only
    std::vector<RowRange> rows; ///< empty = every row
    std::vector<int64_t> shape; ///< the result's shape (same element count)
};

/**
 * @brief A model as a folder or file holds it, translated to the engine's terms but not loaded: the config, the
 * tokenizer, the stored tensors (memory-mapped) and one recipe per engine tensor. Opening reads headers only.
 */
struct ModelSource {
    std::string path; ///< the folder or file the user opened
    std::string format; ///< "attnscope", "huggingface" or "pytorch"
    ModelConfig config;
    std::unique_ptr<Tokenizer> tokenizer;
    std::vector<StoredTensor> stored;
    std::map<std::string, TensorRecipe> recipes; ///< by engine tensor name
    std::vector<std::string> weightFiles; ///< in a stable order, for the provenance hash
    std::vector<std::pair<std::string, std::string>> description; ///< (field, value) for info panels, in order
    std::vector<std::shared_ptr<const void>> keepAlive; ///< the mappings `stored` points into

    const StoredTensor* find(const std::string& storedName) const;
    /// Stored bytes of every tensor some recipe uses (what the weights take in their stored dtype).
    int64_t storedBytes() const;
};

/**
 * @brief Opens a model: an attnscope folder (config.json with "format": "attnscope-model"), a Hugging Face folder
 * (config.json with "model_type", model.safetensors or sharded with model.safetensors.index.json, tokenizer.json), or
 * a PyTorch checkpoint file. Checks every recipe against the stored tensors: one message lists every missing,
 * unexpected and mis-shaped tensor. Anything unsupported is refused by name.
 */
Result<std::unique_ptr<ModelSource>> openModelSource(const std::string& path);

/// Shape a recipe produces from its stored tensor, or an error naming what does not fit.
Result<std::vector<int64_t>> recipeShape(const TensorRecipe& recipe, const StoredTensor& stored);

/// Checks that every tensor the config needs has a recipe whose result has the right shape and a float dtype, and that
/// every stored tensor is used (except `ignored` names). `origin` names the files in the message.
Status checkRecipes(const ModelSource& source, const std::vector<std::string>& ignored, const std::string& origin);

/// SHA-256 of the weights: of the file itself for one file; for several, of the lines "<sha256>  <file name>\n".
Result<std::string> weightsSha256(const std::vector<std::string>& files, const std::atomic<bool>* cancel = nullptr);

} // namespace attn
