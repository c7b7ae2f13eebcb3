// SPDX-License-Identifier: GPL-3.0-or-later
#include "compareview.h"

#include "heatmappanel.h"
#include "mapnames.h"

#include <QComboBox>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QResizeEvent>
#include <QSignalBlocker>
#include <QTableWidget>
#include <QVBoxLayout>

#include <algorithm>
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

/// Every kind a model can have, in the Maps tab's order; each one can be compared exactly.
const MapKind kExactKinds[] = {MapKind::A, MapKind::A1, MapKind::A2, MapKind::LA2, MapKind::D, MapKind::DN, MapKind::G,
    MapKind::P, MapKind::B, MapKind::G1, MapKind::P1, MapKind::B1, MapKind::G2, MapKind::P2, MapKind::B2, MapKind::S,
    MapKind::S1, MapKind::S2};

constexpr int kKindRole = Qt::UserRole;
constexpr int kExactRole = Qt::UserRole + 1;

QString number(double v)
{
    return std::isnan(v) ? QStringLiteral("–") : QString::number(v, 'f', 4);
}

QString modelName(const std::map<int, ModelInfo>& models, int id)
{
    const auto it = models.find(id);
    return it == models.end() ? QStringLiteral("model %1").arg(id) : it->second.name;
}

} // namespace

CompareView::CompareView(QWidget* parent)
    : QWidget(parent)
{
    auto* layout = new QVBoxLayout(this);
    auto* top = new QHBoxLayout;
    m_first = new QComboBox(this);
    m_first->setObjectName(QStringLiteral("compareFirst"));
    m_first->setToolTip(tr("The reference model: Δ is the second model minus this one"));
    m_second = new QComboBox(this);
    m_second->setObjectName(QStringLiteral("compareSecond"));
    for (QComboBox* box : {m_first, m_second})
        box->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon), box->setMinimumContentsLength(14);
    m_kind = new QComboBox(this);
    m_kind->addItem(tr("attention (A, or D/(1−λ) for DIFF)"), static_cast<int>(CompareKind::Attention));
    m_kind->addItem(tr("CoPE gates (G, or G1)"), static_cast<int>(CompareKind::Gates));
    m_kind->addItem(tr("CoPE positions (P, or P1)"), static_cast<int>(CompareKind::Positions));
    m_kind->insertSeparator(m_kind->count());
    for (MapKind kind : kExactKinds) {
        m_kind->addItem(tr("exactly %1").arg(kindLabel(kind)), static_cast<int>(CompareKind::Exact));
        m_kind->setItemData(m_kind->count() - 1, static_cast<int>(kind), kExactRole);
    }
    m_kind->setObjectName(QStringLiteral("compareKind"));
    top->addWidget(new QLabel(tr("Compare"), this));
    top->addWidget(m_first);
    top->addWidget(new QLabel(tr("with"), this));
    top->addWidget(m_second);
    top->addWidget(new QLabel(tr("on"), this));
    top->addWidget(m_kind);
    top->addStretch();
    m_heading = new QLabel(this);
    m_heading->setObjectName(QStringLiteral("compareHeading"));
    m_heading->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
    m_heading->setWordWrap(true); // never cut, never widens the window
    m_note = new QLabel(tr("Open two or more models (File → Open Model…) to compare them on the same prompt."), this);
    m_note->setObjectName(QStringLiteral("compareNote"));
    m_note->setWordWrap(true);
    m_note->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
    m_panelsWidget = new QWidget(this);
    m_grid = new QGridLayout(m_panelsWidget);
    m_legend = new QLabel(m_panelsWidget);
    m_legend->setObjectName(QStringLiteral("compareLegend"));
    m_legend->setWordWrap(true);
    m_legend->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
    m_grid->addWidget(m_legend, 0, 0, 1, -1);
    m_grid->setRowStretch(1, 1); // the panels take the height, the legend its line
    m_readout = new QLabel(this);
    m_readout->setObjectName(QStringLiteral("compareReadout"));
    m_readout->setTextFormat(Qt::RichText);
    m_readout->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Fixed);
    m_readout->setFixedHeight(m_readout->fontMetrics().lineSpacing() + 6);
    m_table = new QTableWidget(this);
    m_table->verticalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
    m_table->horizontalHeader()->setTextElideMode(Qt::ElideMiddle); // a long name keeps its start and its end
    layout->addLayout(top);
    layout->addWidget(m_heading);
    layout->addWidget(m_note);
    layout->addWidget(m_panelsWidget, 1);
    layout->addWidget(m_readout);
    layout->addWidget(m_table);
    layout->addStretch(); // takes what the panels and the table leave
    connect(m_kind, qOverload<int>(&QComboBox::currentIndexChanged), this, &CompareView::kindChanged);
    for (QComboBox* box : {m_first, m_second})
        connect(box, qOverload<int>(&QComboBox::currentIndexChanged), this, [this] {
            if (!m_settingModels)
                Q_EMIT kindChanged();
        });
}

