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

/// angle_i for i = 0..rotary/2-1 (double precision; see RopeFreqs and RopeScaling). seqLen matters only to the
/// dynamic and longrope scalings, which change with the prompt's length.
at::Tensor ropeAngles(int64_t headDim, const RopeConfig& config, int64_t seqLen = 0);
/// The multiplier of cos and sin (yarn, longrope; 1 otherwise).
double ropeAttentionFactor(const RopeConfig& config);
RopeTables ropeTables(int64_t seqLen, int64_t headDim, const RopeConfig& config, const at::Device& device);

/// Rotates x [..., T, d] by the tables. Computed in fp32 and cast back to x's dtype, as the reference's
/// rotary kernel does. When the tables cover fewer than d features (partial rotary), the rest pass unchanged.
at::Tensor applyRope(const at::Tensor& x, const RopeTables& tables, RopeStyle style);

} // namespace attn::engine
