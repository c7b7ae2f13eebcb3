// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "path_guard.h"

#include <string>
#include <vector>

namespace attn::server {

struct ListedModel {
    std::string root;
    std::string relativePath; ///< '/'-separated
    std::string kind; ///< "folder" (holds config.json) or "checkpoint" (.pt / .pth)
};

/**
 * @brief What the allowed folders hold, a few levels deep: folders with a config.json (not searched further) and
 * .pt / .pth files. Entries that resolve outside the allowed folders (symlinks out) are left out; unreadable folders
 * are skipped. Sorted by root, then path. Reads directory entries only.
 */
std::vector<ListedModel> listModels(const PathGuard& guard, int maxDepth = 4);

} // namespace attn::server
