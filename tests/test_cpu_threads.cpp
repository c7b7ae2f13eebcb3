// SPDX-License-Identifier: GPL-3.0-or-later
// The intra-op thread count: physical cores among the CPUs this process may use, from sysfs topology (a fake tree
// here), so that LibTorch 1.x's "half the hardware threads" guess does not idle half of a machine without SMT.
#include "engine/cpu_threads.h"
#include "test_helpers.h"

#include <gtest/gtest.h>

#include <filesystem>

using namespace attn;
using namespace attn::engine;

namespace {

void writeTopology(const std::string& root, int cpu, const char* file, const std::string& siblings)
{
    const std::string dir = root + "/cpu" + std::to_string(cpu) + "/topology";
    std::filesystem::create_directories(dir);
    test::writeBytes(dir + "/" + file, siblings + "\n");
}

TEST(CpuThreads, CountsEachCoreOnceWhateverItsHardwareThreads)
{
    test::TempDir sysfs;
    // Two cores with two hardware threads each (0,4 and 1,5), one core of one (2), one CPU without topology (3),
    // and an older kernel's file name on the last core.
    writeTopology(sysfs.path(), 0, "core_cpus_list", "0,4");
    writeTopology(sysfs.path(), 4, "core_cpus_list", "0,4");
    writeTopology(sysfs.path(), 1, "core_cpus_list", "1,5");
    writeTopology(sysfs.path(), 5, "core_cpus_list", "1,5");
    writeTopology(sysfs.path(), 2, "core_cpus_list", "2");
    writeTopology(sysfs.path(), 6, "thread_siblings_list", "6-7");
    writeTopology(sysfs.path(), 7, "thread_siblings_list", "6-7");
    EXPECT_EQ(physicalCores({0, 1, 2, 4, 5}, sysfs.path()), 3);
    EXPECT_EQ(physicalCores({0, 4}, sysfs.path()), 1) << "two hardware threads of one core";
    EXPECT_EQ(physicalCores({0, 1}, sysfs.path()), 2) << "one thread of each of two cores";
    EXPECT_EQ(physicalCores({3}, sysfs.path()), 1) << "no topology: the CPU counts as its own core";
    EXPECT_EQ(physicalCores({6, 7}, sysfs.path()), 1);
    EXPECT_EQ(physicalCores({2, 3, 6}, sysfs.path()), 3);
}

TEST(CpuThreads, ThisProcessMayRunOnAtLeastOneCpu)
{
    const std::set<int> cpus = allowedCpus();
    ASSERT_FALSE(cpus.empty());
    const int cores = physicalCores(cpus, "/sys/devices/system/cpu");
    EXPECT_GE(cores, 1);
    EXPECT_LE(cores, static_cast<int>(cpus.size()));
}

} // namespace
