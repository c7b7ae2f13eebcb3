// SPDX-License-Identifier: GPL-3.0-or-later
// Colour gradients and the masked-cell colour, shared by the heatmap panels and the overview grid so a
// thumbnail and its opened panel look alike. Internal: include only from .cpp files (pulls in qcustomplot.h).
#pragma once

#include "mapmath.h"

#include <qcustomplot.h>

#include <initializer_list>

namespace attn::app {

/// A gradient through evenly spaced stops (RGB interpolation, NaN drawn in the NaN colour).
QCPColorGradient gradientFromStops(std::initializer_list<const char*> stops);
/// Viridis and magma sampled from the published matplotlib tables at 1/8 steps; grays; ColorBrewer RdBu ends.
QCPColorGradient makeGradient(GradientChoice choice);
/// Masked cells must not be mistaken for zero attention: a neutral grey that differs from the colour the
/// gradient gives to 0 (or to the low end on a log scale, where 0 cannot be drawn).
QColor maskedColor(const QCPColorGradient& gradient, const QCPRange& range, bool logarithmic, const QPalette& palette);

} // namespace attn::app
