// SPDX-License-Identifier: GPL-3.0-or-later
#include "promptedit.h"

#include <QClipboard>
#include <QGuiApplication>
#include <QKeyEvent>
#include <QMimeData>

namespace attn::app {

PromptEdit::PromptEdit(QWidget* parent)
    : QPlainTextEdit(parent)
{
}

bool PromptEdit::clipboardHasText()
{
    const QClipboard* clipboard = QGuiApplication::clipboard();
    const QMimeData* data = clipboard ? clipboard->mimeData(QClipboard::Clipboard) : nullptr;
    return data && data->hasText() && !data->text().isEmpty();
}

bool PromptEdit::canInsertFromMimeData(const QMimeData* source) const
{
    return source && source->hasText() && !source->text().isEmpty();
}

void PromptEdit::insertFromMimeData(const QMimeData* source)
{
    // Plain text only: a rich-text paste would bring formatting the tokenizer never sees.
    if (canInsertFromMimeData(source))
        insertPlainText(source->text());
}

void PromptEdit::keyPressEvent(QKeyEvent* event)
{
    // Ctrl+V / Shift+Insert with nothing to paste: do nothing instead of entering Qt's crashing path.
    if (event->matches(QKeySequence::Paste) && !clipboardHasText()) {
        event->accept();
        return;
    }
    QPlainTextEdit::keyPressEvent(event);
}

void PromptEdit::mouseReleaseEvent(QMouseEvent* event)
{
    // X11's middle-click pastes the selection buffer, the same path as Ctrl+V.
    if (event->button() == Qt::MiddleButton) {
        const QClipboard* clipboard = QGuiApplication::clipboard();
        const QMimeData* data = clipboard ? clipboard->mimeData(QClipboard::Selection) : nullptr;
        if (!data || !data->hasText() || data->text().isEmpty()) {
            event->accept();
            return;
        }
    }
    QPlainTextEdit::mouseReleaseEvent(event);
}

} // namespace attn::app
