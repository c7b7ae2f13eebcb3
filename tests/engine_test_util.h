// SPDX-License-Identifier: GPL-3.0-or-later
// Small tensor helpers for the engine tests.
#pragma once

#include "engine/torch_includes.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

namespace attn::test {

inline at::Tensor matrix(const std::vector<std::vector<double>>& rows)
{
    const int64_t r = static_cast<int64_t>(rows.size());
    const int64_t c = static_cast<int64_t>(rows.front().size());
    at::Tensor t = at::empty({r, c}, at::TensorOptions().dtype(at::kDouble));
    for (int64_t i = 0; i < r; ++i)
        for (int64_t j = 0; j < c; ++j)
            t[i][j] = rows[static_cast<size_t>(i)][static_cast<size_t>(j)];
    return t.to(at::kFloat);
}

/// Largest |a - b| over cells where `where` is true (all cells when undefined).
inline double maxAbsDiff(const at::Tensor& a, const at::Tensor& b, const at::Tensor& where = {})
{
    at::Tensor diff = (a.to(at::kDouble) - b.to(at::kDouble)).abs();
    if (where.defined())
        diff = diff.masked_fill(where.logical_not(), 0.0);
    return diff.max().item<double>();
}

#define EXPECT_TENSOR_NEAR(a, b, tol) EXPECT_LE(::attn::test::maxAbsDiff((a), (b)), (tol))

} // namespace attn::test
