// SPDX-License-Identifier: GPL-3.0-or-later
#include "mapmath.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace attn::app {

namespace {

// Tiny widening of a degenerate range so the colour scale never divides by zero; relative to the value so
// it stays invisible for large magnitudes.
double widenedHigh(double low)
{
    return low + 1e-6 * std::max(1.0, std::abs(low));
}

} // namespace

int cellYForRow(int row, int rows)
{
    if (row < 0 || row >= rows)
        return -1;
    return rows - 1 - row;
}

int rowForCellY(int cellY, int rows)
{
    // The flip is its own inverse; kept as a separate name so call sites say which direction they mean.
    return cellYForRow(cellY, rows);
}

int tokenAt(double coordinate, int count)
{
    if (!std::isfinite(coordinate) || count <= 0)
        return -1;
    // Cells are centred on integers, so cell i covers [i - 0.5, i + 0.5).
    const double index = std::floor(coordinate + 0.5);
    if (index < 0.0 || index >= static_cast<double>(count))
        return -1;
    return static_cast<int>(index);
}

int queryRowAt(double valueCoordinate, int rows)
{
    const int cellY = tokenAt(valueCoordinate, rows);
    return cellY < 0 ? -1 : rowForCellY(cellY, rows);
}

double percentile(std::vector<float> values, double pct)
{
    values.erase(std::remove_if(values.begin(), values.end(), [](float v) { return !std::isfinite(v); }), values.end());
    if (values.empty())
        return std::numeric_limits<double>::quiet_NaN();
    if (!(pct >= 0.0)) // also catches NaN
        pct = 0.0;
    pct = std::min(pct, 100.0);
    if (pct == 100.0) // the default clamp: the maximum, one pass
        return *std::max_element(values.begin(), values.end());
    const double position = pct / 100.0 * static_cast<double>(values.size() - 1);
    const auto lowerIndex = static_cast<std::size_t>(std::floor(position));
    const std::size_t upperIndex = std::min(lowerIndex + 1, values.size() - 1);
    // Two nth_element passes instead of a full sort: maps can hold millions of cells.
    std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(lowerIndex), values.end());
    const double lower = values[lowerIndex];
    if (upperIndex == lowerIndex)
        return lower;
    const double upper = *std::min_element(values.begin() + static_cast<std::ptrdiff_t>(lowerIndex) + 1, values.end());
    const double fraction = position - static_cast<double>(lowerIndex);
    return lower + (upper - lower) * fraction;
}

std::pair<double, double> colorRange(const std::vector<float>& values, bool isSigned, const ColorOptions& options)
{
    std::vector<float> finite;
    finite.reserve(values.size());
    for (float v : values) {
        if (std::isfinite(v))
            finite.push_back(v);
    }
    if (finite.empty())
        return {0.0, 1.0};

    if (isSigned) {
        // Symmetric around 0 so the diverging gradient's white stays at 0; log makes no sense for signed data.
        for (float& v : finite)
            v = std::abs(v);
        const double m = percentile(std::move(finite), options.percentileClamp);
        if (!(m > 0.0))
            return {-1e-6, 1e-6};
        return {-m, m};
    }

    const double minValue = *std::min_element(finite.begin(), finite.end());
    double low = std::min(0.0, minValue);
    double high = percentile(finite, options.percentileClamp);
    if (high <= low)
        high = widenedHigh(low);

    if (options.scale == ColorScaleType::Log) {
        if (high <= 0.0) {
            // Nothing positive to show on a log axis; fall back to a valid, harmless decade range.
            return {1e-6, 1.0};
        }
        double smallestPositive = std::numeric_limits<double>::infinity();
        for (float v : finite) {
            if (v > 0.0f)
                smallestPositive = std::min(smallestPositive, static_cast<double>(v));
        }
        // Bounded below so one denormal-ish value does not stretch the scale over dozens of decades.
        low = std::max(smallestPositive, high * 1e-6);
        if (!std::isfinite(low))
            low = high * 1e-6;
        if (high <= low)
            high = widenedHigh(low);
    }
    return {low, high};
}

