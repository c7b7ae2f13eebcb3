// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "attnscope/config.h"
#include "attnscope/safetensors.h"
#include "attnscope/status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace attn {

/** @brief Name and shape of one tensor the config requires (docs/model-format.md lists them). */
struct TensorSpec {
    std::string name;
    std::vector<int64_t> shape;
    int64_t numel() const;
};

/** @brief Every tensor a model with this config must store, in a stable order. */
std::vector<TensorSpec> expectedTensors(const ModelConfig& config);
/** @brief Parameter count implied by the config (sum over expectedTensors). */
int64_t parameterCount(const ModelConfig& config);
/** @brief Parameters of one attention block alone (for the DIFF paper's counts). */
int64_t attentionParameterCount(const ModelConfig& config);

/**
 * @brief Compares a weights file with the config: one message listing every missing, unexpected
 * and mis-shaped tensor (and tensors of a dtype the engine cannot load).
 */
Status checkTensorsMatchConfig(const ModelConfig& config, const std::vector<TensorInfo>& tensors);

/** @brief File names inside a model directory. */
inline constexpr const char* kConfigFileName = "config.json";
inline constexpr const char* kWeightsFileName = "model.safetensors";

std::string shapeToString(const std::vector<int64_t>& shape);

} // namespace attn
