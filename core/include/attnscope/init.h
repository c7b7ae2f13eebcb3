// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "attnscope/config.h"
#include "attnscope/status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace attn {

/**
 * @brief Writes a seeded, randomly initialised model (config.json, model.safetensors, tokenizer files)
 * into dir. Linear weights use PyTorch's default init; lambda vectors N(0, 0.1^2); CoPE pos_emb is
 * drawn non-zero (N(0, 1)) rather than the reference's zeros, so that position effects are visible.
 * Deterministic for a given seed. Fails if dir already holds a model unless overwrite is set.
 * wordVocab: for a word tokenizer, the vocabulary to write as the config's vocab file.
 */
Status initRandomModel(const std::string& dir, const ModelConfig& config, uint64_t seed, bool overwrite,
    const std::vector<std::string>& wordVocab = {});

} // namespace attn
