// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <set>
#include <string>

namespace attn::engine {

/**
 * @brief Physical cores among the CPUs this process may run on: hardware threads of one core (SMT siblings, from
 * sysfs topology) count once. cpus: the affinity mask's CPU numbers; sysfsRoot: /sys/devices/system/cpu (a test
 * points it at a fake tree). A CPU whose topology cannot be read counts as its own core.
 */
int physicalCores(const std::set<int>& cpus, const std::string& sysfsRoot);

/// The CPUs in this process's affinity mask (all online CPUs where the mask cannot be read).
std::set<int> allowedCpus();

/**
 * @brief Sets LibTorch's intra-op threads to the physical cores this process may use, unless the user chose
 * (OMP_NUM_THREADS or MKL_NUM_THREADS). Once per process; later calls do nothing.
 *
 * Why: LibTorch 1.x starts its pool at hardware_concurrency() / 2 on x86-64, assuming two hardware threads per core.
 * Without SMT (most cloud VMs, many servers) that leaves half the cores idle in every softmax, mask and pooling op,
 * while OpenBLAS's matmuls use them all. LibTorch 2.x counts physical cores itself; this gives the same number.
 */
void useAllPhysicalCores();

} // namespace attn::engine
