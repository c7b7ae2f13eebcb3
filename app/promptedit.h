// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QPlainTextEdit>

namespace attn::app {

/**
 * @brief The prompt editor. Pasting an empty clipboard crashes Qt 6.4.2's QPlainTextEdit (SIGSEGV inside Qt, also in
 * a five-line program), so a paste happens only when the clipboard holds text; anything else is ignored, and the
 * user's session survives.
 */
class PromptEdit : public QPlainTextEdit {
    Q_OBJECT
public:
    explicit PromptEdit(QWidget* parent = nullptr);
    /// Whether the clipboard holds text a paste would insert.
    static bool clipboardHasText();

protected:
    bool canInsertFromMimeData(const QMimeData* source) const override;
    void insertFromMimeData(const QMimeData* source) override;
    void keyPressEvent(QKeyEvent* event) override;
    void mouseReleaseEvent(QMouseEvent* event) override;
};

} // namespace attn::app
