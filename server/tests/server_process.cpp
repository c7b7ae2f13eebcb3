// SPDX-License-Identifier: GPL-3.0-or-later
#include "server_process.h"

#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <signal.h>
#include <spawn.h>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace attn::test {

namespace {

std::vector<std::string> environmentWith(const std::vector<std::string>& extra)
{
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e)
        if (std::strncmp(*e, "ATTNSCOPE_TOKEN=", 16) != 0)
            env.emplace_back(*e);
    env.insert(env.end(), extra.begin(), extra.end());
    return env;
}

std::vector<char*> pointers(std::vector<std::string>& strings)
{
    std::vector<char*> out;
    for (std::string& s : strings)
        out.push_back(s.data());
    out.push_back(nullptr);
    return out;
}

} // namespace

ServerProcess::ServerProcess(std::vector<std::string> args, std::vector<std::string> env)
{
    static int counter = 0;
    m_stderrPath
        = "/tmp/attnscope-server-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".log";
    bool hasListen = false;
    for (const std::string& a : args)
        hasListen = hasListen || a == "--listen";
    std::vector<std::string> argv {ATTNSCOPE_SERVER_PATH};
    if (!hasListen) {
        argv.push_back("--listen");
        argv.push_back("127.0.0.1:0");
    }
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<std::string> environment = environmentWith(env);

    const std::string stdoutPath = m_stderrPath + ".out";
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, stdoutPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, m_stderrPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    auto argvPtrs = pointers(argv);
    auto envPtrs = pointers(environment);
    const int spawned = posix_spawn(&m_pid, argv[0].c_str(), &actions, nullptr, argvPtrs.data(), envPtrs.data());
    posix_spawn_file_actions_destroy(&actions);
    if (spawned != 0) {
        m_pid = -1;
        return;
    }
    // Read its stdout until it says where it listens (or exits).
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    const std::string marker = "listening on ";
    while (std::chrono::steady_clock::now() < deadline) {
        std::ifstream in(stdoutPath);
        std::ostringstream text;
        text << in.rdbuf();
        m_stdout = text.str();
        const size_t at = m_stdout.find(marker);
        const size_t eol = at == std::string::npos ? at : m_stdout.find('\n', at);
        if (eol != std::string::npos) {
            const std::string where = m_stdout.substr(at + marker.size(), eol - at - marker.size());
            m_port = std::atoi(where.substr(where.rfind(':') + 1).c_str());
            break;
        }
        int status = 0;
        if (::waitpid(m_pid, &status, WNOHANG) == m_pid) { // exited: a refused start
            m_exitStatus = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            m_pid = -1;
            break;
        }
        ::usleep(20000);
    }
    ::unlink(stdoutPath.c_str());
}

ServerProcess::~ServerProcess()
{
    if (m_pid > 0) {
        ::kill(m_pid, SIGKILL);
        ::waitpid(m_pid, nullptr, 0);
    }
    ::unlink(m_stderrPath.c_str());
}

void ServerProcess::kill()
{
    if (m_pid <= 0)
        return;
    ::kill(m_pid, SIGKILL);
    ::waitpid(m_pid, nullptr, 0);
    m_pid = -1;
}

int ServerProcess::terminate(double seconds)
{
    if (m_pid <= 0)
        return m_exitStatus;
    ::kill(m_pid, SIGTERM);
    return waitExit(seconds);
}

int ServerProcess::waitExit(double seconds)
{
    if (m_pid <= 0)
        return m_exitStatus;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (m_pid > 0 && std::chrono::steady_clock::now() < deadline) {
        int status = 0;
        if (::waitpid(m_pid, &status, WNOHANG) == m_pid) {
            m_pid = -1;
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        ::usleep(20000);
    }
    return -1;
}

std::string ServerProcess::errorLog() const
{
    std::ifstream in(m_stderrPath);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

int runCommand(const std::vector<std::string>& args, const std::string& stdoutPath, const std::vector<std::string>& env)
{
    std::vector<std::string> argv = args;
    std::vector<std::string> environment = environmentWith(env);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    if (!stdoutPath.empty())
        posix_spawn_file_actions_addopen(
            &actions, STDOUT_FILENO, stdoutPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    auto argvPtrs = pointers(argv);
    auto envPtrs = pointers(environment);
    pid_t pid = -1;
    const int spawned = posix_spawn(&pid, argv[0].c_str(), &actions, nullptr, argvPtrs.data(), envPtrs.data());
    posix_spawn_file_actions_destroy(&actions);
    if (spawned != 0)
        return -1;
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

} // namespace attn::test
