// SPDX-License-Identifier: GPL-3.0-or-later
// Private helpers for POSIX file descriptors, shared by fileio.cpp and safetensors.cpp.
#pragma once

#include <cerrno>
#include <functional>
#include <string>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

namespace attn::detail {

/// Closes a descriptor on every exit path; close errors matter only on the write path, which closes explicitly.
class FdGuard {
public:
    explicit FdGuard(int fd)
        : m_fd(fd)
    {
    }
    ~FdGuard()
    {
        if (m_fd >= 0)
            ::close(m_fd);
    }
    FdGuard(const FdGuard&) = delete;
    FdGuard& operator=(const FdGuard&) = delete;
    int get() const { return m_fd; }
    int release()
    {
        int fd = m_fd;
        m_fd = -1;
        return fd;
    }

private:
    int m_fd;
};

/// "a FIFO", "a directory", ...: what a path that is not a regular file is, for messages.
const char* fileTypeName(unsigned mode);

/// Opens path read-only for a model file. O_NONBLOCK because open() on a FIFO without a writer never returns;
/// fstat then refuses anything but a regular file. Returns the descriptor (st filled), or -1 with `error` set.
int openRegularFile(const std::string& path, struct stat& st, std::string& error);

/// Reads fd to EOF in chunks of chunkSize, retrying EINTR; returns errno of a failed read, or 0.
/// onChunk returns false to stop early (its own failure), which makes this return -1.
inline int readChunks(int fd, std::size_t chunkSize, const std::function<bool(const char*, std::size_t)>& onChunk)
{
    std::vector<char> chunk(chunkSize);
    for (;;) {
        const ssize_t got = ::read(fd, chunk.data(), chunk.size());
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        if (got == 0)
            return 0;
        if (!onChunk(chunk.data(), static_cast<std::size_t>(got)))
            return -1;
    }
}

} // namespace attn::detail
