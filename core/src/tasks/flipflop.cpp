// SPDX-License-Identifier: GPL-3.0-or-later
// Flip-flop language modeling (Liu et al., arXiv 2306.00946), as the CoPE paper uses it (cope.md 4.2).
#include "tasks/task_internal.h"

#include <sstream>
#include <string>
#include <vector>

namespace attn::tasks {

TaskSample generateFlipFlop(const TaskOptions& options, Rng& rng)
{
    const int pairs = options.length / 2;
    const double pWrite = options.pIgnore + (1.0 - options.pIgnore) / 2.0;
    TextBuilder text;
    TaskSample sample;
    char lastWritten = '0';
    std::pair<size_t, size_t> lastWriteSpan {0, 0};
    for (int p = 0; p < pairs; ++p) {
        char instr;
        if (p == 0) {
            instr = 'w'; // sequences start with a write, so every read has an answer
        } else if (p == pairs - 1) {
            instr = 'r'; // and end with a read, the bit the sample asks for
        } else {
            const double u = uniform01(rng);
            instr = u < options.pIgnore ? 'i' : (u < pWrite ? 'w' : 'r');
        }
        text.append(std::string(1, instr));
        if (p == pairs - 1) {
            sample.answer = std::string(1, lastWritten);
            break;
        }
        const char bit = instr == 'r' ? lastWritten : static_cast<char>('0' + uniformInt(rng, 0, 1));
        const auto span = text.append(std::string(1, bit));
        if (instr == 'w') {
            lastWritten = bit;
            lastWriteSpan = span;
        }
    }
    sample.context = text.take();
    sample.answerSpans.push_back(lastWriteSpan);
    return sample;
}

std::vector<std::string> flipFlopWords()
{
    return {"w", "r", "i", "0", "1"};
}

} // namespace attn::tasks

namespace attn {

std::vector<int> flipFlopReadTargets(const std::string& sequence)
{
    std::vector<std::string> tokens;
    std::istringstream in(sequence);
    for (std::string tok; in >> tok;)
        tokens.push_back(tok);
    std::vector<int> targets(tokens.size(), -1);
    int last = -1;
    for (size_t i = 0; i < tokens.size(); ++i) {
        if (tokens[i] == "r") {
            targets[i] = last;
        } else if (tokens[i] == "w" && i + 1 < tokens.size() && (tokens[i + 1] == "0" || tokens[i + 1] == "1")) {
            last = tokens[i + 1] == "1" ? 1 : 0;
        }
    }
    return targets;
}

} // namespace attn
