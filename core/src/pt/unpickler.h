// SPDX-License-Identifier: GPL-3.0-or-later
// The restricted pickle virtual machine: reads the opcodes torch.save writes (protocols 2 to 5) into an
// inert PickleValue graph. It never imports or calls anything.
#pragma once

#include "pt/pickle_arena.h"

#include "attnscope/status.h"

#include <cstdint>
#include <functional>
#include <string>

namespace attn {

/// Resolves BINPERSID ('storage', type, key, location, numel) to the archive's record `data/<key>`.
using StorageResolver = std::function<Result<const PtStorage*>(
    const std::string& key, PtScalarType dtype, const std::string& location, int64_t numel)>;

/// Runs `data[0, size)` to STOP. `where` prefixes every message ("cope.pt: data.pkl").
Result<PickleValue*> unpickle(
    const uint8_t* data, uint64_t size, const std::string& where, PickleArena& arena, const StorageResolver& resolve);

} // namespace attn
