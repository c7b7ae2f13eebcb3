// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "attnscope/tasks.h"

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace attn::tasks {

using Rng = std::mt19937_64;

// Our own draws: std::uniform_int_distribution and friends are implementation-defined, so the same
// seed would give different datasets with libstdc++ and libc++. mt19937_64's output is fixed by the
// standard, and these functions only use integer arithmetic and exact IEEE operations on top of it.

/** @brief Uniform integer in [lo, hi] (inclusive), unbiased. Requires lo <= hi. */
int64_t uniformInt(Rng& rng, int64_t lo, int64_t hi);
/** @brief Uniform double in [0, 1) with 53 random bits. */
double uniform01(Rng& rng);
/** @brief Index i with probability weights[i] / sum(weights); weights are non-negative integers. */
size_t weightedChoice(Rng& rng, const std::vector<int64_t>& weights);
/** @brief k distinct values from [0, n), in draw order (partial Fisher-Yates). Requires k <= n. */
std::vector<size_t> sampleDistinct(Rng& rng, size_t n, size_t k);

/** @brief Joins pieces with single spaces and remembers where each piece starts. */
class TextBuilder {
public:
    /// Appends piece (after a space unless first); returns its [begin, end) character range.
    std::pair<size_t, size_t> append(const std::string& piece);
    const std::string& text() const { return m_text; }
    std::string take() { return std::move(m_text); }

private:
    std::string m_text;
};

/** @brief Appends the whitespace-separated words of text to vocab unless already present. */
void addWords(std::vector<std::string>& vocab, const std::string& text);

TaskSample generateCounting(const TaskOptions& options, Rng& rng);
TaskSample generateFlipFlop(const TaskOptions& options, Rng& rng);
TaskSample generateSelectiveCopy(const TaskOptions& options, Rng& rng);
TaskSample generateNeedles(const TaskOptions& options, Rng& rng);

// Vocabulary without the four special tokens (task_common adds them first).
std::vector<std::string> countingWords(const TaskOptions& options);
std::vector<std::string> flipFlopWords();
std::vector<std::string> selectiveCopyWords(const TaskOptions& options);
std::vector<std::string> needlesWords();

/** @brief Most words one filler sentence has; the needles option check needs it. */
int needlesMaxSentenceWords();
/** @brief Number of distinct cities, the upper bound for nNeedles. */
int needlesCityCount();

} // namespace attn::tasks
