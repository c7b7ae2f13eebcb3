// SPDX-License-Identifier: GPL-3.0-or-later
#include "engine/cope.h"

#include <cmath>

namespace attn::engine {

at::Tensor copeBiasFromPositions(const at::Tensor& positions, const at::Tensor& query, const at::Tensor& posEmb)
{
    // One matmul against the integer embeddings (z_i[p] = q_i . e[p]) and a gather, instead of building
    // T^2 interpolated d-vectors (cope.md 1.4-1.5).
    const at::Tensor z = at::matmul(query.to(at::kFloat), posEmb.select(0, 0).to(at::kFloat));
    const at::Tensor lower = positions.floor();
    const at::Tensor weight = positions - lower;
    const at::Tensor zFloor = at::gather(z, -1, lower.to(at::kLong));
    const at::Tensor zCeil = at::gather(z, -1, positions.ceil().to(at::kLong));
    return zCeil * weight + zFloor * (1.0 - weight);
}

CopeTerms copeTerms(
    const at::Tensor& gateLogits, const at::Tensor& query, const at::Tensor& posEmb, const at::Tensor& future)
{
    const int64_t npos = posEmb.size(2);
    // Gates and the cumsum stay in fp32: in bf16 positions near 256 would be quantised to steps of 2.
    const at::Tensor gates = at::sigmoid(gateLogits.to(at::kFloat)).masked_fill(future, 0.0);
    // Clamp before floor/ceil so that ceil never reaches npos (cope.md 6, pitfall 5).
    const at::Tensor positions = gates.flip({-1}).cumsum(-1).flip({-1}).clamp_max(static_cast<double>(npos - 1));
    return {gates, positions, copeBiasFromPositions(positions, query, posEmb)};
}

at::Tensor addCopeBias(const at::Tensor& scaledLogits, const at::Tensor& bias, CopeScaling scaling, int64_t headDim)
{
    const at::Tensor s = scaledLogits.to(at::kFloat);
    if (scaling == CopeScaling::Appendix)
        return s + bias;
    return s + bias / std::sqrt(static_cast<double>(headDim));
}

} // namespace attn::engine
