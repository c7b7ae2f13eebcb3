// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "attnscope/status.h"

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace attn {

/**
 * @brief Synthetic tasks of the CoPE paper (counting, flip-flop, selective copy) and the DIFF paper
 * (multi-needle retrieval). Plain C++; see docs/tasks.md for formats and defaults.
 */
enum class TaskKind { Counting, FlipFlop, SelectiveCopy, Needles };

std::string toString(TaskKind kind);
/** @brief "counting", "flipflop", "selective-copy" or "needles". */
Result<TaskKind> parseTaskKind(const std::string& text);

/** @brief Generator options; each kind reads only its own fields (plus seed). */
struct TaskOptions {
    // Counting (cope.md 4.1).
    int nVars = 3; ///< 1..26: variables are the first nVars lowercase letters.
    int maxSteps = 512; ///< nsteps ~ UniformInt[3, maxSteps]; must be >= 3.
    // Flip-flop (cope.md 4.2).
    int length = 512; ///< Tokens in the full sequence (instruction/bit pairs); even, >= 4.
    double pIgnore = 0.8; ///< Probability that an inner instruction is "i".
    // Selective copy (cope.md 4.3).
    int nData = 16; ///< Data tokens to copy.
    int nBlank = 128; ///< Blank "_" tokens around them.
    int dataVocab = 16; ///< Data tokens are "d0" .. "d{dataVocab-1}".
    // Multi-needle retrieval (diff-attention.md 5.1).
    int contextWords = 256; ///< Filler length in words (whole sentences, so it may run a few over).
    int nNeedles = 4; ///< N: needles in the context, each a distinct city.
    int nQueried = 1; ///< R: cities asked about; 1..nNeedles.
    int depthPercent = -1; ///< Depth of the answer needle, 0..100; -1 draws it uniformly.

    uint64_t seed = 0;
};

/**
 * @brief One sample. The model reads promptText() = context + " " + question and must produce answer.
 *
 * answerSpans are [begin, end) character ranges in promptText() of the evidence the answer depends on:
 * counting: the last SET of the printed variable and every later increment of it; flip-flop: the last
 * written bit; selective copy: each data token; needles: the answer needle sentence first, then the
 * other queried needles.
 */
struct TaskSample {
    std::string context;
    std::string question;
    std::string answer;
    std::vector<std::pair<size_t, size_t>> answerSpans;
    int64_t depthPercent = -1; ///< Needles only: the answer needle's actual depth in the filler.
};

inline std::string promptText(const TaskSample& sample)
{
    return sample.context + " " + sample.question;
}

/** @brief Checks the options a kind uses; the message names the offending option. */
Status validateTaskOptions(TaskKind kind, const TaskOptions& options);

/** @brief A named evaluation split: the options a held-out set is drawn with. */
struct TaskSplit {
    std::string name;
    TaskOptions options;
};

/**
 * @brief The papers' evaluation splits of a task, derived from the training options:
 * - flipflop (Liu et al., cope.md 4.2): "in-distribution" (pIgnore as given, 0.8 by default),
 *   "sparse" (pIgnore 0.98: long write-to-read gaps) and "dense" (pIgnore 0.1);
 * - selective-copy (cope.md 4.3): "in-distribution" (nBlank as given), "dense" (nBlank / 2) and
 *   "sparse" (2 nBlank), CoPE's 64 / 128 / 256 blanks around 128 data tokens scaled to the given size;
 * - counting and needles: one split, "in-distribution".
 * Every split keeps the seed and all other options.
 */
std::vector<TaskSplit> taskSplits(TaskKind kind, const TaskOptions& options);

/**
 * @brief Every word the generator can emit (WordTokenizer splitting), in a stable order, starting
 * with "<pad>", "<unk>", "<bos>", "<eos>": write it out as a model's vocab.txt. Options are expected to
 * pass validateTaskOptions; out-of-range counts are clamped rather than reported.
 */
std::vector<std::string> taskVocabulary(TaskKind kind, const TaskOptions& options);

/**
 * @brief For a flip-flop sequence text ("w 1 i 0 r 1 ..."), the expected bit after every "r", stored at
 * the index of the "r" token itself (whitespace tokens, no BOS), -1 at every other index and at a read
 * with no earlier write. Indexing by the "r" keeps the target where a causal model's logits predict it,
 * and works on a context that ends in "r" (the final read has no bit yet).
 */
std::vector<int> flipFlopReadTargets(const std::string& sequence);

/**
 * @brief Deterministic sample stream: the same kind, options and seed give the same samples on every
 * machine (std::mt19937_64 plus our own integer/real draws, never the library's distributions).
 */
class TaskGenerator {
public:
    static Result<TaskGenerator> create(TaskKind kind, TaskOptions options);
    TaskSample next();

    TaskKind kind() const { return m_kind; }
    const TaskOptions& options() const { return m_options; }

private:
    TaskGenerator(TaskKind kind, TaskOptions options);
    TaskKind m_kind;
    TaskOptions m_options;
    std::mt19937_64 m_rng;
};

} // namespace attn
