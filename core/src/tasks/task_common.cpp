// SPDX-License-Identifier: GPL-3.0-or-later
#include "attnscope/tasks.h"

#include "tasks/task_internal.h"

#include <algorithm>
#include <exception>
#include <limits>
#include <string>
#include <vector>

namespace attn {

namespace tasks {

int64_t uniformInt(Rng& rng, int64_t lo, int64_t hi)
{
    const uint64_t range = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo) + 1;
    if (range == 0) // the full 64-bit range
        return static_cast<int64_t>(rng());
    // 2^64 mod range: rejecting draws below it leaves a multiple of range values, so x % range is exact.
    const uint64_t threshold = (0 - range) % range;
    for (;;) {
        const uint64_t x = rng();
        if (x >= threshold)
            return static_cast<int64_t>(static_cast<uint64_t>(lo) + x % range);
    }
}

double uniform01(Rng& rng)
{
    return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

size_t weightedChoice(Rng& rng, const std::vector<int64_t>& weights)
{
    int64_t total = 0;
    for (int64_t w : weights)
        total += w;
    int64_t r = uniformInt(rng, 0, total - 1);
    for (size_t i = 0; i < weights.size(); ++i) {
        if (r < weights[i])
            return i;
        r -= weights[i];
    }
    return weights.size() - 1; // unreachable for positive totals
}

std::vector<size_t> sampleDistinct(Rng& rng, size_t n, size_t k)
{
    std::vector<size_t> pool(n);
    for (size_t i = 0; i < n; ++i)
        pool[i] = i;
    for (size_t i = 0; i < k; ++i) {
        const auto j = static_cast<size_t>(uniformInt(rng, static_cast<int64_t>(i), static_cast<int64_t>(n - 1)));
        std::swap(pool[i], pool[j]);
    }
    pool.resize(k);
    return pool;
}

std::pair<size_t, size_t> TextBuilder::append(const std::string& piece)
{
    if (!m_text.empty())
        m_text += ' ';
    const size_t begin = m_text.size();
    m_text += piece;
    return {begin, m_text.size()};
}

void addWords(std::vector<std::string>& vocab, const std::string& text)
{
    size_t pos = 0;
    while (pos < text.size()) {
        const size_t start = text.find_first_not_of(' ', pos);
        if (start == std::string::npos)
            break;
        size_t end = text.find(' ', start);
        if (end == std::string::npos)
            end = text.size();
        std::string word = text.substr(start, end - start);
        if (std::find(vocab.begin(), vocab.end(), word) == vocab.end())
            vocab.push_back(std::move(word));
        pos = end;
    }
}

} // namespace tasks

namespace {

// Caps keep one sample's memory bounded; they are far above any setting the papers use.
constexpr int kMaxTokens = 10'000'000;

Status checkRange(const char* name, int64_t value, int64_t lo, int64_t hi)
{
    if (value < lo || value > hi)
        return Status::error(std::string("task option ") + name + " = " + std::to_string(value) + " is out of range ["
            + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return Status::ok();
}

} // namespace

std::string toString(TaskKind kind)
{
    switch (kind) {
    case TaskKind::Counting:
        return "counting";
    case TaskKind::FlipFlop:
        return "flipflop";
    case TaskKind::SelectiveCopy:
        return "selective-copy";
    case TaskKind::Needles:
        return "needles";
    }
    return "unknown";
}

Result<TaskKind> parseTaskKind(const std::string& text)
{
    for (TaskKind kind : {TaskKind::Counting, TaskKind::FlipFlop, TaskKind::SelectiveCopy, TaskKind::Needles}) {
        if (text == toString(kind))
            return kind;
    }
    return Status::error(
        "unknown task \"" + text + "\" (expected one of: counting, flipflop, selective-copy, needles)");
}

Status validateTaskOptions(TaskKind kind, const TaskOptions& o)
{
    Status s = Status::ok();
    switch (kind) {
    case TaskKind::Counting:
        if (!(s = checkRange("nVars", o.nVars, 1, 26)))
            return s;
        return checkRange("maxSteps", o.maxSteps, 3, kMaxTokens);
    case TaskKind::FlipFlop:
        if (!(s = checkRange("length", o.length, 4, kMaxTokens)))
            return s;
        if (o.length % 2 != 0)
            return Status::error("task option length = " + std::to_string(o.length)
                + " must be even (the sequence is instruction/bit pairs)");
        if (!(o.pIgnore >= 0.0 && o.pIgnore <= 1.0)) // also rejects NaN
            return Status::error("task option pIgnore = " + std::to_string(o.pIgnore) + " must lie in [0, 1]");
        return Status::ok();
    case TaskKind::SelectiveCopy:
        if (!(s = checkRange("nData", o.nData, 1, kMaxTokens)))
            return s;
        if (!(s = checkRange("nBlank", o.nBlank, 0, kMaxTokens)))
            return s;
        return checkRange("dataVocab", o.dataVocab, 1, 1'000'000);
    case TaskKind::Needles: {
        if (!(s = checkRange("contextWords", o.contextWords, 1, kMaxTokens)))
            return s;
        if (!(s = checkRange("nNeedles", o.nNeedles, 1, tasks::needlesCityCount())))
            return s;
        if (!(s = checkRange("nQueried", o.nQueried, 1, o.nNeedles)))
            return s;
        if (!(s = checkRange("depthPercent", o.depthPercent, -1, 100)))
            return s;
        // Needles go at distinct sentence boundaries; the filler has at least this many of them.
        const int64_t minBoundaries = o.contextWords / tasks::needlesMaxSentenceWords() + 1;
        if (o.nNeedles > minBoundaries)
            return Status::error("task option nNeedles = " + std::to_string(o.nNeedles)
                + " needs more sentence boundaries than contextWords = " + std::to_string(o.contextWords)
                + " guarantees (at most " + std::to_string(minBoundaries) + ")");
        return Status::ok();
    }
    }
    return Status::error("unknown task kind");
}

std::vector<std::string> taskVocabulary(TaskKind kind, const TaskOptions& options)
{
    std::vector<std::string> vocab = {"<pad>", "<unk>", "<bos>", "<eos>"};
    std::vector<std::string> words;
    switch (kind) {
    case TaskKind::Counting:
        words = tasks::countingWords(options);
        break;
    case TaskKind::FlipFlop:
        words = tasks::flipFlopWords();
        break;
    case TaskKind::SelectiveCopy:
        words = tasks::selectiveCopyWords(options);
        break;
    case TaskKind::Needles:
        words = tasks::needlesWords();
        break;
    }
    for (auto& w : words) {
        if (std::find(vocab.begin(), vocab.end(), w) == vocab.end())
            vocab.push_back(std::move(w));
    }
    return vocab;
}

TaskGenerator::TaskGenerator(TaskKind kind, TaskOptions options)
    : m_kind(kind)
    , m_options(options)
    , m_rng(options.seed)
{
}

Result<TaskGenerator> TaskGenerator::create(TaskKind kind, TaskOptions options)
{
    try {
        Status s = validateTaskOptions(kind, options);
        if (!s)
            return s;
        return TaskGenerator(kind, options);
    } catch (const std::exception& e) {
        return Status::error(std::string("task generator: ") + e.what());
    }
}

std::vector<TaskSplit> taskSplits(TaskKind kind, const TaskOptions& options)
{
    std::vector<TaskSplit> splits {{"in-distribution", options}};
    auto add = [&](const char* name, auto&& change) {
        TaskOptions o = options;
        change(o);
        splits.push_back({name, o});
    };
    switch (kind) {
    case TaskKind::FlipFlop:
        // Liu et al.'s OOD splits are fixed ignore probabilities, not relative to the training one.
        add("sparse", [](TaskOptions& o) { o.pIgnore = 0.98; });
        add("dense", [](TaskOptions& o) { o.pIgnore = 0.1; });
        break;
    case TaskKind::SelectiveCopy:
        add("dense", [](TaskOptions& o) { o.nBlank /= 2; });
        add("sparse", [](TaskOptions& o) { o.nBlank *= 2; });
        break;
    case TaskKind::Counting:
    case TaskKind::Needles:
        break;
    }
    return splits;
}

TaskSample TaskGenerator::next()
{
    switch (m_kind) {
    case TaskKind::Counting:
        return tasks::generateCounting(m_options, m_rng);
    case TaskKind::FlipFlop:
        return tasks::generateFlipFlop(m_options, m_rng);
    case TaskKind::SelectiveCopy:
        return tasks::generateSelectiveCopy(m_options, m_rng);
    case TaskKind::Needles:
        return tasks::generateNeedles(m_options, m_rng);
    }
    return {};
}

} // namespace attn
