// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "attnscope/config.h"
#include "engine/torch_includes.h"

namespace attn::engine {

/// cos/sin of pos * angle_i, float32 [T, d/2], for positions 0..T-1.
struct RopeTables {
    at::Tensor cos;
    at::Tensor sin;
};

/// angle_i for i = 0..d/2-1 (double precision; see RopeFreqs for the two tables).
at::Tensor ropeAngles(int64_t headDim, const RopeConfig& config);
RopeTables ropeTables(int64_t seqLen, int64_t headDim, const RopeConfig& config, const at::Device& device);

/// Rotates x [..., T, d] by the tables. Computed in fp32 and cast back to x's dtype, as the reference's
/// rotary kernel does. Rotary dim = d (every feature pair rotates).
at::Tensor applyRope(const at::Tensor& x, const RopeTables& tables, RopeStyle style);

} // namespace attn::engine
