// SPDX-License-Identifier: GPL-3.0-or-later
#include "attnscope/fileio.h"

#include "fd_guard.h"

#include <openssl/evp.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace attn {

namespace {

std::string errnoText(int err)
{
    return std::strerror(err);
}

using detail::FdGuard;

std::string directoryOf(const std::string& path)
{
    const auto slash = path.find_last_of('/');
    if (slash == std::string::npos)
        return ".";
    if (slash == 0)
        return "/";
    return path.substr(0, slash);
}

// A name unlikely to collide with a concurrent writer in the same directory; O_EXCL settles the
// rare collision.
std::string tempNameFor(const std::string& path)
{
    static std::atomic<unsigned> counter {0};
    thread_local std::mt19937 rng {std::random_device {}()};
    const auto slash = path.find_last_of('/');
    const std::string dir = slash == std::string::npos ? std::string() : path.substr(0, slash + 1);
    const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
    return dir + "." + base + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-"
        + std::to_string(rng());
}

// Returns 0 or the errno of the failed write; write() may accept only part of the buffer.
int writeAll(int fd, const char* data, std::size_t size)
{
    while (size > 0) {
        const ssize_t written = ::write(fd, data, size);
        if (written < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        data += written;
        size -= static_cast<std::size_t>(written);
    }
    return 0;
}

Status writeFileAtomicImpl(const std::string& path, const std::string& bytes)
{
    if (path.empty())
        return Status::error("cannot write a file with an empty path");

    std::string tempPath;
    int rawFd = -1;
    for (int attempt = 0; attempt < 16 && rawFd < 0; ++attempt) {
        tempPath = tempNameFor(path);
        // 0666 lets the process umask decide the final permissions, as for any ordinary new file.
        rawFd = ::open(tempPath.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (rawFd < 0 && errno != EEXIST)
            break;
    }
    if (rawFd < 0) {
        return Status::error(
            "cannot write \"" + path + "\": cannot create a temporary file next to it: " + errnoText(errno));
    }
    FdGuard fd(rawFd);

    auto fail = [&](const std::string& what, int err) {
        // The temp file is ours alone; leaving it would litter the user's directory.
        ::close(fd.release());
        ::unlink(tempPath.c_str());
        return Status::error("cannot write \"" + path + "\": " + what + ": " + errnoText(err));
    };

    if (const int err = writeAll(fd.get(), bytes.data(), bytes.size()); err != 0)
        return fail("write failed", err);
    // fsync before rename: otherwise a crash can leave the new name pointing at an empty file.
    if (::fsync(fd.get()) != 0)
        return fail("fsync failed", errno);
    if (::close(fd.release()) != 0) {
        const int err = errno;
        ::unlink(tempPath.c_str());
        return Status::error("cannot write \"" + path + "\": close failed: " + errnoText(err));
    }
    if (::rename(tempPath.c_str(), path.c_str()) != 0) {
        const int err = errno;
        ::unlink(tempPath.c_str());
        return Status::error("cannot write \"" + path + "\": rename failed: " + errnoText(err));
    }
    // Persist the rename itself. Best effort: some file systems refuse fsync on directories, and
    // the data is already safely in place under its final name as far as this process can tell.
    const int dirFd = ::open(directoryOf(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirFd >= 0) {
        ::fsync(dirFd);
        ::close(dirFd);
    }
    return Status::ok();
}

std::string sizeText(uint64_t bytes)
{
    return std::to_string(bytes) + " bytes";
}

Result<std::string> readFileImpl(const std::string& path, uint64_t maxBytes)
{
    // O_NONBLOCK: open() on a FIFO without a writer would otherwise wait forever.
    FdGuard fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
    if (fd.get() < 0)
        return Status::error("cannot open \"" + path + "\": " + errnoText(errno));
    struct stat info { };
    if (::fstat(fd.get(), &info) != 0)
        return Status::error("cannot stat \"" + path + "\": " + errnoText(errno));
    if (S_ISDIR(info.st_mode))
        return Status::error("cannot read \"" + path + "\": " + errnoText(EISDIR));
    if (S_ISREG(info.st_mode) && static_cast<uint64_t>(info.st_size) > maxBytes) {
        return Status::error("cannot read \"" + path + "\": it is " + sizeText(static_cast<uint64_t>(info.st_size))
            + ", more than the " + sizeText(maxBytes) + " allowed");
    }
    // Reads of a pipe block again from here, as a reader of `<(command)` expects.
    const int flags = ::fcntl(fd.get(), F_GETFL);
    if (flags >= 0)
        ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK);

    std::string bytes;
    // st_size is only a hint (pipes and /proc report 0), so read until EOF regardless.
    if (S_ISREG(info.st_mode) && info.st_size > 0)
        bytes.reserve(static_cast<std::size_t>(info.st_size));
    bool tooLong = false;
    const int err = detail::readChunks(fd.get(), 1 << 16, [&](const char* data, std::size_t n) {
        if (n > maxBytes - bytes.size()) {
            tooLong = true;
            return false;
        }
        bytes.append(data, n);
        return true;
    });
    if (tooLong)
        return Status::error("cannot read \"" + path + "\": it holds more than the " + sizeText(maxBytes) + " allowed");
    if (err != 0)
        return Status::error("cannot read \"" + path + "\": " + errnoText(err));
    return bytes;
}

Result<std::string> readRegularFileImpl(const std::string& path, uint64_t maxBytes)
{
    struct stat info { };
    std::string error;
    FdGuard fd(detail::openRegularFile(path, info, error));
    if (fd.get() < 0)
        return Status::error("cannot read \"" + path + "\": " + error);
    const uint64_t size = static_cast<uint64_t>(info.st_size);
    if (size > maxBytes) {
        return Status::error("cannot read \"" + path + "\": it is " + sizeText(size) + ", more than the "
            + sizeText(maxBytes) + " such a file may have");
    }
    std::string bytes;
    bytes.reserve(static_cast<std::size_t>(size));
    bool grew = false;
    const int err = detail::readChunks(fd.get(), 1 << 16, [&](const char* data, std::size_t n) {
        // A file growing while we read it must still stop at the bound.
        if (n > maxBytes - bytes.size()) {
            grew = true;
            return false;
        }
        bytes.append(data, n);
        return true;
    });
    if (grew)
        return Status::error("cannot read \"" + path + "\": it grew past " + sizeText(maxBytes) + " while being read");
    if (err != 0)
        return Status::error("cannot read \"" + path + "\": " + errnoText(err));
    return bytes;
}

struct EvpCtxDeleter {
    void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

Result<std::string> finishDigest(EVP_MD_CTX* ctx, const std::string& what)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digestLength = 0;
    if (EVP_DigestFinal_ex(ctx, digest, &digestLength) != 1)
        return Status::error("cannot hash " + what + ": SHA-256 finalisation failed");
    static const char hexDigits[] = "0123456789abcdef";
    std::string hex;
    hex.reserve(digestLength * 2);
    for (unsigned int i = 0; i < digestLength; ++i) {
        hex.push_back(hexDigits[digest[i] >> 4]);
        hex.push_back(hexDigits[digest[i] & 0x0F]);
    }
    return hex;
}

Result<std::string> sha256FileImpl(const std::string& path, const std::atomic<bool>* cancel)
{
    // Weight files only: a FIFO or /dev/zero in their place would hold the hashing thread forever.
    struct stat info { };
    std::string error;
    FdGuard fd(detail::openRegularFile(path, info, error));
    if (fd.get() < 0)
        return Status::error("cannot hash \"" + path + "\": " + error);

    std::unique_ptr<EVP_MD_CTX, EvpCtxDeleter> ctx(EVP_MD_CTX_new());
    if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1)
        return Status::error("cannot hash \"" + path + "\": OpenSSL could not initialise SHA-256");

    // Model files run to gigabytes; a fixed 1 MiB buffer keeps memory constant.
    const int err = detail::readChunks(fd.get(), 1 << 20, [&ctx, cancel](const char* data, std::size_t n) {
        return !(cancel && cancel->load()) && EVP_DigestUpdate(ctx.get(), data, n) == 1;
    });
    if (cancel && cancel->load())
        return Status::error("hashing \"" + path + "\" was cancelled");
    if (err > 0)
        return Status::error("cannot read \"" + path + "\": " + errnoText(err));
    if (err < 0)
        return Status::error("cannot hash \"" + path + "\": SHA-256 update failed");

    return finishDigest(ctx.get(), "\"" + path + "\"");
}

Result<std::string> sha256BytesImpl(const std::string& bytes)
{
    std::unique_ptr<EVP_MD_CTX, EvpCtxDeleter> ctx(EVP_MD_CTX_new());
    if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1
        || EVP_DigestUpdate(ctx.get(), bytes.data(), bytes.size()) != 1)
        return Status::error("cannot hash bytes: OpenSSL SHA-256 failed");
    return finishDigest(ctx.get(), "bytes");
}

} // namespace

