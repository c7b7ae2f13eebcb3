// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// One table of attnscope's own tensor names (docs/model-format.md): every tensor the engine knows, when a config has
// it, its shape and whether the loader keeps it in fp32. expectedTensors (model_format.h) is generated from it, the
// engine's member tables (engine/weights.h) refer to its entries, and the importers (hf/, ram/) produce our names
// through it; their own source vocabularies stay in their translation code.

#include "attnscope/config.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace attn {

/// Every engine tensor, in the order a model file lists them (expectedTensors): the embeddings, one layer's tensors
/// (repeated per layer), the final norm and the output head.
enum class TensorId : int {
    TokEmbeddings,
    PosEmbeddings,
    // per layer, under "layers.N."
    AttentionNorm,
    AttentionNormBias,
    QProj,
    KProj,
    VProj,
    OutProj,
    QProjBias,
    KProjBias,
    VProjBias,
    OutProjBias,
    QNorm,
    KNorm,
    LambdaQ1,
    LambdaK1,
    LambdaQ2,
    LambdaK2,
    Subln,
    CopePosEmb,
    CopeKeyProj,
    CopeKeyProjBias,
    AttentionPostNorm,
    FfnNorm,
    FfnNormBias,
    FfnPostNorm,
    W1,
    W1Bias,
    W2,
    W2Bias,
    W3,
    W3Bias,
    // after the layers
    Norm,
    NormBias,
    Output,
};

inline constexpr int kTensorIdCount = static_cast<int>(TensorId::Output) + 1;
/// The per-layer entries are the contiguous ids AttentionNorm .. W3Bias.
inline constexpr int kLayerTensorCount
    = static_cast<int>(TensorId::W3Bias) - static_cast<int>(TensorId::AttentionNorm) + 1;

/// The part of the model a tensor belongs to (what a device map places).
enum class TensorPart { Embeddings, Layer, FinalNorm, Head };

/** @brief One engine tensor: its name, when a config has it and its shape under that config. */
struct TensorEntry {
    TensorId id;
    TensorPart part;
    const char* name; ///< model-level: the whole name; per layer: the name after "layers.N."
    bool (*present)(const ModelConfig&); ///< whether a model with this config stores the tensor
    std::vector<int64_t> (*shape)(const ModelConfig&); ///< its shape under that config
    bool fp32; ///< the loader keeps it float32 whatever the compute dtype (lambda vectors, the CoPE table)
};

/** @brief Every entry, indexed by TensorId (so in file order). */
const std::vector<TensorEntry>& tensorTable();
const TensorEntry& tensorEntry(TensorId id);

/** @brief "layers.N." */
std::string layerPrefix(int64_t layer);
/** @brief A model-level tensor's name, or a layer tensor's name after "layers.N.". */
std::string tensorName(TensorId id);
/** @brief A layer tensor's whole name, "layers.N." + its name. */
std::string layerTensorName(int64_t layer, TensorId id);
/** @brief The whole name of any tensor: a layer tensor's under "layers.N.", a model-level one's as it is. */
std::string tensorName(TensorId id, int64_t layer);
/// Within a layer, the attention block's names start with this ("attn.q_proj.weight"): an importer whose source names
/// only the block differently (YOCO's "attention.") swaps this part.
inline constexpr char kAttentionBlockPrefix[] = "attn.";
/** @brief Whether the tensor belongs to the attention block (its name starts with kAttentionBlockPrefix). */
bool inAttentionBlock(TensorId id);

/**
 * @brief Calls f(entry, layer) for every tensor a model with this config stores, in file order (the order
 * expectedTensors lists them); layer is -1 for the model-level tensors.
 */
void forEachTensor(const ModelConfig& config, const std::function<void(const TensorEntry&, int64_t layer)>& f);

/**
 * @brief The entry a whole engine name refers to ("layers.3.attn.pos_emb": CopePosEmb, layer 3; "norm.weight": Norm,
 * layer -1), or nullptr for a name that is not one of ours.
 */
const TensorEntry* findTensor(const std::string& name, int64_t* layer = nullptr);

} // namespace attn
