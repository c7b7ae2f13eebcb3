// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// One table of config defaults: what each reader of a model's config assumes when a field is absent. attnscope's
// config.json parser, the Hugging Face importer (per family, as transformers' config classes default them), the
// CoPE paper's .pt importer, the trainer and `attnscope-cli init` read their defaults here and nowhere else.
// tests/test_config_defaults.cpp checks the Hugging Face rows against transformers itself and that each importer's
// result carries the table's values.

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace attn {

/** @brief One default: a field of one source's config, its value when absent, and what it means. */
struct ConfigDefault {
    /// "attnscope" (our config.json), "ram-cope" (the CoPE paper's .pt checkpoints) or a Hugging Face model_type.
    std::string_view source;
    std::string_view key; ///< the field's name in that source's config
    double value; ///< numbers, sizes and booleans (0 / 1) alike
    std::string_view meaning;
};

// clang-format off
/// Every default. Sizes that other fields determine (num_key_value_heads = num_attention_heads where a family has no
/// row for it, head_dim = hidden_size / heads likewise, GPT-2's n_inner =
/// 4 n_embd, the RAM code's head_dim = hid_sz / nheads) are rules, not values: the readers say so where they apply them.
inline constexpr ConfigDefault kConfigDefaults[] = {
    // attnscope's config.json (docs/format.md): optional fields.
    {"attnscope", "norm_eps", 1e-5, "epsilon of every RMSNorm/LayerNorm"},
    {"attnscope", "tie_embeddings", 0, "the output projection is its own matrix, not the embedding"},
    {"attnscope", "rope.theta", 10000.0, "RoPE base (RoFormer's and DIFF's)"},
    {"attnscope", "cope.sep_key", 0, "CoPE gates use the attention keys, not keys of their own"},
    {"attnscope", "tokenizer.lowercase", 1, "the word tokenizer lowercases the prompt"},
    {"attnscope", "tokenizer.add_bos.bytes", 1, "the byte tokenizer prepends BOS"},
    {"attnscope", "tokenizer.add_bos.word", 0, "the word tokenizer does not (the counting task was trained without)"},
    // The CoPE paper's checkpoints (facebookresearch/RAM, src/models): what its code uses when cfg does not say.
    {"ram-cope", "layer_norm_eps", 1e-5, "nn.LayerNorm's default epsilon, which the code never overrides"},
    {"ram-cope", "add_bos", 0, "SimpleTokenizer.encode adds no BOS: training never saw one"},
    // Hugging Face families: the defaults of transformers' config classes (LlamaConfig(), ...).
    {"llama", "vocab_size", 32000, "LlamaConfig"},
    {"llama", "hidden_size", 4096, "LlamaConfig"},
    {"llama", "intermediate_size", 11008, "LlamaConfig"},
    {"llama", "num_hidden_layers", 32, "LlamaConfig"},
    {"llama", "num_attention_heads", 32, "LlamaConfig"},
    {"llama", "max_position_embeddings", 2048, "LlamaConfig: the trained context"},
    {"llama", "rms_norm_eps", 1e-6, "LlamaConfig"},
    {"llama", "tie_word_embeddings", 0, "LlamaConfig"},
    {"llama", "rope_theta", 10000.0, "LlamaConfig's rope_parameters"},
    {"mistral", "vocab_size", 32000, "MistralConfig"},
    {"mistral", "hidden_size", 4096, "MistralConfig"},
    {"mistral", "intermediate_size", 14336, "MistralConfig"},
    {"mistral", "num_hidden_layers", 32, "MistralConfig"},
    {"mistral", "num_attention_heads", 32, "MistralConfig"},
    {"mistral", "num_key_value_heads", 8, "MistralConfig: a value of its own, not num_attention_heads"},
    {"mistral", "max_position_embeddings", 131072, "MistralConfig: the trained context"},
    {"mistral", "rms_norm_eps", 1e-6, "MistralConfig"},
    {"mistral", "tie_word_embeddings", 0, "MistralConfig"},
    {"mistral", "rope_theta", 10000.0, "MistralConfig's rope_parameters"},
    {"qwen2", "vocab_size", 151936, "Qwen2Config"},
    {"qwen2", "hidden_size", 4096, "Qwen2Config"},
    {"qwen2", "intermediate_size", 22016, "Qwen2Config"},
    {"qwen2", "num_hidden_layers", 32, "Qwen2Config"},
    {"qwen2", "num_attention_heads", 32, "Qwen2Config"},
    {"qwen2", "num_key_value_heads", 32, "Qwen2Config: a value of its own, not num_attention_heads"},
    {"qwen2", "max_position_embeddings", 32768, "Qwen2Config: the trained context"},
    {"qwen2", "rms_norm_eps", 1e-6, "Qwen2Config"},
    {"qwen2", "tie_word_embeddings", 0, "Qwen2Config"},
    {"qwen2", "rope_theta", 10000.0, "Qwen2Config's rope_parameters"},
    {"qwen3", "vocab_size", 151936, "Qwen3Config"},
    {"qwen3", "hidden_size", 4096, "Qwen3Config"},
    {"qwen3", "intermediate_size", 22016, "Qwen3Config"},
    {"qwen3", "num_hidden_layers", 32, "Qwen3Config"},
    {"qwen3", "num_attention_heads", 32, "Qwen3Config"},
    {"qwen3", "num_key_value_heads", 32, "Qwen3Config: a value of its own, not num_attention_heads"},
    {"qwen3", "head_dim", 128, "Qwen3Config: not hidden_size / heads"},
    {"qwen3", "max_position_embeddings", 32768, "Qwen3Config: the trained context"},
    {"qwen3", "rms_norm_eps", 1e-6, "Qwen3Config"},
    {"qwen3", "tie_word_embeddings", 0, "Qwen3Config"},
    {"qwen3", "rope_theta", 10000.0, "Qwen3Config's rope_parameters"},
    {"gemma", "vocab_size", 256000, "GemmaConfig"},
    {"gemma", "hidden_size", 3072, "GemmaConfig"},
    {"gemma", "intermediate_size", 24576, "GemmaConfig"},
    {"gemma", "num_hidden_layers", 28, "GemmaConfig"},
    {"gemma", "num_attention_heads", 16, "GemmaConfig"},
    {"gemma", "num_key_value_heads", 16, "GemmaConfig: a value of its own, not num_attention_heads"},
    {"gemma", "head_dim", 256, "GemmaConfig: not hidden_size / heads"},
    {"gemma", "max_position_embeddings", 8192, "GemmaConfig: the trained context"},
    {"gemma", "rms_norm_eps", 1e-6, "GemmaConfig"},
    {"gemma", "tie_word_embeddings", 1, "GemmaConfig"},
    {"gemma", "rope_theta", 10000.0, "GemmaConfig's rope_parameters"},
    {"gemma2", "vocab_size", 256000, "Gemma2Config"},
    {"gemma2", "hidden_size", 2304, "Gemma2Config"},
    {"gemma2", "intermediate_size", 9216, "Gemma2Config"},
    {"gemma2", "num_hidden_layers", 26, "Gemma2Config"},
    {"gemma2", "num_attention_heads", 8, "Gemma2Config"},
    {"gemma2", "num_key_value_heads", 4, "Gemma2Config: a value of its own, not num_attention_heads"},
    {"gemma2", "head_dim", 256, "Gemma2Config: not hidden_size / heads"},
    {"gemma2", "max_position_embeddings", 8192, "Gemma2Config: the trained context"},
    {"gemma2", "rms_norm_eps", 1e-6, "Gemma2Config"},
    {"gemma2", "tie_word_embeddings", 1, "Gemma2Config"},
    {"gemma2", "rope_theta", 10000.0, "Gemma2Config's rope_parameters"},
    {"gemma2", "query_pre_attn_scalar", 256, "Gemma2Config: scores are scaled by its inverse square root"},
    {"gemma2", "attn_logit_softcapping", 50.0, "Gemma2Config: scores soft-capped at 50"},
    {"gemma2", "final_logit_softcapping", 30.0, "Gemma2Config: logits soft-capped at 30"},
    {"diffllama", "vocab_size", 32000, "DiffLlamaConfig"},
    {"diffllama", "hidden_size", 2048, "DiffLlamaConfig"},
    {"diffllama", "intermediate_size", 8192, "DiffLlamaConfig"},
    {"diffllama", "num_hidden_layers", 16, "DiffLlamaConfig"},
    {"diffllama", "num_attention_heads", 32, "DiffLlamaConfig (sub-heads)"},
    {"diffllama", "max_position_embeddings", 2048, "DiffLlamaConfig: the trained context"},
    {"diffllama", "rms_norm_eps", 1e-5, "DiffLlamaConfig (also its groupnorm's epsilon)"},
    {"diffllama", "tie_word_embeddings", 0, "DiffLlamaConfig"},
    {"diffllama", "rope_theta", 10000.0, "DiffLlamaConfig's rope_parameters"},
    {"gpt2", "vocab_size", 50257, "GPT2Config"},
    {"gpt2", "n_embd", 768, "GPT2Config"},
    {"gpt2", "n_layer", 12, "GPT2Config"},
    {"gpt2", "n_head", 12, "GPT2Config"},
    {"gpt2", "n_positions", 1024, "GPT2Config: learned positions, the hard context"},
    {"gpt2", "layer_norm_epsilon", 1e-5, "GPT2Config"},
    {"gpt2", "tie_word_embeddings", 1, "GPT2Config"},
};
// clang-format on

/// Thrown for a row the table does not have (never in a constant expression: there it fails to compile).
[[noreturn]] inline void missingConfigDefault(std::string_view source, std::string_view key)
{
    throw std::logic_error("internal error: no config default for " + std::string(source) + " / " + std::string(key)
        + " in config_defaults.h");
}

/// The default of `key` in `source`'s config. Asking for a row the table does not have is a programming error:
/// in a constant expression it does not compile, at run time it throws std::logic_error (readers catch it and
/// report an internal error naming the row).
constexpr double configDefault(std::string_view source, std::string_view key)
{
    for (const ConfigDefault& row : kConfigDefaults)
        if (row.source == source && row.key == key)
            return row.value;
    missingConfigDefault(source, key);
}

/// Whether the table has the row: a family without one applies a rule instead (see the table's comment).
constexpr bool hasConfigDefault(std::string_view source, std::string_view key)
{
    for (const ConfigDefault& row : kConfigDefaults)
        if (row.source == source && row.key == key)
            return true;
    return false;
}

inline int64_t configDefaultInt(std::string_view source, std::string_view key)
{
    return static_cast<int64_t>(configDefault(source, key));
}

inline bool configDefaultBool(std::string_view source, std::string_view key)
{
    return configDefault(source, key) != 0.0;
}

/// CoPE's position count when a config does not give one: one slot more than the context, since position 0 can
/// occur (the official code's npos = block_size + 1). A rule every reader and writer of CoPE configs shares.
constexpr int64_t defaultCopeNpos(int64_t maxSeqLen)
{
    return maxSeqLen + 1;
}

} // namespace attn
