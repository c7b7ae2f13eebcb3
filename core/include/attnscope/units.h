// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <string>

namespace attn {

/** @brief Human-readable byte count: "512 MiB", "3.2 GiB" (binary units; whole bytes below 1 KiB). */
std::string formatBytes(double bytes);

} // namespace attn
