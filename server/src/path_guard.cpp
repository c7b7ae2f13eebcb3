// SPDX-License-Identifier: GPL-3.0-or-later
#include "path_guard.h"

#include <filesystem>

namespace attn::server {

namespace fs = std::filesystem;

PathGuard::PathGuard(std::vector<std::string> roots)
    : m_roots(std::move(roots))
{
}

bool PathGuard::isInside(const std::string& canonicalPath, const std::string& root)
{
    // Component by component, so /models2 is not inside /models.
    const fs::path path(canonicalPath);
    const fs::path base(root);
    auto p = path.begin();
    for (auto b = base.begin(); b != base.end(); ++b, ++p) {
        if (b->empty()) // a trailing separator in root
            continue;
        if (p == path.end() || *p != *b)
            return false;
    }
    return true;
}

Result<std::string> PathGuard::resolve(const std::string& requested) const
{
    if (requested.empty())
        return Status::error("no model path given");
    if (requested.find('\0') != std::string::npos)
        return Status::error("the model path holds a NUL byte");
    const fs::path path(requested);
    for (const fs::path& part : path)
        if (part == "..")
            return Status::error(
                "'" + requested + "': '..' is not allowed in a model path (give a path inside an allowed folder)");

    std::vector<fs::path> candidates;
    if (path.is_absolute()) {
        candidates.push_back(path);
    } else {
        for (const std::string& root : m_roots)
            candidates.push_back(fs::path(root) / path);
    }
    bool anyInside = false;
    for (const fs::path& candidate : candidates) {
        std::error_code ec;
        const fs::path real = fs::canonical(candidate, ec); // every symlink resolved
        const bool lexicallyInside = [&] {
            for (const std::string& root : m_roots)
                if (isInside(candidate.lexically_normal().string(), root))
                    return true;
            return false;
        }();
        anyInside = anyInside || lexicallyInside;
        if (ec)
            continue;
        for (const std::string& root : m_roots)
            if (isInside(real.string(), root))
                return real.string();
        return Status::error(StatusCode::Refused,
            "'" + requested + "' is outside the server's allowed folders"
                + (lexicallyInside ? std::string(" (a symlink leads out of them)") : std::string()));
    }
    if (!anyInside) // do not tell whether something exists outside the allowed folders
        return Status::error(StatusCode::Refused, "'" + requested + "' is outside the server's allowed folders");
    return Status::error("'" + requested + "': no such file or folder in the server's allowed folders");
}

} // namespace attn::server
