// SPDX-License-Identifier: GPL-3.0-or-later
// The conversions engine.cpp and engine_remote.cpp share (core values to the UI's).
#pragma once

#include "engine.h"

#include <string>
#include <vector>

namespace attn::app::detail {

QString qstr(const std::string& text);
QStringList displayList(const std::vector<std::string>& tokens);
ModelInfo toModelInfo(const LoadedModel& loaded);

} // namespace attn::app::detail
