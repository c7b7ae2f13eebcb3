// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The provenance fields shared by a file's sidecar and a bundle's maps.json (export.h).

#include "attnscope/export.h"

#include <nlohmann/json.hpp>

namespace attn::exportfmt {

/// NaN / infinity -> null.
nlohmann::ordered_json numberOrNull(double value);

/// What every export says about its origin: version, time, front end, request, model, device, prompt, tokens.
nlohmann::ordered_json originObject(const Provenance& provenance);

} // namespace attn::exportfmt
