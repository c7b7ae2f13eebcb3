// SPDX-License-Identifier: GPL-3.0-or-later
// CSV of a map labelled with the tokens its cells cover: a window's own tokens, an overview's token blocks.
#include "attnscope/export.h"
#include "attnscope/metrics.h"

#include "export/text_escape.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace attn {

namespace {

// As mapCsv: %.9g round-trips a float; NaN (masked) is an empty cell.
std::string csvNumber(float value)
{
    if (std::isnan(value))
        return "";
    if (std::isinf(value))
        return value > 0 ? "inf" : "-inf";
    char text[40];
    std::snprintf(text, sizeof text, "%.9g", static_cast<double>(value));
    return text;
}

class AxisLabels {
public:
    explicit AxisLabels(const std::vector<std::string>& display)
        : m_display(display)
    {
    }

    /// The label of the cell that starts at token `first` and covers `block` tokens.
    std::string operator()(int64_t first, int64_t block) const
    {
        if (block <= 1)
            return csvEscape(token(first));
        int64_t last = first + block - 1;
        if (!m_display.empty())
            last = std::min<int64_t>(last, static_cast<int64_t>(m_display.size()) - 1);
        std::string text = std::to_string(first) + ".." + std::to_string(last);
        if (known(first) && known(last))
            text += " " + token(first) + ".." + token(last);
        return csvEscape(text);
    }

private:
    bool known(int64_t t) const { return t >= 0 && static_cast<size_t>(t) < m_display.size(); }
    // A CSV is text for spreadsheets: bytes that are not UTF-8 are shown as U+FFFD (the sidecar has them exactly).
    std::string token(int64_t t) const
    {
        return known(t) ? exportfmt::displayText(m_display[static_cast<size_t>(t)]) : std::to_string(t);
    }
    const std::vector<std::string>& m_display;
};

} // namespace

std::string regionCsv(const AttentionMap& map, const std::vector<std::string>& tokenDisplay)
{
    const AxisLabels label(tokenDisplay);
    // CRLF line ends and the corner cell as mapCsv writes them.
    std::string out = "query\\key";
    for (int64_t c = 0; c < map.cols; ++c)
        out += "," + label(map.firstKey(c), map.colBlock);
    out += "\r\n";
    for (int64_t r = 0; r < map.rows; ++r) {
        out += label(map.firstQuery(r), map.rowBlock);
        for (int64_t c = 0; c < map.cols; ++c) {
            const auto index = static_cast<size_t>(r * map.cols + c);
            out += ",";
            if (index < map.values.size())
                out += csvNumber(map.values[index]);
        }
        out += "\r\n";
    }
    return out;
}

} // namespace attn