CompareKind CompareView::kind() const
{
    return static_cast<CompareKind>(m_kind->currentData(kKindRole).toInt());
}

MapKind CompareView::exactKind() const
{
    return static_cast<MapKind>(m_kind->currentData(kExactRole).toInt());
}

void CompareView::setKind(CompareKind kind, MapKind exact)
{
    for (int i = 0; i < m_kind->count(); ++i)
        if (m_kind->itemData(i, kKindRole).toInt() == static_cast<int>(kind)
            && (kind != CompareKind::Exact || m_kind->itemData(i, kExactRole).toInt() == static_cast<int>(exact)))
            m_kind->setCurrentIndex(i);
}

void CompareView::setModels(const std::map<int, ModelInfo>& models, const std::vector<int>& openOrder)
{
    m_settingModels = true;
    const int first = m_first->currentData().toInt(), second = m_second->currentData().toInt();
    // The user's choice stays while the set of models stays; a newly opened model resets to the two latest.
    const bool sameModels = m_openOrder == openOrder;
    m_openOrder = openOrder;
    for (QComboBox* box : {m_first, m_second}) {
        const QSignalBlocker block(box);
        box->clear();
        for (int id : openOrder)
            if (models.count(id))
                box->addItem(modelName(models, id), id);
    }
    // Default: the two most recently opened, the older one as the reference.
    const int n = m_first->count();
    if (n > 0) {
        const bool keep = sameModels && m_first->findData(first) >= 0 && m_second->findData(second) >= 0;
        const QSignalBlocker a(m_first), b(m_second);
        m_first->setCurrentIndex(keep ? m_first->findData(first) : std::max(0, n - 2));
        m_second->setCurrentIndex(keep ? m_second->findData(second) : n - 1);
    }
    m_settingModels = false;
}

std::vector<int> CompareView::selectedModels() const
{
    std::vector<int> ids;
    if (m_first->currentIndex() >= 0)
        ids.push_back(m_first->currentData().toInt());
    if (m_second->currentIndex() >= 0 && (ids.empty() || m_second->currentData().toInt() != ids.front()))
        ids.push_back(m_second->currentData().toInt());
    return ids;
}

void CompareView::selectModels(int first, int second)
{
    m_settingModels = true;
    m_first->setCurrentIndex(m_first->findData(first));
    m_second->setCurrentIndex(m_second->findData(second));
    m_settingModels = false;
    Q_EMIT kindChanged();
}

void CompareView::resizeEvent(QResizeEvent* event)
{
    QWidget::resizeEvent(event);
    fitPanelsHeight();
}

void CompareView::fitPanelsHeight()
{
    // A panel draws its map near square (heatmappanel_view.cpp) between the token labels: the rotated key labels below
    // take about the height the query labels beside it take in width, so a square map's panel is its width plus the
    // title and colour bar above it.
    constexpr int kTitleAndColourBar = 46;
    const int count = std::max(1, static_cast<int>(m_panels.size()));
    const QMargins margins = m_grid->contentsMargins();
    const int width = m_panelsWidget->width() - margins.left() - margins.right();
    const int panelWidth = (width - m_grid->horizontalSpacing() * (count - 1)) / count;
    const int legend = m_legend->isVisibleTo(this) ? m_legend->heightForWidth(width) + m_grid->verticalSpacing() : 0;
    m_panelsWidget->setMaximumHeight(std::max(m_panelsWidget->minimumSizeHint().height(),
        margins.top() + margins.bottom() + legend + panelWidth + kTitleAndColourBar));
}

