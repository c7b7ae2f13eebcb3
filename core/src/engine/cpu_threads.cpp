// SPDX-License-Identifier: GPL-3.0-or-later
#include "engine/cpu_threads.h"

#include "attnscope/model.h"

#include <ATen/Parallel.h>

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <mutex>

namespace attn::engine {

namespace {

/// The core a CPU belongs to: its SMT sibling list, which every hardware thread of one core shares.
std::string coreOf(int cpu, const std::string& sysfsRoot)
{
    const std::string dir = sysfsRoot + "/cpu" + std::to_string(cpu) + "/topology/";
    for (const char* name : {"core_cpus_list", "thread_siblings_list"}) {
        std::ifstream in(dir + name);
        std::string siblings;
        if (in && std::getline(in, siblings) && !siblings.empty())
            return siblings;
    }
    return "cpu" + std::to_string(cpu);
}

} // namespace

bool userChoseThreads()
{
    for (const char* name : {"OMP_NUM_THREADS", "MKL_NUM_THREADS"}) {
        const char* value = std::getenv(name);
        if (value && *value)
            return true;
    }
    return false;
}

int physicalCores(const std::set<int>& cpus, const std::string& sysfsRoot)
{
    std::set<std::string> cores;
    for (int cpu : cpus)
        cores.insert(coreOf(cpu, sysfsRoot));
    return static_cast<int>(cores.size());
}

std::set<int> allowedCpus()
{
    std::set<int> cpus;
    cpu_set_t mask;
    CPU_ZERO(&mask);
    if (sched_getaffinity(0, sizeof(mask), &mask) == 0) {
        for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
            if (CPU_ISSET(cpu, &mask))
                cpus.insert(cpu);
    }
    if (cpus.empty()) {
        const long online = sysconf(_SC_NPROCESSORS_ONLN);
        for (long cpu = 0; cpu < online; ++cpu)
            cpus.insert(static_cast<int>(cpu));
    }
    return cpus;
}

} // namespace attn::engine

namespace attn {

void configureCpuThreads(int coresKeptFree)
{
    static std::once_flag once;
    std::call_once(once, [coresKeptFree] {
        if (engine::userChoseThreads())
            return;
        const int cores = engine::physicalCores(engine::allowedCpus(), "/sys/devices/system/cpu");
        at::set_num_threads(std::max(1, cores - std::max(0, coresKeptFree)));
    });
}

} // namespace attn
