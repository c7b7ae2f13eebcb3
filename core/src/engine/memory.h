// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "attnscope/model.h"
#include "engine/torch_includes.h"

namespace attn::engine {

/// Bytes of working memory per score cell (one head, one query, one key) while a tile is computed.
int64_t scoreBytesPerCell(const ModelConfig& config, at::ScalarType dtype);

/// Query rows per tile so that a tile's scores fit the working budget: on a CPU 8 MiB (cache-sized, at least 8
/// rows) for inference and 256 MiB for training (autograd recording), 8 GiB on CUDA; seqLen when the whole score
/// matrix fits (short prompts, training batches).
int64_t autoQueryTile(const ModelConfig& config, int64_t batch, int64_t seqLen, at::ScalarType dtype,
    const at::Device& device, bool training);

/// The capture's memory needs (see Model::estimateMemory); weightBytes: the loaded weights on the device.
MemoryEstimate estimateCapture(const ModelConfig& config, const CaptureRequest& request, at::ScalarType dtype,
    const at::Device& device, int64_t weightBytes);

/// Refuses a request whose estimate exceeds what is available, saying what would fit; ok otherwise.
Status checkFits(const ModelConfig& config, const CaptureRequest& request, at::ScalarType dtype,
    const at::Device& device, int64_t weightBytes);

} // namespace attn::engine
