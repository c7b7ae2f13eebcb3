// SPDX-License-Identifier: GPL-3.0-or-later
// The LibTorch headers the engine needs, precompiled once per target (see core/CMakeLists.txt).
// ATen alone (no torch/torch.h, no nn modules): the engine is written with functional ops.
#pragma once

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
