// SPDX-License-Identifier: GPL-3.0-or-later
// The formats openModelSource() understands, one translation unit each (internal to attnscope_format).
#pragma once

#include "attnscope/model_source.h"
#include "attnscope/pt_checkpoint.h"
#include "attnscope/safetensors.h"

#include <nlohmann/json_fwd.hpp>

#include <memory>
#include <string>

namespace attn::detail {

/// A Hugging Face transformers folder (docs/model-format.md, interop.md 1-3); `config` is its parsed config.json.
Result<std::unique_ptr<ModelSource>> openHuggingFaceFolder(const std::string& dir, const nlohmann::json& config);

/// A torch.save checkpoint: a plain state_dict when FILE.attnscope.json lies beside it, else a checkpoint of the CoPE
/// paper's code (interop.md 4).
Result<std::unique_ptr<ModelSource>> openPytorchCheckpoint(const std::string& path);
/// A checkpoint of the CoPE paper's code (facebookresearch/RAM): config, weights and tokenizer all inside.
Result<std::unique_ptr<ModelSource>> openRamCheckpoint(const std::string& path);
/// A plain state_dict whose config comes from a sidecar (docs/model-format.md "state_dict files").
Result<std::unique_ptr<ModelSource>> openStateDictWithSidecar(const std::string& path, const std::string& sidecar);

/// A tensor of a torch.save file as a stored tensor (its bytes stay in the file's mapping); non-float dtypes are
/// refused by name.
Result<StoredTensor> storedTensorFromPt(const PtNamedTensor& named, const std::string& path);

/// Drops the recipes of tensors the config does not need (biases of a model without them, ...), so that a stored
/// tensor no needed recipe uses is reported as unexpected by checkRecipes.
void keepNeededRecipes(ModelSource& source);

/// Adds every tensor of a safetensors file to source.stored (names without prefixToStrip) and keeps the file alive.
void addSafetensorsFile(ModelSource& source, std::shared_ptr<SafetensorsFile> file, const std::string& prefixToStrip);

} // namespace attn::detail
