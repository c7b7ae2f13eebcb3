// SPDX-License-Identifier: GPL-3.0-or-later
// The CoPE counting task, following the official scripts/count_data_gen.py step by step (cope.md 4.1).
#include "tasks/task_internal.h"

#include <string>
#include <utility>
#include <vector>

namespace attn::tasks {

namespace {

constexpr int kMaxValue = 10;
constexpr int kStatementTries = 100;

enum class Op { Set, Dummy, Increment };
// Weights SET 1, DUMMY 50, INCREMENT 7, in the order of the official OP_WEIGHTS dict.
const std::vector<int64_t> kOpWeights = {1, 50, 7};
constexpr Op kOps[] = {Op::Set, Op::Dummy, Op::Increment};

struct Statement {
    Op op;
    int var; // -1 for DUMMY
    std::pair<size_t, size_t> span;
};

struct State {
    // Existing variables in creation order: the official code picks from list(dict.keys()), which is
    // insertion-ordered, so the order (not only the set) decides which variable a draw selects.
    std::vector<int> existing;
    int values[26] = {};
    bool exists[26] = {};
};

std::string varName(int v)
{
    return std::string(1, static_cast<char>('a' + v));
}

// One attempt at an op; false is the official GenerationFail (no variable yet, or increment past 10).
bool tryOp(Op op, int nVars, State& state, Rng& rng, int& var)
{
    switch (op) {
    case Op::Set:
        var = static_cast<int>(uniformInt(rng, 0, nVars - 1));
        if (!state.exists[var]) {
            state.exists[var] = true;
            state.existing.push_back(var);
        }
        state.values[var] = 0;
        return true;
    case Op::Dummy:
        var = -1;
        return true;
    case Op::Increment: {
        if (state.existing.empty())
            return false;
        var = state.existing[static_cast<size_t>(uniformInt(rng, 0, static_cast<int64_t>(state.existing.size()) - 1))];
        if (state.values[var] + 1 > kMaxValue)
            return false;
        ++state.values[var];
        return true;
    }
    }
    return false;
}

std::string statementText(Op op, int var)
{
    switch (op) {
    case Op::Set:
        return varName(var) + " = 0 ;";
    case Op::Dummy:
        return "pass;";
    case Op::Increment:
        return varName(var) + " ++;";
    }
    return "pass;";
}

// One try_generate_sample(); false when no variable exists at the PRINT (the whole sample is redrawn,
// with a fresh nsteps, exactly as the official generate_sample does).
bool tryGenerate(const TaskOptions& options, Rng& rng, TaskSample& out)
{
    const auto nsteps = uniformInt(rng, 3, options.maxSteps);
    State state;
    std::vector<Statement> statements;
    statements.reserve(static_cast<size_t>(nsteps));
    TextBuilder context;
    for (int64_t step = 0; step < nsteps; ++step) {
        Op op = Op::Dummy;
        int var = -1;
        bool ok = false;
        for (int trial = 0; trial < kStatementTries && !ok; ++trial) {
            op = kOps[weightedChoice(rng, kOpWeights)];
            ok = tryOp(op, options.nVars, state, rng, var);
        }
        if (!ok) {
            // The official script raises here; with DUMMY at 50/58 it would take ~1e-88 odds. A no-op keeps
            // next() total without touching the distribution in any measurable way.
            op = Op::Dummy;
            var = -1;
        }
        const auto span = context.append(statementText(op, var));
        statements.push_back({op, var, span});
    }
    if (state.existing.empty())
        return false;

    // The final PRINT is not one of the nsteps statements: the official code draws it after the loop and
    // splits it off as the question, so the context holds exactly nsteps statements.
    const int printed
        = state.existing[static_cast<size_t>(uniformInt(rng, 0, static_cast<int64_t>(state.existing.size()) - 1))];
    out.context = context.take();
    out.question = "print " + varName(printed);
    out.answer = std::to_string(state.values[printed]);

    // Evidence: the printed variable's last SET and the increments after it.
    size_t lastSet = statements.size();
    for (size_t i = statements.size(); i-- > 0;) {
        if (statements[i].op == Op::Set && statements[i].var == printed) {
            lastSet = i;
            break;
        }
    }
    for (size_t i = lastSet; i < statements.size(); ++i) {
        if (statements[i].var == printed)
            out.answerSpans.push_back(statements[i].span);
    }
    return true;
}

} // namespace

TaskSample generateCounting(const TaskOptions& options, Rng& rng)
{
    // The official script gives up with an error after 1000 redraws; we keep drawing instead, since a
    // sample without a PRINT is useless. Each redraw succeeds with probability > 1 - (50/51)^3, so the
    // loop ends almost surely within a few dozen tries even at maxSteps = 3.
    for (;;) {
        TaskSample sample;
        if (tryGenerate(options, rng, sample))
            return sample;
    }
}

std::vector<std::string> countingWords(const TaskOptions& options)
{
    std::vector<std::string> words;
    const int nVars = options.nVars < 1 ? 1 : (options.nVars > 26 ? 26 : options.nVars);
    for (int v = 0; v < nVars; ++v)
        words.push_back(varName(v));
    for (const char* w : {"=", ";", "++;", "pass;", "print"})
        words.emplace_back(w);
    for (int n = 0; n <= kMaxValue; ++n)
        words.push_back(std::to_string(n));
    return words;
}

} // namespace attn::tasks
