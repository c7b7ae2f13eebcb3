// SPDX-License-Identifier: GPL-3.0-or-later
// Help → Try a 16K-Token Prompt: long-context mode in two clicks. The bundled needles-diff-rope was trained on prompts
// of at most 160 tokens; as a RoPE model it has no position table, so its config.json accepts 16,384 and the token
// count says both numbers.
#include "bundledmodels.h"
#include "longprompt.h"
#include "mainwindow.h"

#include <QComboBox>
#include <QFileInfo>
#include <QLabel>

namespace attn::app {

namespace {

const QString kDemoModel = QStringLiteral("needles-diff-rope");

bool sameFolder(const QString& a, const QString& b)
{
    return QFileInfo(a).canonicalFilePath() == QFileInfo(b).canonicalFilePath();
}

} // namespace

void MainWindow::openLongContextDemo()
{
    const QString path = bundledModel(kDemoModel);
    if (path.isEmpty()) {
        showError(tr("Long-context demo"),
            tr("The bundled model %1 is not installed: set ATTNSCOPE_MODELS to the folder that holds it (the source "
               "tree's resources/models).")
                .arg(kDemoModel));
        return;
    }
    // One token per word plus <bos>.
    const QString prompt = longNeedlesPrompt(static_cast<int>(kLongContextDemoTokens) - 1, 7);
    if (prompt.isEmpty()) {
        showError(tr("Long-context demo"), tr("The needles task generator refused a prompt of this length."));
        return;
    }
    auto runDemo = [this, prompt] {
        setPrompt(prompt);
        m_status->setText(tr("running the 16K-token demo prompt on %1: Esc cancels").arg(kDemoModel));
        runNow();
    };
    for (const auto& [id, info] : m_models)
        if (info.server.isEmpty() && sameFolder(info.path, path)) {
            m_modelCombo->setCurrentIndex(m_modelCombo->findData(id));
            runDemo();
            return;
        }
    // Not open yet: once it is loaded (and selected, with its own prompt), put the long prompt in and run it.
    connect(
        m_engine, &Engine::modelLoaded, this,
        [this, path, runDemo](quint64, const ModelInfo& info) {
            if (info.server.isEmpty() && sameFolder(info.path, path))
                runDemo();
        },
        Qt::SingleShotConnection);
    openModel(path);
}

} // namespace attn::app
