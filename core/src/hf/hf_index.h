// SPDX-License-Identifier: GPL-3.0-or-later
// model.safetensors.index.json of a sharded Hugging Face folder. Internal to attnscope_format.
#pragma once

#include "attnscope/status.h"

#include <map>
#include <string>

namespace attn::hf {

/// Parses the index's text into tensor name -> shard file name. Every shard must be a plain file name in the
/// folder (no '/', not "." or ".."); `origin` (the index's path) prefixes the messages.
Result<std::map<std::string, std::string>> parseSafetensorsIndex(const std::string& text, const std::string& origin);

} // namespace attn::hf
