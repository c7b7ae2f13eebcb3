// SPDX-License-Identifier: GPL-3.0-or-later
// What a call of a global means, for the few globals that describe data (tensors, storages, ordered dicts,
// devices, latin-1 bytes). Everything else becomes an inert Object; no global is ever imported or run.
#pragma once

#include "pt/pickle_arena.h"

#include "attnscope/status.h"

#include <optional>

namespace attn {

/// REDUCE(callable, args): the value it stands for. Errors carry no location; the VM adds it.
Result<PickleValue*> reduceGlobal(PickleArena& arena, const PickleValue& callable, const PickleValue& args);
/// NEWOBJ(cls, args): an OrderedDict becomes a dict, any other class an inert Object.
Result<PickleValue*> newObject(PickleArena& arena, const PickleValue& cls, const PickleValue& args);
/// The element type of a storage class global (torch.FloatStorage, torch.UntypedStorage, ...), if it is one.
std::optional<PtScalarType> storageClassType(const std::string& module, const std::string& name);

/// "a list of 3", "the string 'abc'", ... for messages; never longer than ~60 characters.
std::string describeValue(const PickleValue& value);

} // namespace attn
