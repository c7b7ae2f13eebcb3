// SPDX-License-Identifier: GPL-3.0-or-later
#include "busyoverlay.h"

#include <QEvent>
#include <QPainter>
#include <QTimer>

namespace attn::app {

BusyOverlay::BusyOverlay(QWidget* covered)
    : QWidget(covered)
    , m_delay(new QTimer(this))
{
    setObjectName(QStringLiteral("busyOverlay"));
    m_delay->setSingleShot(true);
    m_delay->setInterval(kDelayMs);
    connect(m_delay, &QTimer::timeout, this, [this] {
        setGeometry(parentWidget()->rect());
        raise();
        show();
    });
    covered->installEventFilter(this);
    hide();
}

void BusyOverlay::start(const QString& message)
{
    m_message = message;
    if (isVisible())
        update();
    else if (!m_delay->isActive())
        m_delay->start();
}

void BusyOverlay::finish()
{
    m_delay->stop();
    hide();
}

bool BusyOverlay::isPending() const
{
    return m_delay->isActive() || isVisible();
}

bool BusyOverlay::eventFilter(QObject* watched, QEvent* event)
{
    if (watched == parentWidget() && event->type() == QEvent::Resize)
        setGeometry(parentWidget()->rect());
    return QWidget::eventFilter(watched, event);
}

void BusyOverlay::paintEvent(QPaintEvent*)
{
    // Nearly opaque: the old maps' shapes must not read as the new ones, yet the user sees the layout stays.
    QPainter painter(this);
    QColor veil = palette().color(QPalette::Window);
    veil.setAlpha(225);
    painter.fillRect(rect(), veil);
    QFont font = painter.font();
    font.setPointSizeF(font.pointSizeF() * 1.2);
    painter.setFont(font);
    painter.setPen(palette().color(QPalette::WindowText));
    painter.drawText(rect().adjusted(24, 24, -24, -24), Qt::AlignCenter | Qt::TextWordWrap, m_message);
}

} // namespace attn::app
