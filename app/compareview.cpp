// SPDX-License-Identifier: GPL-3.0-or-later
#include "compareview.h"

#include "heatmappanel.h"

#include <QComboBox>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QTableWidget>
#include <QVBoxLayout>

#include <cmath>

namespace attn::app {

namespace {

struct MetricRow {
    const char* name;
    double HeadMetrics::*field;
};

const MetricRow kRows[]
    = {{"entropy", &HeadMetrics::entropy}, {"sink", &HeadMetrics::sinkMass}, {"max", &HeadMetrics::maxWeight},
        {"distance", &HeadMetrics::meanDistance}, {"neg. mass", &HeadMetrics::negativeMass},
        {"λ", &HeadMetrics::lambda}, {"mean gate", &HeadMetrics::meanGate}, {"gate row-sum", &HeadMetrics::gateRowSum}};

QString number(double v)
{
    return std::isnan(v) ? QStringLiteral("–") : QString::number(v, 'f', 4);
}

} // namespace

CompareView::CompareView(QWidget* parent)
    : QWidget(parent)
{
    auto* layout = new QVBoxLayout(this);
    auto* top = new QHBoxLayout;
    m_kind = new QComboBox(this);
    m_kind->addItem(tr("attention (A, or D/(1 − λ) for DIFF)"), static_cast<int>(CompareKind::Attention));
    m_kind->addItem(tr("CoPE gates (G, or G1)"), static_cast<int>(CompareKind::Gates));
    m_kind->addItem(tr("CoPE positions (P, or P1)"), static_cast<int>(CompareKind::Positions));
    m_kind->setObjectName(QStringLiteral("compareKind"));
    m_note = new QLabel(tr("Open two or more models (File → Open Model…) to compare them on the same prompt."), this);
    m_note->setWordWrap(true);
    top->addWidget(new QLabel(tr("Compare:"), this));
    top->addWidget(m_kind);
    top->addWidget(m_note, 1);
    auto* panels = new QWidget(this);
    m_grid = new QGridLayout(panels);
    m_table = new QTableWidget(this);
    m_table->setMaximumHeight(240);
    m_table->verticalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    layout->addLayout(top);
    layout->addWidget(panels, 1);
    layout->addWidget(m_table);
    connect(m_kind, qOverload<int>(&QComboBox::currentIndexChanged), this, &CompareView::kindChanged);
}

CompareKind CompareView::kind() const
{
    return static_cast<CompareKind>(m_kind->currentData().toInt());
}

void CompareView::clearPanels()
{
    for (HeatmapPanel* panel : m_panels)
        panel->deleteLater();
    m_panels.clear();
}

HeatmapPanel* CompareView::addPanel()
{
    auto* panel = new HeatmapPanel(m_grid->parentWidget());
    panel->setMinimumSize(320, 300);
    m_grid->addWidget(panel, 0, static_cast<int>(m_panels.size()));
    connect(panel, &HeatmapPanel::cellHovered, this, [this](int row, int col) {
        for (HeatmapPanel* other : m_panels)
            other->setCrosshair(row, col);
    });
    connect(panel, &HeatmapPanel::viewChanged, this, [this, panel](double k0, double k1, double q0, double q1) {
        for (HeatmapPanel* other : m_panels)
            if (other != panel)
                other->setView(k0, k1, q0, q1);
    });
    m_panels.push_back(panel);
    return panel;
}

void CompareView::setResults(const CompareOutput& output, const std::map<int, ModelInfo>& models)
{
    clearPanels();
    auto nameOf = [&models](int id) {
        auto it = models.find(id);
        return it == models.end() ? QStringLiteral("model %1").arg(id) : it->second.name;
    };
    QStringList problems;
    std::vector<const CompareEntry*> shown;
    for (const CompareEntry& entry : output.entries) {
        if (!entry.error.isEmpty()) {
            problems << QStringLiteral("%1 %2").arg(nameOf(entry.modelId), entry.error);
            continue;
        }
        PanelMap map;
        map.kind = QString::fromStdString(toString(entry.kind));
        map.title = QStringLiteral("%1: %2").arg(nameOf(entry.modelId), map.kind);
        map.rows = static_cast<int>(entry.map.rows);
        map.cols = static_cast<int>(entry.map.cols);
        map.values = entry.map.values;
        map.isSigned = isSignedMap(entry.kind);
        map.tokens = entry.tokenDisplay;
        addPanel()->setMap(map);
        shown.push_back(&entry);
    }
    // Model-minus-model maps only where cell (i, j) means the same token pair in both.
    for (size_t k = 1; k < shown.size(); ++k) {
        if (shown[k]->tokens != shown[0]->tokens) {
            problems << tr("%1 and %2 tokenise the prompt differently: no difference map")
                            .arg(nameOf(shown[k]->modelId), nameOf(shown[0]->modelId));
            continue;
        }
        PanelMap diff;
        diff.kind = QStringLiteral("Δ");
        diff.title = QStringLiteral("%1 − %2").arg(nameOf(shown[k]->modelId), nameOf(shown[0]->modelId));
        diff.rows = static_cast<int>(shown[0]->map.rows);
        diff.cols = static_cast<int>(shown[0]->map.cols);
        diff.values.resize(shown[0]->map.values.size());
        for (size_t i = 0; i < diff.values.size(); ++i)
            diff.values[i] = shown[k]->map.values[i] - shown[0]->map.values[i]; // NaN stays NaN (masked)
        diff.isSigned = true;
        diff.tokens = shown[0]->tokenDisplay;
        addPanel()->setMap(diff);
    }
    m_note->setText(shown.size() < 2
            ? tr("Open two or more models to compare them.") + QLatin1Char(' ') + problems.join(QStringLiteral("; "))
            : problems.join(QStringLiteral("; ")));

    // Metrics of this head per model, and the change against the first model.
    const int models_ = static_cast<int>(shown.size());
    m_table->clear();
    m_table->setRowCount(static_cast<int>(std::size(kRows)));
    m_table->setColumnCount(models_ > 1 ? 2 * models_ - 1 : models_);
    QStringList headers;
    for (const CompareEntry* entry : shown)
        headers << nameOf(entry->modelId);
    for (int k = 1; k < models_; ++k)
        headers << QStringLiteral("Δ %1").arg(nameOf(shown[static_cast<size_t>(k)]->modelId));
    m_table->setHorizontalHeaderLabels(headers);
    QStringList rowNames;
    for (const MetricRow& row : kRows)
        rowNames << tr(row.name);
    m_table->setVerticalHeaderLabels(rowNames);
    for (int r = 0; r < static_cast<int>(std::size(kRows)); ++r) {
        for (int k = 0; k < models_; ++k)
            m_table->setItem(
                r, k, new QTableWidgetItem(number(shown[static_cast<size_t>(k)]->metrics.*kRows[r].field)));
        for (int k = 1; k < models_; ++k) {
            const double delta
                = shown[static_cast<size_t>(k)]->metrics.*kRows[r].field - shown[0]->metrics.*kRows[r].field;
            m_table->setItem(r, models_ + k - 1, new QTableWidgetItem(number(delta)));
        }
    }
}

} // namespace attn::app
