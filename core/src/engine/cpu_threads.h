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

/// Whether the user set the thread count (OMP_NUM_THREADS or MKL_NUM_THREADS): then attnscope leaves it alone.
bool userChoseThreads();

/// The CPUs in this process's affinity mask (all online CPUs where the mask cannot be read).
std::set<int> allowedCpus();

} // namespace attn::engine
