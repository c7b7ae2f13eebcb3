// SPDX-License-Identifier: GPL-3.0-or-later
#include "gradients.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <vector>

namespace attn::app {

QCPColorGradient gradientFromStops(std::initializer_list<const char*> stops)
{
    QCPColorGradient gradient;
    gradient.clearColorStops();
    gradient.setColorInterpolation(QCPColorGradient::ciRGB);
    const double last = static_cast<double>(stops.size()) - 1.0;
    double i = 0.0;
    for (const char* stop : stops)
        gradient.setColorStopAt(last > 0 ? i++ / last : 0.0, QColor(stop));
    gradient.setNanHandling(QCPColorGradient::nhNanColor);
    return gradient;
}

QCPColorGradient makeGradient(GradientChoice choice)
{
    switch (choice) {
    case GradientChoice::Magma:
        return gradientFromStops(
            {"#000004", "#1d1147", "#51127c", "#822681", "#b73779", "#e75263", "#fc8961", "#fec488", "#fcfdbf"});
    case GradientChoice::Grays:
        return gradientFromStops({"#ffffff", "#000000"});
    case GradientChoice::BlueWhiteRed:
        return gradientFromStops({"#2166ac", "#ffffff", "#b2182b"});
    case GradientChoice::Viridis:
        break;
    }
    return gradientFromStops(
        {"#440154", "#472d7b", "#3b528b", "#2c728e", "#21918c", "#28ae80", "#5ec962", "#addc30", "#fde725"});
}

QColor maskedColor(const QCPColorGradient& gradient, const QCPRange& range, bool logarithmic, const QPalette& palette)
{
    const bool dark = palette.color(QPalette::Window).lightness() < 128;
    const QColor preferred(dark ? "#4a4a4a" : "#d9d9d9");
    const double zero = logarithmic ? range.lower : std::clamp(0.0, range.lower, range.upper);
    // QCPColorGradient::color is not const in 2.1 (it caches its lookup table).
    const QColor z = QColor::fromRgba(const_cast<QCPColorGradient&>(gradient).color(zero, range, logarithmic));
    const int distance = std::abs(preferred.red() - z.red()) + std::abs(preferred.green() - z.green())
        + std::abs(preferred.blue() - z.blue());
    return distance >= 60 ? preferred : QColor(dark ? "#7a7a7a" : "#a6a6a6");
}

} // namespace attn::app
