// SPDX-License-Identifier: GPL-3.0-or-later
#include "model_listing.h"

#include <algorithm>
#include <filesystem>

namespace attn::server {

namespace fs = std::filesystem;

namespace {

bool insideSomeRoot(const fs::path& entry, const PathGuard& guard)
{
    std::error_code ec;
    const fs::path real = fs::canonical(entry, ec);
    if (ec)
        return false;
    for (const std::string& root : guard.roots())
        if (PathGuard::isInside(real.string(), root))
            return true;
    return false;
}

} // namespace

std::vector<ListedModel> listModels(const PathGuard& guard, int maxDepth)
{
    std::vector<ListedModel> out;
    for (const std::string& root : guard.roots()) {
        std::error_code ec;
        fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec);
        for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
            const fs::path& path = it->path();
            std::error_code statError;
            const bool isDir = fs::is_directory(path, statError);
            const std::string relative = path.lexically_relative(root).generic_string();
            if (isDir && fs::exists(path / "config.json", statError)) {
                if (insideSomeRoot(path, guard))
                    out.push_back({root, relative, "folder"});
                it.disable_recursion_pending();
                continue;
            }
            if (isDir && it.depth() + 1 >= maxDepth)
                it.disable_recursion_pending();
            const std::string ext = path.extension().string();
            if (!isDir && (ext == ".pt" || ext == ".pth") && insideSomeRoot(path, guard))
                out.push_back({root, relative, "checkpoint"});
        }
    }
    std::sort(out.begin(), out.end(), [](const ListedModel& a, const ListedModel& b) {
        return a.root != b.root ? a.root < b.root : a.relativePath < b.relativePath;
    });
    return out;
}

} // namespace attn::server
