// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QString>

#include <cstdint>

namespace attn::app {

struct ModelInfo;

/**
 * @brief How long a prompt a model takes, how long the prompts it was trained on were, and where each number comes
 * from. They differ for RoPE models, which have no position table to run out of: attnscope runs Hugging Face RoPE
 * models up to its own cap (memory permitting), and the bundled needles models accept longer prompts than the 160
 * tokens they were trained on (their config.json raises max_seq_len; train.json keeps the trained value).
 */
struct ContextLimit {
    int64_t allowed = 0; ///< what the engine runs: the config's max_seq_len
    QString allowedSource; ///< where that comes from, e.g. "max_seq_len in config.json"
    int64_t trained = 0; ///< the trained context; 0 when the model folder does not say
    QString trainedSource; ///< e.g. "train.json", "max_position_embeddings in config.json"

    /// The model accepts more than it was trained on: longer prompts show extrapolation.
    bool extends() const { return trained > 0 && trained < allowed; }
};

/// Reads train.json of an attnscope model folder (trained max_seq_len) or the importer's max_position_embeddings.
ContextLimit contextLimit(const ModelInfo& info);

/// The token-count line under the prompt, e.g. "23 tokens (trained on ≤ 160, accepts ≤ 16,384)".
QString tokenCountText(int64_t tokens, const ContextLimit& limit);
/// The longer explanation behind it (tooltip): both numbers and where they come from.
QString tokenCountDetails(int64_t tokens, const ContextLimit& limit);

} // namespace attn::app
