// SPDX-License-Identifier: GPL-3.0-or-later
// The formats openModelSource() understands, one translation unit each (internal to attnscope_format).
#pragma once

#include "attnscope/model_source.h"
#include "attnscope/safetensors.h"

#include <nlohmann/json_fwd.hpp>

#include <memory>
#include <string>

namespace attn::detail {

/// A Hugging Face transformers folder (docs/model-format.md, interop.md 1-3); `config` is its parsed config.json.
Result<std::unique_ptr<ModelSource>> openHuggingFaceFolder(const std::string& dir, const nlohmann::json& config);

/// A torch.save checkpoint (the CoPE paper's code, plain state_dicts; interop.md 4).
Result<std::unique_ptr<ModelSource>> openPytorchCheckpoint(const std::string& path);

/// Adds every tensor of a safetensors file to source.stored (names without prefixToStrip) and keeps the file alive.
void addSafetensorsFile(ModelSource& source, std::shared_ptr<SafetensorsFile> file, const std::string& prefixToStrip);

} // namespace attn::detail
