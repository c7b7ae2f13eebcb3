// SPDX-License-Identifier: GPL-3.0-or-later
// RoPE tables. attnscope's own models: the linspace (YOCO) or standard table. Hugging Face models: the standard table
// changed by the config's rope scaling type, exactly as transformers' modeling_rope_utils computes inv_freq and the
// cos/sin multiplier (interop.md 1.6). Angles are computed in double and rounded once to fp32.
#include "engine/rope.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace attn::engine {

namespace {

constexpr double kPi = 3.14159265358979323846;

int64_t rotaryDimOf(int64_t headDim, const RopeConfig& config)
{
    return config.rotaryDim > 0 ? config.rotaryDim : headDim;
}

// 1 / base^(j / dim) for j = 0, 2, ..., dim - 2.
std::vector<double> standardInvFreq(int64_t dim, double base)
{
    std::vector<double> inv;
    for (int64_t j = 0; j < dim; j += 2)
        inv.push_back(1.0 / std::pow(base, static_cast<double>(j) / static_cast<double>(dim)));
    return inv;
}

std::vector<double> llama3(std::vector<double> inv, const RopeScaling& s)
{
    const double orig = static_cast<double>(s.originalMaxPositions);
    const double lowWavelen = orig / s.lowFreqFactor;
    const double highWavelen = orig / s.highFreqFactor;
    for (double& f : inv) {
        const double wavelen = 2.0 * kPi / f;
        const double scaled = wavelen > lowWavelen ? f / s.factor : f;
        if (wavelen >= highWavelen && wavelen <= lowWavelen) { // medium frequencies: smooth between the two
            const double smooth = (orig / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
            f = (1.0 - smooth) * scaled / s.factor + smooth * scaled;
        } else {
            f = scaled;
        }
    }
    return inv;
}

double yarnMscale(double scale, double mscale)
{
    return scale <= 1.0 ? 1.0 : 0.1 * mscale * std::log(scale) + 1.0;
}

std::vector<double> yarn(int64_t dim, double base, const RopeScaling& s)
{
    const double orig = static_cast<double>(s.originalMaxPositions);
    auto correctionDim = [&](double rotations) {
        return static_cast<double>(dim) * std::log(orig / (rotations * 2.0 * kPi)) / (2.0 * std::log(base));
    };
    double low = correctionDim(s.betaFast), high = correctionDim(s.betaSlow);
    if (s.truncate) {
        low = std::floor(low);
        high = std::ceil(high);
    }
    low = std::max(low, 0.0);
    high = std::min(high, static_cast<double>(dim - 1));
    if (low == high)
        high += 0.001; // transformers: prevents a division by zero
    std::vector<double> inv;
    for (int64_t i = 0; i < dim / 2; ++i) {
        const double posFreq = std::pow(base, static_cast<double>(2 * i) / static_cast<double>(dim));
        const double ramp = std::clamp((static_cast<double>(i) - low) / (high - low), 0.0, 1.0);
        const double extrapolationFactor = 1.0 - ramp;
        inv.push_back(1.0 / (s.factor * posFreq) * (1.0 - extrapolationFactor) + 1.0 / posFreq * extrapolationFactor);
    }
    return inv;
}

} // namespace

double ropeAttentionFactor(const RopeConfig& config)
{
    const RopeScaling& s = config.scaling;
    if (s.attentionFactor > 0.0)
        return s.attentionFactor;
    if (s.type == RopeScalingType::Yarn) {
        if (s.mscale > 0.0 && s.mscaleAllDim > 0.0)
            return yarnMscale(s.factor, s.mscale) / yarnMscale(s.factor, s.mscaleAllDim);
        return yarnMscale(s.factor, 1.0);
    }
    if (s.type == RopeScalingType::LongRope && s.factor > 1.0)
        return std::sqrt(1.0 + std::log(s.factor) / std::log(static_cast<double>(s.originalMaxPositions)));
    return 1.0;
}

at::Tensor ropeAngles(int64_t headDim, const RopeConfig& config, int64_t seqLen)
{
    const int64_t dim = rotaryDimOf(headDim, config);
    const int64_t half = dim / 2;
    const auto f64 = at::TensorOptions().dtype(at::kDouble);
    if (config.freqs == RopeFreqs::Linspace) // YOCO: endpoint included
        return at::pow(config.theta, -at::linspace(0.0, 1.0, half, f64));

    const RopeScaling& s = config.scaling;
    std::vector<double> inv;
    switch (s.type) {
    case RopeScalingType::None:
        inv = standardInvFreq(dim, config.theta);
        break;
    case RopeScalingType::Linear:
        inv = standardInvFreq(dim, config.theta);
        for (double& f : inv)
            f /= s.factor;
        break;
    case RopeScalingType::Dynamic: { // NTK: a larger base once the prompt is longer than max_position_embeddings
        double base = config.theta;
        const int64_t len = std::max(seqLen, s.maxPositions);
        if (s.maxPositions > 0 && len > s.maxPositions)
            base *= std::pow(s.factor * static_cast<double>(len) / static_cast<double>(s.maxPositions) - (s.factor - 1),
                static_cast<double>(dim) / static_cast<double>(dim - 2));
        inv = standardInvFreq(dim, base);
        break;
    }
    case RopeScalingType::Llama3:
        inv = llama3(standardInvFreq(dim, config.theta), s);
        break;
    case RopeScalingType::Yarn:
        inv = yarn(dim, config.theta, s);
        break;
    case RopeScalingType::LongRope: { // the long factors once the prompt is longer than the pretraining length
        const std::vector<double>& ext = seqLen > s.originalMaxPositions ? s.longFactor : s.shortFactor;
        if (static_cast<int64_t>(ext.size()) != half)
            throw std::runtime_error(
                "longrope needs " + std::to_string(half) + " factors, the config has " + std::to_string(ext.size()));
        inv = standardInvFreq(dim, config.theta);
        for (int64_t i = 0; i < half; ++i)
            inv[static_cast<size_t>(i)] /= ext[static_cast<size_t>(i)];
        break;
    }
    }
    return at::tensor(inv, f64);
}

RopeTables ropeTables(int64_t seqLen, int64_t headDim, const RopeConfig& config, const at::Device& device)
{
    // Angles in double, then one rounding to fp32: the tables are exact to fp32 precision even at 64K
    // positions, where an fp32 product pos * angle would already lose digits.
    const at::Tensor positions = at::arange(0, seqLen, at::TensorOptions().dtype(at::kDouble));
    const at::Tensor freqs = at::outer(positions, ropeAngles(headDim, config, seqLen));
    const double factor = ropeAttentionFactor(config); // yarn / longrope scale cos and sin
    return {(freqs.cos() * factor).to(device, at::kFloat), (freqs.sin() * factor).to(device, at::kFloat)};
}

at::Tensor applyRope(const at::Tensor& x, const RopeTables& tables, RopeStyle style)
{
    const int64_t seqLen = x.size(-2);
    const int64_t d = x.size(-1);
    const int64_t rotary = 2 * tables.cos.size(-1); // partial rotary: only the first features rotate
    if (rotary < d) {
        const at::Tensor rotated = applyRope(x.narrow(-1, 0, rotary), tables, style);
        return at::cat({rotated, x.narrow(-1, rotary, d - rotary)}, -1);
    }
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
