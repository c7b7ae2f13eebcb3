// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "attnscope/pt_checkpoint.h"

namespace attn::detail {

/// One little-endian element of `type` at p (unaligned) as float32.
float elementToFloat(PtScalarType type, const uint8_t* p);

} // namespace attn::detail
