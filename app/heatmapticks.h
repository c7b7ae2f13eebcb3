// SPDX-License-Identifier: GPL-3.0-or-later
// The axis tickers of a HeatmapPanel: token labels that never overlap, and the slim colour bar's end ticks.
// Internal to the panel's translation units (it needs qcustomplot.h, which needs Qt keywords).
#pragma once

#include "mapmath.h"

// qcustomplot.h declares its signals with the `signals:` keyword and uses `foreach`; it cannot be compiled in a
// translation unit that hides Qt's keywords. Fail here with a clear message instead of deep inside the header.
#if defined(QT_NO_KEYWORDS)
#error "qcustomplot.h needs Qt keywords: do not define QT_NO_KEYWORDS for attnscope_app_lib"
#endif
#include <qcustomplot.h>

#include <QPointer>

#include <algorithm>
#include <cmath>

namespace attn::app::panel {

inline constexpr std::size_t kMaxLabelChars = 12;
inline constexpr int kRotateKeyLabelsAbove = 16; // more key tokens than this: labels rotate so more fit
inline constexpr double kKeyLabelRotation = -60.0;

/// Labels integer ticks with token strings: as many as fit without overlap (`spacing` pixels apart along the axis,
/// measured from the font by the panel), always the first and last token in view (QCPAxisTickerText would draw
/// every label).
class TokenTicker : public QCPAxisTicker {
public:
    void setLabels(const QStringList& labels, int count, bool flipped)
    {
        m_labels = labels;
        m_count = count;
        m_flipped = flipped;
    }
    void setAxis(QCPAxis* axis) { m_axis = axis; }
    void setSpacing(double pixels) { m_spacing = pixels; }

protected:
    double getTickStep(const QCPRange& range) override
    {
        if (!m_axis || !(m_spacing > 0.0) || !(range.size() > 0.0))
            return 1;
        const QRect rect = m_axis->axisRect()->rect();
        const int length = m_axis->orientation() == Qt::Horizontal ? rect.width() : rect.height();
        return length > 0 ? tokenLabelStep(length / range.size(), m_spacing) : 1;
    }
    int getSubTickCount(double) override { return 0; }
    QVector<double> createTickVector(double tickStep, const QCPRange& range) override
    {
        // Ticks on the whole tokens in view, anchored at both ends so the first and last token are named.
        const int first = std::max(0, static_cast<int>(std::ceil(range.lower - 1e-9)));
        const int last = std::min(m_count - 1, static_cast<int>(std::floor(range.upper + 1e-9)));
        QVector<double> ticks;
        for (int t : tokenLabelTicks(first, last, static_cast<int>(std::lround(tickStep))))
            ticks.append(t);
        return ticks;
    }
    QString getTickLabel(double tick, const QLocale&, QChar, int) override
    {
        const double rounded = std::round(tick);
        if (std::abs(tick - rounded) > 1e-6 || rounded < 0.0 || rounded >= m_count)
            return {};
        int index = static_cast<int>(rounded);
        if (m_flipped)
            index = rowForCellY(index, m_count);
        return index < m_labels.size() ? m_labels.at(index) : QString::number(index);
    }

private:
    QStringList m_labels;
    int m_count = 0;
    bool m_flipped = false;
    double m_spacing = 0.0;
    QPointer<QCPAxis> m_axis; // the axis owns the ticker through a shared pointer, so it may outlive the axis
};

/// Colour bar ticks a slim bar has room for: the two ends of the range, and 0 (signed) or the middle when the bar
/// is wide enough. QCP's own ticker picks "nice" steps and put five overlapping labels on a 60 px bar.
class RangeEndsTicker : public QCPAxisTicker {
public:
    RangeEndsTicker(bool withMiddle, bool isSigned)
        : m_withMiddle(withMiddle)
        , m_signed(isSigned)
    {
    }

protected:
    QVector<double> createTickVector(double, const QCPRange& range) override
    {
        QVector<double> ticks {range.lower};
        if (m_withMiddle)
            ticks.append(m_signed ? 0.0 : range.center());
        ticks.append(range.upper);
        return ticks;
    }
    int getSubTickCount(double) override { return 0; }
    QString getTickLabel(double tick, const QLocale& locale, QChar, int) override
    {
        return locale.toString(tick, 'g', 2);
    }

private:
    bool m_withMiddle;
    bool m_signed;
};

/// The label of one token: control characters as visible stand-ins, elided to kMaxLabelChars.
QString displayToken(const QString& token);

} // namespace attn::app::panel
