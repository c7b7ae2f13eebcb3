// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QWidget>

class QTimer;

namespace attn::app {

/**
 * @brief Covers a widget (the panel grid) while a run is in flight, so maps of the previous layer, head or prompt do
 * not pass for the ones being computed. It appears only after a short delay: the runs of short prompts end before a
 * user could read it, and a cover flashing on every head switch would be worse than none.
 */
class BusyOverlay : public QWidget {
    Q_OBJECT
public:
    explicit BusyOverlay(QWidget* covered);
    /// Shows `message` over the covered widget unless finish() comes within the delay.
    void start(const QString& message);
    void finish();
    /// Whether the cover is up (or due): for tests.
    bool isPending() const;
    QString message() const { return m_message; }
    static constexpr int kDelayMs = 400;

protected:
    bool eventFilter(QObject* watched, QEvent* event) override;
    void paintEvent(QPaintEvent* event) override;

private:
    QTimer* m_delay = nullptr;
    QString m_message;
};

} // namespace attn::app
