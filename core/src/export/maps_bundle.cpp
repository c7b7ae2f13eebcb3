// SPDX-License-Identifier: GPL-3.0-or-later
// The maps bundle (.npy per map + maps.json), written all-or-nothing: a staging folder beside the target,
// swapped into place by one rename under a lock (export.h says what a reader and a second writer see).
#include "attnscope/export.h"

#include "attnscope/fileio.h"
#include "attnscope/npy.h"
#include "export/provenance_json.h"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace attn {

namespace fs = std::filesystem;

namespace {

constexpr const char* kManifest = "maps.json";

struct Target {
    fs::path folder;
    fs::path parent;
    std::string name;
};

Result<Target> resolveTarget(const std::string& folder)
{
    if (folder.empty())
        return Status::error("the output folder name is empty");
    std::error_code ec;
    fs::path path = fs::absolute(fs::path(folder), ec);
    if (ec)
        return Status::error(StatusCode::Io, "cannot resolve the output folder \"" + folder + "\": " + ec.message());
    path = path.lexically_normal();
    if (path.filename().empty()) // "out/" normalises to "out/" with an empty file name
        path = path.parent_path();
    const std::string name = path.filename().string();
    if (name.empty() || name == "." || name == ".." || path == path.root_path())
        return Status::error("cannot write a maps bundle to \"" + folder + "\": name a folder below it");
    return Target {path, path.parent_path(), name};
}

bool isBundleFile(const std::string& name)
{
    const auto endsWith = [&](const std::string& tail) {
        return name.size() >= tail.size() && name.compare(name.size() - tail.size(), tail.size(), tail) == 0;
    };
    // .npy maps, the manifest, and the hidden temporaries an older attnscope could leave after a kill.
    return name == kManifest || endsWith(".npy") || (name.front() == '.' && name.find(".tmp-") != std::string::npos);
}

/// The overwrite rule, checked at begin() and again under the lock at commit().
Status checkTarget(const fs::path& folder, bool overwrite)
{
    std::error_code ec;
    const fs::file_status status = fs::symlink_status(folder, ec);
    if (ec && ec != std::errc::no_such_file_or_directory)
        return Status::error(StatusCode::Io, "cannot inspect " + folder.string() + ": " + ec.message());
    if (!fs::exists(status))
        return Status::ok();
    if (!fs::is_directory(status))
        return Status::error(StatusCode::Refused, folder.string() + " exists and is not a folder");
    const bool hasManifest = fs::exists(folder / kManifest, ec);
    if (hasManifest && !overwrite)
        return Status::error(StatusCode::Refused,
            (folder / kManifest).string() + " already exists; choose another folder or overwrite it (--force)");
    bool anyFile = false;
    for (const fs::directory_entry& entry : fs::directory_iterator(folder, ec)) {
        const std::string name = entry.path().filename().string();
        if (!isBundleFile(name))
            return Status::error(StatusCode::Refused,
                folder.string() + " holds files that are not part of a maps bundle (\"" + name
                    + "\"); replacing the folder would delete them: choose an empty or new folder");
        anyFile = true;
    }
    if (ec)
        return Status::error(StatusCode::Io, "cannot list " + folder.string() + ": " + ec.message());
    if (anyFile && !hasManifest && !overwrite)
        return Status::error(StatusCode::Refused,
            folder.string()
                + " holds .npy files without maps.json (an interrupted export?); overwrite it (--force) "
                  "or choose another folder");
    return Status::ok();
}

std::string stagingName(const std::string& target, const char* what)
{
    static std::atomic<unsigned> counter {0};
    thread_local std::mt19937 rng {std::random_device {}()};
    return "." + target + "." + what + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-"
        + std::to_string(rng() % 1000000);
}

/// Staging and set-aside folders of processes that no longer exist (killed with SIGKILL): nobody else will
/// remove them. Called under the lock, so no live writer's folder is at stake (their pid is alive).
void removeOrphans(const Target& target)
{
    std::error_code ec;
    for (const char* what : {".tmp-", ".old-"}) {
        const std::string prefix = "." + target.name + what;
        for (const fs::directory_entry& entry : fs::directory_iterator(target.parent, ec)) {
            const std::string name = entry.path().filename().string();
            if (name.compare(0, prefix.size(), prefix) != 0)
                continue;
            const long pid = std::strtol(name.c_str() + prefix.size(), nullptr, 10);
            if (pid > 0 && pid != ::getpid() && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) {
                std::error_code ignored;
                fs::remove_all(entry.path(), ignored);
            }
        }
    }
}

/// An exclusive advisory lock on the target's parent folder, held while a bundle is swapped in. flock() is
/// released by the kernel when its holder dies, so a killed writer never blocks the next one.
class ParentLock {
public:
    static Result<std::unique_ptr<ParentLock>> acquire(const fs::path& parent)
    {
        const int fd = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
            return Status::error(StatusCode::Io, "cannot open " + parent.string() + ": " + std::strerror(errno));
        while (::flock(fd, LOCK_EX) != 0) {
            if (errno != EINTR) {
                const int err = errno;
                ::close(fd);
                return Status::error(StatusCode::Io, "cannot lock " + parent.string() + ": " + std::strerror(err));
            }
        }
        return std::unique_ptr<ParentLock>(new ParentLock(fd));
    }
    ~ParentLock() { ::close(m_fd); } // closing releases the lock
    ParentLock(const ParentLock&) = delete;
    ParentLock& operator=(const ParentLock&) = delete;
    /// Persists the renames done under the lock (best effort, as writeFileAtomic does).
    void syncFolder() const { ::fsync(m_fd); }

private:
    explicit ParentLock(int fd)
        : m_fd(fd)
    {
    }
    int m_fd;
};

/// Moves `staging` to `target`: atomically when the file system has renameat2's flags.
Status swapIntoPlace(const fs::path& staging, const fs::path& target, const Target& names)
{
    std::error_code ec;
    const bool exists = fs::exists(fs::symlink_status(target, ec));
    const unsigned flags = exists ? RENAME_EXCHANGE : RENAME_NOREPLACE;
    if (::renameat2(AT_FDCWD, staging.c_str(), AT_FDCWD, target.c_str(), flags) == 0) {
        if (exists) // staging now holds the old bundle
            fs::remove_all(staging, ec);
        return Status::ok();
    }
    if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
        return Status::error(StatusCode::Io,
            "cannot move the new bundle to " + target.string() + ": " + std::strerror(errno) + " (" + target.string()
                + " is unchanged)");
    // No atomic swap here: set the old folder aside, move the new one in, delete the old one last.
    fs::path aside;
    if (exists) {
        aside = names.parent / stagingName(names.name, "old");
        if (::rename(target.c_str(), aside.c_str()) != 0)
            return Status::error(
                StatusCode::Io, "cannot set " + target.string() + " aside: " + std::strerror(errno) + " (unchanged)");
    }
    if (::rename(staging.c_str(), target.c_str()) != 0) {
        const int err = errno;
        if (exists)
            ::rename(aside.c_str(), target.c_str());
        return Status::error(StatusCode::Io,
            "cannot move the new bundle to " + target.string() + ": " + std::strerror(err) + " (unchanged)");
    }
    if (exists)
        fs::remove_all(aside, ec);
    return Status::ok();
}

nlohmann::ordered_json manifestEntry(const std::string& file, const AttentionMap& m)
{
    nlohmann::ordered_json entry;
    entry["file"] = file;
    entry["layer"] = m.layer;
    entry["head"] = m.head;
    entry["kind"] = toString(m.kind);
    entry["shape"] = {m.rows, m.cols};
    entry["first_query"] = m.rowBegin;
    entry["first_key"] = m.colBegin;
    entry["block"] = {m.rowBlock, m.colBlock};
    return entry;
}

} // namespace

