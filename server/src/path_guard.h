// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "attnscope/status.h"

#include <string>
#include <vector>

namespace attn::server {

/**
 * @brief Decides which model paths a client may open: only those inside the server's allowed folders once every
 * symlink is resolved. A path with a `..` component is refused before anything is resolved (it has no use but
 * to climb out). Errors are Invalid (malformed, missing) or Refused (outside), with a message for the client.
 */
class PathGuard {
public:
    /// roots: canonical absolute folders (prepareServer made them so).
    explicit PathGuard(std::vector<std::string> roots);

    /**
     * @brief The canonical path to open for `requested`: an absolute path on the server, or one relative to an
     * allowed folder (the first folder that holds it).
     */
    Result<std::string> resolve(const std::string& requested) const;
    /// True when `canonicalPath` (already canonical) lies inside `root` (or is it).
    static bool isInside(const std::string& canonicalPath, const std::string& root);
    const std::vector<std::string>& roots() const { return m_roots; }

private:
    std::vector<std::string> m_roots;
};

} // namespace attn::server