void CompareView::clearPanels()
{
    for (HeatmapPanel* panel : m_panels)
        panel->deleteLater();
    m_panels.clear();
    m_readout->clear();
}

HeatmapPanel* CompareView::addPanel()
{
    auto* panel = new HeatmapPanel(m_panelsWidget);
    panel->setMinimumSize(200, 200);
    m_grid->addWidget(panel, 1, static_cast<int>(m_panels.size()));
    m_grid->addWidget(m_legend, 0, 0, 1, m_grid->columnCount()); // spans every panel
    connect(panel, &HeatmapPanel::cellHovered, this, &CompareView::onHover);
    connect(panel, &HeatmapPanel::viewChanged, this, [this, panel](double k0, double k1, double q0, double q1) {
        for (HeatmapPanel* other : m_panels)
            if (other != panel)
                other->setView(k0, k1, q0, q1);
    });
    m_panels.push_back(panel);
    return panel;
}

void CompareView::onHover(int row, int col)
{
    for (HeatmapPanel* other : m_panels)
        other->setCrosshair(row, col);
    if (row < 0 || col < 0 || row >= m_tokens.size() || col >= m_tokens.size()) {
        m_readout->clear();
        return;
    }
    QString text = tr("query <b>%1</b> [%2] → key <b>%3</b> [%4]")
                       .arg(m_tokens[row].toHtmlEscaped())
                       .arg(row)
                       .arg(m_tokens[col].toHtmlEscaped())
                       .arg(col);
    for (HeatmapPanel* panel : m_panels) {
        const PanelMap& map = panel->map();
        if (row < map.rows && col < map.cols) {
            const float v = map.values[static_cast<size_t>(row) * map.cols + col];
            text += QStringLiteral(" &nbsp; %1: %2")
                        .arg(map.title.toHtmlEscaped(), std::isnan(v) ? tr("masked") : QString::number(v, 'g', 5));
        }
    }
    m_readout->setText(text);
}

void CompareView::resetZoom()
{
    for (HeatmapPanel* panel : m_panels)
        panel->resetView();
}