Result<std::unique_ptr<MapsBundleWriter>> MapsBundleWriter::begin(const std::string& folder, const Options& options)
{
    try {
        auto target = resolveTarget(folder);
        if (!target)
            return target.status();
        if (Status s = checkTarget(target->folder, options.overwrite); !s)
            return s;
        std::error_code ec;
        fs::create_directories(target->parent, ec);
        if (ec)
            return Status::error(StatusCode::Io, "cannot create " + target->parent.string() + ": " + ec.message());
        std::unique_ptr<MapsBundleWriter> writer(new MapsBundleWriter());
        writer->m_target = target->folder.string();
        writer->m_options = options;
        for (int attempt = 0; attempt < 16 && writer->m_staging.empty(); ++attempt) {
            const fs::path staging = target->parent / stagingName(target->name, "tmp");
            if (::mkdir(staging.c_str(), 0777) == 0)
                writer->m_staging = staging.string();
            else if (errno != EEXIST)
                return Status::error(StatusCode::Io,
                    "cannot create a staging folder in " + target->parent.string() + ": " + std::strerror(errno));
        }
        if (writer->m_staging.empty())
            return Status::error(StatusCode::Io, "cannot create a staging folder in " + target->parent.string());
        return writer;
    } catch (const std::exception& e) {
        return Status::error(StatusCode::Internal, "maps bundle " + folder + ": " + e.what());
    }
}

