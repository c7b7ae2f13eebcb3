// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <string>
#include <sys/types.h>
#include <vector>

namespace attn::test {

/**
 * @brief A real attnscope-server process for a test: started with the given arguments (plus --listen
 * 127.0.0.1:0 unless given), its port read from the "listening on" line it prints, its stderr kept in a file.
 */
class ServerProcess {
public:
    /// env: extra "NAME=value" entries (ATTNSCOPE_TOKEN is removed from the inherited environment first).
    ServerProcess(std::vector<std::string> args, std::vector<std::string> env = {});
    ~ServerProcess();
    ServerProcess(const ServerProcess&) = delete;
    ServerProcess& operator=(const ServerProcess&) = delete;

    /// Whether it printed its port within a few seconds.
    bool started() const { return m_port > 0; }
    int port() const { return m_port; }
    std::string target(const std::string& host = "127.0.0.1") const { return host + ":" + std::to_string(m_port); }
    /// Stops it with SIGKILL (a crash, as far as its clients can tell) and waits for it.
    void kill();
    /// Sends SIGTERM (a stop, as systemd or Ctrl+C would ask) and waits up to `seconds`; returns its exit status, -1
    /// when it is still running then (it is left running: the destructor kills it).
    int terminate(double seconds);
    /// Waits for it to exit on its own (a refused start); returns its exit status, -1 on timeout.
    int waitExit(double seconds);
    /// What it wrote to stderr so far (refusals are logged there).
    std::string errorLog() const;
    /// What it wrote to stdout before it started listening (or exited).
    const std::string& output() const { return m_stdout; }

private:
    pid_t m_pid = -1;
    int m_port = 0;
    int m_exitStatus = -1;
    std::string m_stdout;
    std::string m_stderrPath;
};

/// Runs a command, returns its exit status; stdout goes to stdoutPath when not empty.
int runCommand(
    const std::vector<std::string>& argv, const std::string& stdoutPath = {}, const std::vector<std::string>& env = {});

} // namespace attn::test
