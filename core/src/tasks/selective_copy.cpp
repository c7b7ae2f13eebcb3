// SPDX-License-Identifier: GPL-3.0-or-later
// Selective copy (Gu & Dao 2023), the variant the CoPE paper evaluates (cope.md 4.3).
#include "tasks/task_internal.h"

#include <algorithm>
#include <string>
#include <vector>

namespace attn::tasks {

TaskSample generateSelectiveCopy(const TaskOptions& options, Rng& rng)
{
    const auto slots = static_cast<size_t>(options.nData) + static_cast<size_t>(options.nBlank);
    const auto nData = static_cast<size_t>(options.nData);
    // Which slots carry data; sorted, so the data order in the context is the order to copy.
    std::vector<size_t> positions = sampleDistinct(rng, slots, nData);
    std::sort(positions.begin(), positions.end());
    // Data tokens are drawn with replacement, as in the Mamba task.
    std::vector<std::string> data(nData);
    for (auto& d : data)
        d = "d" + std::to_string(uniformInt(rng, 0, options.dataVocab - 1));

    TaskSample sample;
    TextBuilder context;
    size_t next = 0;
    for (size_t slot = 0; slot < slots; ++slot) {
        if (next < nData && positions[next] == slot) {
            sample.answerSpans.push_back(context.append(data[next]));
            ++next;
        } else {
            context.append("_");
        }
    }
    sample.context = context.take();
    sample.question = "copy";
    TextBuilder answer;
    for (const auto& d : data)
        answer.append(d);
    sample.answer = answer.take();
    return sample;
}

std::vector<std::string> selectiveCopyWords(const TaskOptions& options)
{
    std::vector<std::string> words = {"_", "copy"};
    for (int d = 0; d < options.dataVocab; ++d)
        words.push_back("d" + std::to_string(d));
    return words;
}

} // namespace attn::tasks
