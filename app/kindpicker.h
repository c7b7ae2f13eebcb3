// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QStringList>
#include <QWidget>

class QHBoxLayout;
class QLabel;
class QToolButton;

namespace attn::app {

/**
 * @brief The row above the Maps grid: what the grid shows (e.g. "layer 0, head 0", said once for every panel) and a
 * checkable button per map kind, so a user can show only the maps they want (A1, A2, D) at a readable size.
 */
class KindPicker : public QWidget {
    Q_OBJECT
public:
    explicit KindPicker(QWidget* parent = nullptr);

    /// One button per kind (core name, e.g. "LA2"; shown label, e.g. "λ·A2"; tooltip); `hidden` start unchecked.
    /// Unknown names in `hidden` are ignored. Emits nothing.
    void setKinds(
        const QStringList& names, const QStringList& labels, const QStringList& tips, const QStringList& hidden);
    /// The kinds the user switched off, in display order.
    QStringList hiddenKinds() const;
    bool isShown(const QString& name) const;
    void setCaption(const QString& caption);

Q_SIGNALS:
    /// The user switched a kind on or off.
    void hiddenKindsChanged(const QStringList& hidden);

private:
    QLabel* m_caption = nullptr;
    QHBoxLayout* m_buttons = nullptr;
    QList<QToolButton*> m_kinds;
};

} // namespace attn::app
