// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "attnscope/config.h"
#include "engine/torch_includes.h"

namespace attn::engine {

/// CoPE intermediates of cope.md section 1, float32, [..., Tq, Tk]. Masked cells: G = 0, P = 0, B = z_i[0].
struct CopeTerms {
    at::Tensor gates; ///< G = sigmoid(gate logits) * M
    at::Tensor positions; ///< P = reverse cumsum of G over keys, clamped to npos - 1
    at::Tensor bias; ///< B_ij = q_i . e[P_ij], interpolated between the integer embeddings
};

/**
 * @param gateLogits scaled logits q.k/sqrt(d) (or q.k_cope/sqrt(d)), [..., T, T]
 * @param query      the unscaled query that z = q.E uses, [..., T, d]
 * @param posEmb     the layer's table [1, d, npos]
 * @param future     bool [T, T], true where key j > query i
 */
CopeTerms copeTerms(
    const at::Tensor& gateLogits, const at::Tensor& query, const at::Tensor& posEmb, const at::Tensor& future);

/// Position term from precomputed positions (shared by copeTerms and tests that force the gates).
at::Tensor copeBiasFromPositions(const at::Tensor& positions, const at::Tensor& query, const at::Tensor& posEmb);

/// Adds the position term to scaled logits S = q.k/sqrt(d): code: S + B/sqrt(d); appendix: S + B.
at::Tensor addCopeBias(const at::Tensor& scaledLogits, const at::Tensor& bias, CopeScaling scaling, int64_t headDim);

} // namespace attn::engine
