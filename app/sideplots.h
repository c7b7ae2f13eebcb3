// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QStringList>
#include <QWidget>

#include <vector>

class QCustomPlot;

namespace attn::app {

/** @brief λ per layer of a DIFF model (bars) against λ_init(layer) (line), the selected layer highlighted. */
class LambdaPlot : public QWidget {
    Q_OBJECT
public:
    explicit LambdaPlot(QWidget* parent = nullptr);
    void setLambdas(const std::vector<double>& lambda, int currentLayer);
    QCustomPlot* plot() const { return m_plot; }

protected:
    void changeEvent(QEvent* event) override;

private:
    QCustomPlot* m_plot = nullptr;
};

/**
 * @brief CoPE's "what does this head count" view: for one query row i, the position p_ij of every visible key j
 * (one line per group for diff+CoPE). Steps show where the gates fire.
 */
class CopePositionPlot : public QWidget {
    Q_OBJECT
public:
    struct Series {
        QString name;
        std::vector<double> positions; ///< p_ij for j = 0..i
    };
    explicit CopePositionPlot(QWidget* parent = nullptr);
    void setRow(int row, const QStringList& tokens, const std::vector<Series>& series);
    QCustomPlot* plot() const { return m_plot; }

protected:
    void changeEvent(QEvent* event) override;

private:
    QCustomPlot* m_plot = nullptr;
};

} // namespace attn::app
