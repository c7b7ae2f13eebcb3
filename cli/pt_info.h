// SPDX-License-Identifier: GPL-3.0-or-later
// attnscope-cli info FILE.pt: what a torch.save file holds, read without running anything in it.
#pragma once

#include <string>

namespace attn::cli {

/// True for a path `info` should read as a torch.save file (a regular file, not a model directory).
bool isPtFile(const std::string& path);
/// Prints the file's contents (text, or one JSON object); returns the exit code.
int printPtInfo(const std::string& path, bool asJson);

} // namespace attn::cli