MapsBundleWriter::~MapsBundleWriter()
{
    abandon();
}

void MapsBundleWriter::abandon()
{
    if (m_committed || m_staging.empty())
        return;
    std::error_code ignored;
    fs::remove_all(m_staging, ignored);
    m_staging.clear();
}

std::string MapsBundleWriter::fileName(const AttentionMap& map)
{
    std::string name = "L";
    name += std::to_string(map.layer);
    name += "_H";
    name += std::to_string(map.head);
    name += "_";
    name += toString(map.kind);
    name += ".npy";
    return name;
}

Status MapsBundleWriter::add(const AttentionMap& map)
{
    try {
        if (m_committed || m_staging.empty())
            return Status::error(StatusCode::Internal, "maps bundle " + m_target + ": add after commit or abandon");
        if (map.rows <= 0 || map.cols <= 0 || map.values.size() != static_cast<size_t>(map.rows * map.cols))
            return Status::error(StatusCode::Internal,
                "maps bundle " + m_target + ": a map whose values do not match its shape " + std::to_string(map.rows)
                    + " x " + std::to_string(map.cols));
        const std::string name = fileName(map);
        for (const Entry& e : m_entries)
            if (e.file == name)
                return Status::error(StatusCode::Internal, "maps bundle " + m_target + ": " + name + " added twice");
        if (Status s = writeNpyFloat32((fs::path(m_staging) / name).string(), map.values.data(), {map.rows, map.cols});
            !s)
            return Status::error(
                StatusCode::Io, "writing " + name + " of " + m_target + " (nothing was changed there): " + s.message());
        Entry entry {name, map};
        entry.geometry.values.clear();
        entry.geometry.values.shrink_to_fit();
        m_entries.push_back(std::move(entry));
        return Status::ok();
    } catch (const std::exception& e) {
        return Status::error(StatusCode::Internal, "maps bundle " + m_target + ": " + e.what());
    }
}

Status MapsBundleWriter::commit(const Provenance& provenance, double seconds)
{
    try {
        if (m_committed || m_staging.empty())
            return Status::error(StatusCode::Internal, "maps bundle " + m_target + ": committed twice");
        nlohmann::ordered_json manifest = exportfmt::originObject(provenance);
        nlohmann::ordered_json lambda = nlohmann::ordered_json::array();
        for (double l : provenance.lambdaPerLayer)
            lambda.push_back(exportfmt::numberOrNull(l));
        manifest["lambda"] = std::move(lambda);
        manifest["region"] = provenance.region.empty() ? std::string("full") : provenance.region;
        manifest["layout"]
            = "float32 C order, row = query token, column = key token, NaN = masked (future); cell (r, c) covers "
              "queries first_query + r*block[0] .. +block[0] and keys first_key + c*block[1] .. +block[1] (block 1 = "
              "exact values; >1 = a pooled overview)";
        nlohmann::ordered_json maps = nlohmann::ordered_json::array();
        for (const Entry& e : m_entries)
            maps.push_back(manifestEntry(e.file, e.geometry));
        manifest["maps"] = std::move(maps);
        manifest["seconds"] = exportfmt::numberOrNull(seconds);
        const std::string text = manifest.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
        if (Status s = writeFileAtomic((fs::path(m_staging) / kManifest).string(), text); !s)
            return Status::error(
                StatusCode::Io, "writing maps.json of " + m_target + " (nothing was changed there): " + s.message());

        auto target = resolveTarget(m_target);
        if (!target)
            return target.status();
        auto lock = ParentLock::acquire(target->parent);
        if (!lock)
            return lock.status();
        removeOrphans(*target);
        // Another writer may have committed since begin(): the overwrite rule holds for it too.
        if (Status s = checkTarget(target->folder, m_options.overwrite); !s)
            return s;
        if (Status s = swapIntoPlace(m_staging, target->folder, *target); !s)
            return s;
        (*lock)->syncFolder();
        m_committed = true;
        m_staging.clear();
        return Status::ok();
    } catch (const std::exception& e) {
        return Status::error(StatusCode::Internal, "maps bundle " + m_target + ": " + e.what());
    }
}

} // namespace attn
