// SPDX-License-Identifier: GPL-3.0-or-later
// Long prompts: above kLongPromptTokens the panels show device-pooled overviews; "Exact values in view" asks
// the engine for a window of exact values covering what the panels show, and "Back to overview" returns.
#include "heatmappanel.h"
#include "mainwindow.h"

#include <QPlainTextEdit>
#include <QPushButton>

#include <algorithm>
#include <cmath>

namespace attn::app {

namespace {

/// Larger windows would be as heavy as the full maps the overview avoids; 2048^2 floats = 16 MiB per panel.
constexpr int64_t kMaxWindowTokens = 2048;

QString cellLabel(int64_t token, const QStringList& tokens)
{
    return QStringLiteral("%1 %2").arg(token).arg(tokens.value(static_cast<int>(token)));
}

} // namespace

PanelMap MainWindow::panelMapFor(const AttentionMap& map, MapKind kind, const QStringList& tokens) const
{
    PanelMap panel;
    panel.kind = QString::fromStdString(toString(kind));
    panel.rows = static_cast<int>(map.rows);
    panel.cols = static_cast<int>(map.cols);
    panel.values = map.values;
    panel.isSigned = isSignedMap(kind);
    if (map.rowBlock == 1 && map.rowBegin == 0 && map.colBegin == 0 && map.rows == tokens.size()) {
        panel.tokens = tokens; // the whole map: plain token labels
        return panel;
    }
    // Overview cells and window rows are labelled with their (first) token index, so the position in the
    // prompt stays readable when only part of it is shown.
    for (int64_t r = 0; r < map.rows; ++r)
        panel.tokens << cellLabel(map.firstQuery(r), tokens);
    if (map.rowBlock == 1)
        for (int64_t c = 0; c < map.cols; ++c)
            panel.keyTokens << cellLabel(map.firstKey(c), tokens);
    return panel;
}

void MainWindow::showExactWindow(int64_t q0, int64_t q1, int64_t k0, int64_t k1)
{
    const ModelInfo* info = currentModel();
    if (!info)
        return;
    m_window = WindowRequest {MapRegion::window(q0, q1, k0, k1), m_prompt->toPlainText(), info->id};
    requestRun();
}

void MainWindow::showOverview()
{
    m_window.reset();
    requestRun();
}

void MainWindow::onExactButton()
{
    if (m_window) {
        showOverview();
        return;
    }
    const int64_t n = static_cast<int64_t>(m_lastRun.capture.tokens.size());
    const int64_t block = m_shown.block;
    // The visible cells (or everything, before any zoom), in tokens, each side at most kMaxWindowTokens
    // around the middle of the view.
    auto span = [&](double lo, double hi, int64_t begin) {
        int64_t first = begin + static_cast<int64_t>(std::floor(std::max(0.0, lo + 0.5))) * block;
        int64_t last = begin + (static_cast<int64_t>(std::floor(hi + 0.5)) + 1) * block;
        first = std::clamp<int64_t>(first, 0, n - 1);
        last = std::clamp<int64_t>(last, first + 1, n);
        if (last - first > kMaxWindowTokens) {
            const int64_t middle = (first + last) / 2;
            first = std::max<int64_t>(0, middle - kMaxWindowTokens / 2);
            last = std::min(n, first + kMaxWindowTokens);
        }
        return std::pair {first, last};
    };
    const QRectF view = m_lastView.isValid() ? m_lastView : QRectF(0, 0, 1e9, 1e9);
    const auto [k0, k1] = span(view.left(), view.right(), m_shown.colBegin);
    const auto [q0, q1] = span(view.top(), view.bottom(), m_shown.rowBegin);
    showExactWindow(q0, q1, k0, k1);
}

void MainWindow::updateExactButton()
{
    const bool longPrompt = static_cast<int64_t>(m_lastRun.capture.tokens.size()) > kLongPromptTokens;
    m_exactButton->setVisible(longPrompt);
    m_exactButton->setText(m_window ? tr("Back to overview") : tr("Exact values in view"));
    m_exactButton->setToolTip(m_window
            ? tr("Show the pooled overview of the whole prompt again")
            : tr("Zoom in on the overview, then fetch exact values for the visible tokens (at most %1 per side)")
                  .arg(kMaxWindowTokens));
}

} // namespace attn::app