int tokenTickStep(double visibleTokens, int targetTicks)
{
    if (!std::isfinite(visibleTokens) || visibleTokens <= 0.0)
        return 1;
    targetTicks = std::max(1, targetTicks);
    const double raw = std::ceil(visibleTokens / targetTicks);
    if (raw <= 1.0)
        return 1;
    // Round up to 1, 2 or 5 times a power of ten: steps a reader can count along the axis.
    constexpr int maxStep = std::numeric_limits<int>::max() / 10;
    for (long long magnitude = 1; magnitude <= maxStep; magnitude *= 10) {
        for (int mantissa : {1, 2, 5}) {
            const long long step = mantissa * magnitude;
            if (static_cast<double>(step) >= raw)
                return static_cast<int>(step);
        }
    }
    return maxStep;
}

int tokenLabelStep(double pixelsPerToken, double labelExtent)
{
    if (!(pixelsPerToken > 0.0) || !std::isfinite(pixelsPerToken) || !(labelExtent > 0.0))
        return 1;
    const double step = std::ceil(labelExtent / pixelsPerToken - 1e-9);
    constexpr double maxStep = std::numeric_limits<int>::max() / 2;
    return static_cast<int>(std::clamp(step, 1.0, maxStep));
}

std::vector<int> tokenLabelTicks(int first, int last, int step)
{
    std::vector<int> ticks;
    if (last < first)
        return ticks;
    step = std::max(1, step);
    // Stop a whole step before the last token so the last label, always shown, keeps its distance.
    for (long long t = first; t <= static_cast<long long>(last) - step; t += step)
        ticks.push_back(static_cast<int>(t));
    if (ticks.empty() || ticks.back() != last) {
        if (last - first >= step || ticks.empty())
            ticks.push_back(last - first >= step ? last : first);
    }
    return ticks;
}

std::string elideLabel(const std::string& label, std::size_t maxChars)
{
    // Count code points, not bytes: a byte is the start of a code point unless it is a continuation byte
    // (10xxxxxx). Cutting only before a start byte never splits a multi-byte sequence.
    auto isStart = [](unsigned char c) { return (c & 0xC0u) != 0x80u; };
    std::size_t codePoints = 0;
    for (unsigned char c : label) {
        if (isStart(c))
            ++codePoints;
    }
    if (codePoints <= maxChars)
        return label;
    if (maxChars == 0)
        return {};

    static const std::string ellipsis = "\u2026";
    const std::size_t keep = maxChars - 1; // the ellipsis takes one character
    std::size_t seen = 0;
    std::size_t cut = label.size();
    for (std::size_t i = 0; i < label.size(); ++i) {
        if (isStart(static_cast<unsigned char>(label[i]))) {
            if (seen == keep) {
                cut = i;
                break;
            }
            ++seen;
        }
    }
    return label.substr(0, cut) + ellipsis;
}

} // namespace attn::app

namespace attn::app {

int fitGridColumns(int count, double width, double height)
{
    if (count <= 1 || !(width > 0.0) || !(height > 0.0))
        return 1;
    int best = 1;
    double bestSide = -1.0;
    int bestEmpty = count;
    for (int columns = 1; columns <= count; ++columns) {
        const int rows = (count + columns - 1) / columns;
        const double side = std::min(width / columns, height / rows);
        const int empty = rows * columns - count;
        if (side > bestSide + 1e-9 || (std::abs(side - bestSide) <= 1e-9 && empty < bestEmpty)) {
            best = columns;
            bestSide = side;
            bestEmpty = empty;
        }
    }
    return best;
}

std::vector<float> withoutFirstColumn(const std::vector<float>& values, int rows, int cols)
{
    if (cols < 2 || rows <= 0 || values.size() != static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols))
        return values;
    std::vector<float> out;
    out.reserve(static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols - 1));
    for (int r = 0; r < rows; ++r) {
        const auto begin = values.begin() + static_cast<std::ptrdiff_t>(r) * cols;
        out.insert(out.end(), begin + 1, begin + cols);
    }
    return out;
}

} // namespace attn::app
