// SPDX-License-Identifier: GPL-3.0-or-later
// Pure mapping maths of the heatmap views (no Qt widgets, no QCustomPlot), tested as plain functions.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace attn::app {

enum class ColorScaleType { Linear, Log };
enum class GradientChoice { Viridis, Magma, Grays, BlueWhiteRed };

struct ColorOptions {
    ColorScaleType scale = ColorScaleType::Linear;
    bool sharedRange = false; ///< one range across the panels of a view instead of per panel
    double percentileClamp = 100.0; ///< clamp the range to this percentile of |values| (e.g. 99.5); 100 = max
    GradientChoice sequential = GradientChoice::Viridis; ///< for probabilities, gates, positions
    GradientChoice diverging = GradientChoice::BlueWhiteRed; ///< for signed maps (D, B, logits, model differences)
};

inline bool operator==(const ColorOptions& a, const ColorOptions& b)
{
    return a.scale == b.scale && a.sharedRange == b.sharedRange && a.percentileClamp == b.percentileClamp
        && a.sequential == b.sequential && a.diverging == b.diverging;
}
inline bool operator!=(const ColorOptions& a, const ColorOptions& b)
{
    return !(a == b);
}

/// QCustomPlot's colour-map cell y index for a query row: row 0 (first token) is drawn at the top.
int cellYForRow(int row, int rows);
/// The inverse: query row for a cell y index.
int rowForCellY(int cellY, int rows);
/// Token index under a plot coordinate (cells are centred on integers), or -1 outside [0, count).
int tokenAt(double coordinate, int count);
/// Query row under a plot value coordinate on the vertical axis (which shows row 0 at the top), or -1.
int queryRowAt(double valueCoordinate, int rows);

/**
 * @brief Colour range for a map's finite values. Sequential maps: [min(0, lo), clamp]; signed maps: symmetric
 * [-m, m] around 0 with m = clamp percentile of |values|; log scale: strictly positive lower bound (smallest
 * positive value, at least 1e-6 times the upper bound). NaN cells are ignored. Empty/all-NaN -> [0, 1].
 */
std::pair<double, double> colorRange(const std::vector<float>& values, bool isSigned, const ColorOptions& options);
/// Percentile (0..100) of the finite values, linear interpolation between order statistics; NaN if none.
double percentile(std::vector<float> values, double pct);

/// Integer tick step (>= 1) so that about `targetTicks` labels show across `visibleTokens` tokens.
int tokenTickStep(double visibleTokens, int targetTicks);
/// Smallest token step (>= 1) whose labels, `labelExtent` pixels apart along the axis at least, do not overlap
/// when one token takes `pixelsPerToken` pixels. Labels are token names, not numbers: no rounding to 1-2-5 steps.
int tokenLabelStep(double pixelsPerToken, double labelExtent);
/// Token indices to label in [first, last]: first, then every `step`, and last (unless it is closer than `step`
/// to first); a label that would sit closer than `step` to the last one is left out, so no two labels are closer
/// than `step`. Empty when last < first.
std::vector<int> tokenLabelTicks(int first, int last, int step);
/// Shortened label for an axis (elided to maxChars with "…"); the full string goes into the tooltip/read-out.
std::string elideLabel(const std::string& label, std::size_t maxChars);

} // namespace attn::app

namespace attn::app {

/// Columns of a grid of `count` roughly square panels in a width x height viewport such that the smallest
/// panel side is as large as possible (ties: fewer empty slots). Always in [1, max(1, count)].
int fitGridColumns(int count, double width, double height);
/// The values of a rows x cols map without its first column (key 0, the <bos> attention sink), for a colour range
/// that the sink's one bright column does not decide. Returns `values` unchanged when cols < 2.
std::vector<float> withoutFirstColumn(const std::vector<float>& values, int rows, int cols);

} // namespace attn::app
