// SPDX-License-Identifier: GPL-3.0-or-later
#include "kindpicker.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QToolButton>

namespace attn::app {

KindPicker::KindPicker(QWidget* parent)
    : QWidget(parent)
{
    auto* row = new QHBoxLayout(this);
    row->setContentsMargins(0, 0, 0, 0);
    row->setSpacing(2);
    m_caption = new QLabel(this);
    m_caption->setObjectName(QStringLiteral("gridCaption"));
    QFont bold = m_caption->font();
    bold.setBold(true);
    m_caption->setFont(bold);
    row->addWidget(m_caption);
    row->addSpacing(8);
    auto* show = new QLabel(tr("Show:"), this);
    show->setToolTip(tr("Which maps the grid shows; fewer maps, larger maps. Remembered per attention and position "
                        "type."));
    row->addWidget(show);
    m_buttons = new QHBoxLayout;
    m_buttons->setSpacing(1);
    row->addLayout(m_buttons);
    row->addStretch(1);
}

void KindPicker::setKinds(
    const QStringList& names, const QStringList& labels, const QStringList& tips, const QStringList& hidden)
{
    qDeleteAll(m_kinds);
    m_kinds.clear();
    for (int i = 0; i < names.size(); ++i) {
        auto* button = new QToolButton(this);
        button->setObjectName(QStringLiteral("kind-") + names[i]);
        button->setText(i < labels.size() ? labels[i] : names[i]);
        button->setToolTip(i < tips.size() ? tips[i] : QString());
        button->setCheckable(true);
        button->setChecked(!hidden.contains(names[i]));
        button->setAutoRaise(true);
        button->setProperty("kind", names[i]);
        connect(button, &QToolButton::toggled, this, [this] { Q_EMIT hiddenKindsChanged(hiddenKinds()); });
        m_buttons->addWidget(button);
        m_kinds.append(button);
    }
}

QStringList KindPicker::hiddenKinds() const
{
    QStringList hidden;
    for (const QToolButton* button : m_kinds)
        if (!button->isChecked())
            hidden << button->property("kind").toString();
    return hidden;
}

bool KindPicker::isShown(const QString& name) const
{
    for (const QToolButton* button : m_kinds)
        if (button->property("kind").toString() == name)
            return button->isChecked();
    return true;
}

void KindPicker::setCaption(const QString& caption)
{
    m_caption->setText(caption);
}

} // namespace attn::app
