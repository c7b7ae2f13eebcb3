// SPDX-License-Identifier: GPL-3.0-or-later
// Helpers shared by the libFuzzer targets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include <sys/mman.h>
#include <unistd.h>

namespace attn::fuzz {

/// The input as a regular file the readers can open by path, kept in memory (memfd) so that millions of runs
/// touch no disk. The path stays valid while this object lives.
class MemoryFile {
public:
    MemoryFile(const uint8_t* data, std::size_t size)
    {
        m_fd = ::memfd_create("attnscope-fuzz", MFD_CLOEXEC);
        if (m_fd < 0)
            std::abort(); // the harness cannot work without it; a crash here is not a finding
        std::size_t done = 0;
        while (done < size) {
            const ssize_t n = ::write(m_fd, data + done, size - done);
            if (n <= 0)
                std::abort();
            done += static_cast<std::size_t>(n);
        }
        m_path = "/proc/self/fd/" + std::to_string(m_fd);
    }
    ~MemoryFile() { ::close(m_fd); }
    MemoryFile(const MemoryFile&) = delete;
    MemoryFile& operator=(const MemoryFile&) = delete;

    const std::string& path() const { return m_path; }

private:
    int m_fd = -1;
    std::string m_path;
};

/// Keeps a value observable so the optimiser cannot drop the work that produced it.
template <typename T> void consume(const T& value)
{
    volatile const void* sink = &value;
    (void)sink;
}

} // namespace attn::fuzz
