// SPDX-License-Identifier: GPL-3.0-or-later
// Checks on the whole unpickled graph, made once before anything walks it: no cycles, bounded nesting
// (so later recursive walks are safe), and every tensor view inside its storage, named by its dict key.
#pragma once

#include "pt/pickle_arena.h"

#include "attnscope/status.h"

namespace attn {

constexpr std::size_t kMaxPickleDepth = 1000;

/// `fileSize` bounds the dense size of each tensor (see the check's comment).
Status checkGraph(const PickleArena& arena, const PickleValue& root, const std::string& where, uint64_t fileSize);

} // namespace attn
