// SPDX-License-Identifier: GPL-3.0-or-later
// A Hugging Face config.json in the engine's terms (interop.md 1.3-1.6, 2). Internal to attnscope_format.
#pragma once

#include "attnscope/config.h"
#include "attnscope/status.h"

#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <vector>

namespace attn::hf {

/// The families attnscope opens, as config.json's model_type names them.
enum class Family { Llama, Mistral, Qwen2, Qwen3, Gemma, Gemma2, Gpt2, DiffLlama };

struct HfConfig {
    Family family = Family::Llama;
    std::string modelType;
    ModelConfig config; ///< the engine's view; for diffllama n_heads counts differential heads (sub-heads / 2)
    int64_t subHeads = 0; ///< diffllama: num_attention_heads as stored (2 n_heads)
    int64_t kvSubHeads = 0; ///< diffllama: num_key_value_heads as stored (2 n_kv_heads)
    std::string storedDtype; ///< torch_dtype / dtype, informational only
    std::vector<std::pair<std::string, std::string>> description; ///< for info panels
};

/// Translates config.json. Everything that changes the computation and is not supported is refused by name.
/// `origin` names the file in messages.
Result<HfConfig> translateConfig(const nlohmann::json& root, const std::string& origin);

} // namespace attn::hf
