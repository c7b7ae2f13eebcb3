// SPDX-License-Identifier: GPL-3.0-or-later
#include "longprompt.h"

#include "attnscope/tasks.h"

#include <QStringList>

namespace attn::app {

QString longNeedlesPrompt(int maxWords, uint64_t seed)
{
    TaskOptions options;
    options.nNeedles = 1; // what the bundled needles models were trained on (their eval.json)
    options.nQueried = 1;
    options.depthPercent = 50;
    options.seed = seed;
    // The filler runs a sentence over contextWords and the needle and question add a few words: start a little
    // short and shrink by the overshoot until the prompt fits.
    options.contextWords = std::max(1, maxWords - 24);
    for (int attempt = 0; attempt < 8; ++attempt) {
        auto generator = TaskGenerator::create(TaskKind::Needles, options);
        if (!generator) {
            qWarning("longNeedlesPrompt: %s", generator.message().c_str());
            return {};
        }
        const QString prompt = QString::fromStdString(promptText(generator->next())).trimmed();
        const int words = static_cast<int>(prompt.split(QLatin1Char(' '), Qt::SkipEmptyParts).size());
        if (words <= maxWords)
            return prompt;
        options.contextWords = std::max(1, options.contextWords - (words - maxWords) - 1);
    }
    return {};
}

} // namespace attn::app