namespace detail {

const char* fileTypeName(unsigned mode)
{
    if (S_ISDIR(mode))
        return "a directory";
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISCHR(mode))
        return "a character device";
    if (S_ISBLK(mode))
        return "a block device";
    if (S_ISSOCK(mode))
        return "a socket";
    return "not a regular file";
}

int openRegularFile(const std::string& path, struct stat& st, std::string& error)
{
    FdGuard fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
    if (fd.get() < 0) {
        error = std::string("cannot open: ") + errnoText(errno);
        return -1;
    }
    if (::fstat(fd.get(), &st) != 0) {
        error = std::string("cannot stat: ") + errnoText(errno);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        const std::string type = fileTypeName(st.st_mode);
        error = type == "not a regular file" ? type : "not a regular file (it is " + type + ")";
        return -1;
    }
    return fd.release();
}

} // namespace detail

// The public functions only add the no-exception guarantee: std::bad_alloc is the one exception the
// implementations can raise.
Status writeFileAtomic(const std::string& path, const std::string& bytes)
{
    try {
        return writeFileAtomicImpl(path, bytes);
    } catch (const std::exception& e) {
        return Status::error("cannot write \"" + path + "\": " + e.what());
    }
}

Result<std::string> readFile(const std::string& path, uint64_t maxBytes)
{
    try {
        return readFileImpl(path, maxBytes);
    } catch (const std::exception& e) {
        return Status::error("cannot read \"" + path + "\": " + e.what());
    }
}

Result<std::string> readRegularFile(const std::string& path, uint64_t maxBytes)
{
    try {
        return readRegularFileImpl(path, maxBytes);
    } catch (const std::exception& e) {
        return Status::error("cannot read \"" + path + "\": " + e.what());
    }
}

bool fileExists(const std::string& path)
{
    struct stat info { };
    return ::stat(path.c_str(), &info) == 0;
}

Result<std::string> sha256File(const std::string& path, const std::atomic<bool>* cancel)
{
    try {
        return sha256FileImpl(path, cancel);
    } catch (const std::exception& e) {
        return Status::error("cannot hash \"" + path + "\": " + e.what());
    }
}

Result<std::string> sha256Bytes(const std::string& bytes)
{
    try {
        return sha256BytesImpl(bytes);
    } catch (const std::exception& e) {
        return Status::error(std::string("cannot hash bytes: ") + e.what());
    }
}

} // namespace attn
