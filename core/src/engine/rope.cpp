// SPDX-License-Identifier: GPL-3.0-or-later
#include "engine/rope.h"

namespace attn::engine {

at::Tensor ropeAngles(int64_t headDim, const RopeConfig& config)
{
    const int64_t half = headDim / 2;
    const auto f64 = at::TensorOptions().dtype(at::kDouble);
    at::Tensor exponent;
    if (config.freqs == RopeFreqs::Linspace)
        exponent = at::linspace(0.0, 1.0, half, f64); // YOCO: endpoint included
    else
        exponent = at::arange(0, half, f64) * (2.0 / static_cast<double>(headDim));
    return at::pow(config.theta, -exponent);
}

RopeTables ropeTables(int64_t seqLen, int64_t headDim, const RopeConfig& config, const at::Device& device)
{
    // Angles in double, then one rounding to fp32: the tables are exact to fp32 precision even at 64K
    // positions, where an fp32 product pos * angle would already lose digits.
    const at::Tensor positions = at::arange(0, seqLen, at::TensorOptions().dtype(at::kDouble));
    const at::Tensor freqs = at::outer(positions, ropeAngles(headDim, config));
    return {freqs.cos().to(device, at::kFloat), freqs.sin().to(device, at::kFloat)};
}

at::Tensor applyRope(const at::Tensor& x, const RopeTables& tables, RopeStyle style)
{
    const int64_t seqLen = x.size(-2);
    const int64_t d = x.size(-1);
    const at::Tensor cos = tables.cos.slice(0, 0, seqLen);
    const at::Tensor sin = tables.sin.slice(0, 0, seqLen);
    const at::Tensor xf = x.to(at::kFloat);
    at::Tensor a, b;
    if (style == RopeStyle::Interleaved) {
        const at::Tensor pairs = xf.unflatten(-1, {d / 2, 2});
        a = pairs.select(-1, 0);
        b = pairs.select(-1, 1);
        return at::stack({a * cos - b * sin, b * cos + a * sin}, -1).flatten(-2).to(x.scalar_type());
    }
    a = xf.slice(-1, 0, d / 2);
    b = xf.slice(-1, d / 2, d);
    return at::cat({a * cos - b * sin, b * cos + a * sin}, -1).to(x.scalar_type());
}

} // namespace attn::engine