void CompareView::setResults(const CompareOutput& output, const std::map<int, ModelInfo>& models)
{
    clearPanels();
    auto nameOf = [&models](int id) { return modelName(models, id); };
    QStringList problems;
    std::vector<const CompareEntry*> shown;
    for (const CompareEntry& entry : output.entries)
        if (entry.error.isEmpty())
            shown.push_back(&entry);
        else
            problems << QStringLiteral("%1 %2").arg(nameOf(entry.modelId), entry.error);
    // Panel titles name the models by letter (A, B, as in the table below): two model names and a kind do not fit a
    // panel's width. The letters are spelled out once here, the full names also in each panel's tooltip.
    QStringList letters;
    for (size_t k = 0; k < shown.size(); ++k)
        letters << tr("<b>%1</b> = %2")
                       .arg(QChar('A' + static_cast<int>(k)))
                       .arg(nameOf(shown[k]->modelId).toHtmlEscaped());
    m_heading->setText(tr("<b>Layer %1, head %2</b> of each model, on the prompt of the Maps tab (change layer and "
                          "head there, or here with Alt+PgUp/PgDn, Alt+[ / Alt+])")
                           .arg(output.head.layer)
                           .arg(output.head.head));
    m_legend->setText(letters.isEmpty() ? QString()
                                        : tr("%1 · layer %2, head %3")
                                              .arg(letters.join(QStringLiteral(" · ")))
                                              .arg(output.head.layer)
                                              .arg(output.head.head));
    for (size_t k = 0; k < shown.size(); ++k) {
        const CompareEntry& entry = *shown[k];
        PanelMap map;
        map.kind = QString::fromStdString(toString(entry.kind));
        map.title = QStringLiteral("%1 · %2").arg(QChar('A' + static_cast<int>(k))).arg(kindLabel(entry.kind));
        map.details
            = tr("%1, layer %2, head %3").arg(nameOf(entry.modelId)).arg(output.head.layer).arg(output.head.head);
        map.rows = static_cast<int>(entry.map.rows);
        map.cols = static_cast<int>(entry.map.cols);
        map.values = entry.map.values;
        map.isSigned = isSignedMap(entry.kind);
        map.tokens = entry.tokenDisplay;
        addPanel()->setMap(map);
    }
    m_tokens = shown.empty() ? QStringList() : shown.front()->tokenDisplay;
    // Model-minus-model maps only where cell (i, j) means the same token pair in both.
    for (size_t k = 1; k < shown.size(); ++k) {
        if (shown[k]->tokens != shown[0]->tokens) {
            problems << tr("%1 and %2 tokenise the prompt differently: no difference map")
                            .arg(nameOf(shown[k]->modelId), nameOf(shown[0]->modelId));
            continue;
        }
        PanelMap diff;
        diff.kind = QStringLiteral("Δ");
        diff.title = QStringLiteral("Δ = %1 − A").arg(QChar('A' + static_cast<int>(k)));
        diff.details = tr("%1 minus %2").arg(nameOf(shown[k]->modelId), nameOf(shown[0]->modelId));
        diff.rows = static_cast<int>(shown[0]->map.rows);
        diff.cols = static_cast<int>(shown[0]->map.cols);
        diff.values.resize(shown[0]->map.values.size());
        for (size_t i = 0; i < diff.values.size(); ++i)
            diff.values[i] = shown[k]->map.values[i] - shown[0]->map.values[i]; // NaN stays NaN (masked)
        diff.isSigned = true;
        diff.tokens = shown[0]->tokenDisplay;
        addPanel()->setMap(diff);
    }
    QString note;
    if (output.entries.size() < 2)
        note = tr("Open a second model (File → Open Model…) to compare two models on the same prompt.");
    else if (shown.size() < 2)
        note = tr("Nothing to compare with this choice: %1. Choose another kind above.")
                   .arg(problems.join(QStringLiteral("; ")));
    else
        note = problems.join(QStringLiteral("; "));
    m_note->setText(note);
    m_note->setVisible(!note.isEmpty());
    fitPanelsHeight(); // the number of panels decides their width

    // Metrics of this head per model, and the change from the first model to the second.
    const int count = static_cast<int>(shown.size());
    m_table->clear();
    m_table->setRowCount(static_cast<int>(std::size(kRows)));
    m_table->setColumnCount(count > 1 ? count + 1 : count);
    for (int k = 0; k < count; ++k) {
        const QString name = nameOf(shown[static_cast<size_t>(k)]->modelId);
        // A remote model's server on its own line: "name @ host:port" on one line was cut at 1280 px.
        QString shownName = name;
        shownName.replace(QStringLiteral(" @ "), QStringLiteral("\n@ "));
        auto* header = new QTableWidgetItem(QStringLiteral("%1 · %2").arg(QChar('A' + k)).arg(shownName));
        header->setToolTip(name);
        m_table->setHorizontalHeaderItem(k, header);
    }
    if (count > 1) {
        auto* header = new QTableWidgetItem(tr("Δ = B − A"));
        header->setToolTip(tr("%1 minus %2").arg(nameOf(shown[1]->modelId), nameOf(shown[0]->modelId)));
        m_table->setHorizontalHeaderItem(count, header);
    }
    QStringList rowNames;
    for (const MetricRow& row : kRows)
        rowNames << tr(row.name);
    m_table->setVerticalHeaderLabels(rowNames);
    for (int r = 0; r < static_cast<int>(std::size(kRows)); ++r) {
        for (int k = 0; k < count; ++k)
            m_table->setItem(
                r, k, new QTableWidgetItem(number(shown[static_cast<size_t>(k)]->metrics.*kRows[r].field)));
        if (count > 1)
            m_table->setItem(r, count,
                new QTableWidgetItem(number(shown[1]->metrics.*kRows[r].field - shown[0]->metrics.*kRows[r].field)));
    }
    // As tall as its rows (a two-line header included), no blank rows below them.
    m_table->resizeRowsToContents();
    m_table->setMaximumHeight(m_table->horizontalHeader()->sizeHint().height() + m_table->verticalHeader()->length()
        + 2 * m_table->frameWidth());
}

} // namespace attn::app
