// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "attnscope/status.h"
#include "attnscope/tokenizer.h"

#include <memory>
#include <string>

namespace attn {

/**
 * @brief Loads a Hugging Face tokenizer from dir/tokenizer.json (and dir/tokenizer_config.json when present).
 *
 * Encodes exactly as the `tokenizers` library does (added tokens, normalizer, pre-tokenizer, BPE or WordPiece
 * model, post-processor), with every token's byte span in the prompt; see docs/model-format.md
 * "Hugging Face tokenizer.json" for what is supported. Unknown component types are refused by name.
 */
Result<std::unique_ptr<Tokenizer>> loadHfTokenizer(const std::string& dir);

/// The same from the files' text (configJson may be empty: no tokenizer_config.json); for tests and fuzzing.
Result<std::unique_ptr<Tokenizer>> parseHfTokenizer(const std::string& tokenizerJson, const std::string& configJson);

} // namespace attn
