// SPDX-License-Identifier: GPL-3.0-or-later
#include "mainwindow.h"

#include "attnscope/model.h"
#include "colorcontrols.h"
#include "compareview.h"
#include "contextlimit.h"
#include "heatmappanel.h"
#include "kindpicker.h"
#include "metricspanel.h"
#include "modelsummary.h"
#include "overviewgrid.h"
#include "promptedit.h"
#include "sideplots.h"

#include <QAction>
#include <QActionGroup>
#include <QApplication>
#include <QCloseEvent>
#include <QComboBox>
#include <QDockWidget>
#include <QDragEnterEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QListWidget>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QScreen>
#include <QScrollArea>
#include <QSpinBox>
#include <QStatusBar>
#include <QTabWidget>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

namespace attn::app {

namespace {

/// The display string of out-of-vocabulary tokens (word-level tokenizers).
const QString kUnknownToken = QStringLiteral("<unk>");
/// Above this share of <unk> tokens the prompt is not run automatically: it would show maps of nothing.
constexpr double kUnknownTokenLimit = 0.5;

} // namespace

MainWindow::MainWindow(QWidget* parent)
    : QMainWindow(parent)
    , m_engine(new Engine(this))
{
    buildUi();
    setAcceptDrops(true);
    connect(m_engine, &Engine::modelLoaded, this, &MainWindow::onModelLoaded);
    connect(m_engine, &Engine::modelHashed, this, [this](int modelId, const QString& sha256) {
        if (auto it = m_models.find(modelId); it != m_models.end())
            it->second.sha256 = sha256;
    });
    connect(
        m_engine, &Engine::loadFailed, this, [this](quint64 requestId, const QString& path, const QString& message) {
            showError(tr("Cannot open %1").arg(path), message);
            if (m_pendingSession && m_pendingLoads.count(requestId))
                m_sessionProblems << tr("%1: %2").arg(path, message);
            modelLoadSettled(requestId); // a session restores with the models that did open
        });
    connect(m_engine, &Engine::runStarted, this, [this](quint64) {
        m_progress->setValue(0);
        m_progress->setVisible(true);
        m_cancelButton->setEnabled(true);
    });
    connect(m_engine, &Engine::runProgress, this, [this](quint64, int done, int total) {
        // One pass: the maps, every head's metrics and thumbnails come from the same layers (total counts only the
        // layers this run computes: one for a head or layer switch on a kept prompt).
        m_progress->setMaximum(total);
        m_progress->setValue(done);
        m_status->setText(m_runWithMetrics ? tr("maps, metrics and thumbnails: layer %1 of %2").arg(done).arg(total)
                                           : tr("maps: layer %1 of %2").arg(done).arg(total));
    });
    connect(m_engine, &Engine::runFinished, this, &MainWindow::onRunFinished);
    connect(m_engine, &Engine::runFailed, this, &MainWindow::onRunFailed);
    wireRunInFlight(); // after onRunFinished/onRunFailed: it restores what they leave
    connect(m_engine, &Engine::compareFinished, this, [this](const CompareOutput& output) {
        m_compare->setResults(output, m_models);
        Q_EMIT compareShown();
    });
    wireRemote();
}

MainWindow::~MainWindow() = default;

const std::vector<HeatmapPanel*>& MainWindow::panels() const
{
    return m_panels;
}

void MainWindow::buildUi()
{
    setWindowTitle(QStringLiteral("attnscope"));
    // Model dock.
    auto* modelDock = m_modelDockPtr = new QDockWidget(tr("Model"), this);
    modelDock->setObjectName(QStringLiteral("modelDock"));
    auto* modelWidget = new QWidget(modelDock);
    auto* modelLayout = new QVBoxLayout(modelWidget);
    m_modelCombo = new QComboBox(modelWidget);
    m_modelCombo->setObjectName(QStringLiteral("modelCombo"));
    m_modelSummary = new QLabel(tr("No model loaded.\nFile → Open Model… or drop a model folder here."), modelWidget);
    m_modelSummary->setWordWrap(true);
    m_modelSummary->setTextInteractionFlags(Qt::TextSelectableByMouse);
    auto* form = new QFormLayout;
    m_deviceCombo = new QComboBox(modelWidget);
    m_deviceCombo->addItems({QStringLiteral("auto"), QStringLiteral("cpu")});
    for (int i = 0; i < cudaDeviceCount(); ++i)
        m_deviceCombo->addItem(QStringLiteral("cuda:%1").arg(i));
    if (cudaDeviceCount() > 1) { // every GPU: the layers spread over them (a model larger than one GPU)
        QStringList all;
        for (int i = 0; i < cudaDeviceCount(); ++i)
            all << QStringLiteral("cuda:%1").arg(i);
        m_deviceCombo->addItem(all.join(QLatin1Char(',')));
    }
    m_dtypeCombo = new QComboBox(modelWidget);
    m_dtypeCombo->addItems({QStringLiteral("fp32"), QStringLiteral("bf16")});
    form->addRow(tr("Device"), m_deviceCombo);
    form->addRow(tr("Dtype"), m_dtypeCombo);
    auto* openButton = new QPushButton(tr("Open Model…"), modelWidget);
    modelLayout->addWidget(m_modelCombo);
    modelLayout->addLayout(form);
    modelLayout->addWidget(openButton);
    modelLayout->addWidget(m_modelSummary);
    modelLayout->addStretch();
    modelDock->setWidget(modelWidget);
    modelWidget->setMinimumWidth(180);
    addDockWidget(Qt::LeftDockWidgetArea, modelDock);

    // Prompt, token strip, navigation, panels, read-out.
    auto* central = new QWidget(this);
    auto* layout = new QVBoxLayout(central);
    m_prompt = new PromptEdit(central);
    m_prompt->setPlaceholderText(tr("Type a prompt, then Ctrl+Enter to run"));
    m_prompt->setMaximumHeight(3 * m_prompt->fontMetrics().lineSpacing() + 14);
    m_tokenStrip = new QListWidget(central);
    m_tokenStrip->setFlow(QListView::LeftToRight);
    m_tokenStrip->setWrapping(false);
    m_tokenStrip->setMaximumHeight(34);
    m_tokenStrip->setHorizontalScrollBarPolicy(Qt::ScrollBarAsNeeded);
    m_tokenStrip->setSelectionMode(QAbstractItemView::ContiguousSelection);
    m_tokenStrip->setToolTip(tr("Select tokens to mark the relevant span (attention to span vs noise)"));
    m_tokenStrip->setObjectName(QStringLiteral("tokenStrip"));
    auto* runRow = new QHBoxLayout;
    m_runButton = new QPushButton(tr("Run"), central);
    m_runButton->setToolTip(tr("Run the prompt (Ctrl+Enter)"));
    m_cancelButton = new QPushButton(tr("Cancel"), central);
    m_cancelButton->setEnabled(false);
    m_tokenCount = new QLabel(central);
    m_tokenCount->setObjectName(QStringLiteral("tokenCount"));
    m_layerSpin = new QSpinBox(central);
    m_headSpin = new QSpinBox(central);
    m_layerSpin->setPrefix(tr("layer "));
    m_headSpin->setPrefix(tr("head "));
    m_lambdaLabel = new QLabel(central);
    m_layerSpin->setObjectName(QStringLiteral("layerSpin"));
    m_headSpin->setObjectName(QStringLiteral("headSpin"));
    m_lambdaLabel->setObjectName(QStringLiteral("lambdaLabel"));
    runRow->addWidget(m_runButton);
    runRow->addWidget(m_cancelButton);
    runRow->addStretch(1);
    m_exactButton = new QPushButton(central);
    m_exactButton->setObjectName(QStringLiteral("exactButton"));
    m_exactButton->setVisible(false); // only for prompts long enough to be shown as overviews
    runRow->addWidget(m_exactButton);
    runRow->addWidget(m_layerSpin);
    runRow->addWidget(m_headSpin);
    runRow->addWidget(m_lambdaLabel);
    // The colour controls get their own row: beside the navigation they made the window wider than a laptop screen.
    m_colors = new ColorControls(central);
    auto* colorRow = new QHBoxLayout;
    colorRow->addWidget(m_colors);
    // The token count has the room here: beside Run, the exact-window button and the spin boxes it was cut at 1280 px.
    colorRow->addWidget(m_tokenCount, 1);
    m_kindPicker = new KindPicker(central);
    m_kindPicker->setObjectName(QStringLiteral("kindPicker"));
    connect(m_kindPicker, &KindPicker::hiddenKindsChanged, this, &MainWindow::applyShownKinds);
    m_panelScroll = new QScrollArea(central);
    m_panelScroll->setWidgetResizable(true);
    m_panelScroll->setObjectName(QStringLiteral("panelScroll"));
    m_panelScroll->setFocusPolicy(Qt::StrongFocus); // somewhere for the keyboard to be that is not the editor
    auto* grid = new QWidget(m_panelScroll);
    m_panelGrid = new QGridLayout(grid);
    m_panelGrid->setContentsMargins(2, 2, 2, 2); // eleven panels at 1280x800: every pixel goes to the maps
    m_panelGrid->setSpacing(4);
    m_panelScroll->setWidget(grid);
    m_panelScroll->viewport()->installEventFilter(this); // re-fit the grid when the view is resized
    m_stale = new QLabel(central);
    m_stale->setObjectName(QStringLiteral("staleBanner"));
    m_stale->setWordWrap(true);
    m_stale->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
    m_stale->setStyleSheet(QStringLiteral("background: #fff3cd; color: #664d03; padding: 3px"));
    m_stale->setVisible(false);
    // Read-out and status lines never size the window: long text wraps or is cut, the window keeps its width.
    m_readout = new QLabel(central);
    m_readout->setObjectName(QStringLiteral("readout"));
    m_readout->setTextFormat(Qt::RichText);
    m_readout->setWordWrap(true);
    m_readout->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Fixed);
    m_readout->setFixedHeight(2 * m_readout->fontMetrics().lineSpacing() + 6);
    m_readout->setAlignment(Qt::AlignLeft | Qt::AlignTop);
    m_tokenCount->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
    m_tokenCount->setMinimumWidth(120);
    m_tokenCount->setWordWrap(true); // the unknown-word warning is long: wrap, never widen the window
    layout->addWidget(m_prompt);
    layout->addWidget(m_tokenStrip);
    layout->addLayout(runRow);
    layout->addLayout(colorRow);
    layout->addWidget(m_stale);
    layout->addWidget(m_kindPicker);
    layout->addWidget(m_panelScroll, 1);
    layout->addWidget(m_readout);
    m_tabs = new QTabWidget(this);
    m_tabs->addTab(central, tr("Maps"));
    m_compare = new CompareView(m_tabs);
    m_tabs->addTab(m_compare, tr("Compare models"));
    setCentralWidget(m_tabs);
    connect(m_tabs, &QTabWidget::currentChanged, this, &MainWindow::requestCompare);
    connect(m_compare, &CompareView::kindChanged, this, &MainWindow::requestCompare);

    m_plotDock = new QDockWidget(tr("Plots"), this);
    m_plotDock->setObjectName(QStringLiteral("plotDock"));
    auto* plots = new QWidget(m_plotDock);
    auto* plotsLayout = new QVBoxLayout(plots);
    m_lambdaPlot = new LambdaPlot(plots);
    m_copePlot = new CopePositionPlot(plots);
    plotsLayout->addWidget(m_lambdaPlot);
    plotsLayout->addWidget(m_copePlot);
    plotsLayout->addStretch();
    m_plotDock->setWidget(plots);
    m_plotsNote = new QLabel(plots);
    m_plotsNote->setWordWrap(true);
    m_plotsNote->setObjectName(QStringLiteral("plotsNote"));
    plotsLayout->insertWidget(0, m_plotsNote);
    m_plotsNote->setText(tr("Open a model: the λ plot is for differential attention, the positions plot for CoPE."));
    m_plotDock->setMinimumWidth(220);
    addDockWidget(Qt::RightDockWidgetArea, m_plotDock);

    auto* overviewDock = m_overviewDockPtr = new QDockWidget(tr("Overview: every layer × head"), this);
    overviewDock->setObjectName(QStringLiteral("overviewDock"));
    auto* overviewWidget = new QWidget(overviewDock);
    auto* overviewLayout = new QVBoxLayout(overviewWidget);
    m_overviewMetric = new QComboBox(overviewWidget);
    m_overviewMetric->addItems({tr("entropy"), tr("sink"), tr("max"), tr("distance"), tr("neg. mass"), tr("mean gate"),
        tr("to span"), tr("noise")});
    m_overviewMetric->setToolTip(tr("Frame colour of each head"));
    auto* overviewScroll = new QScrollArea(overviewWidget);
    overviewScroll->setWidgetResizable(true);
    m_overview = new OverviewGrid(overviewScroll);
    overviewScroll->setWidget(m_overview);
    m_overviewLegend = new QLabel(overviewWidget);
    m_overviewLegend->setObjectName(QStringLiteral("overviewLegend"));
    m_overviewLegend->setWordWrap(true);
    m_overviewLegend->setTextFormat(Qt::RichText);
    m_overviewLegend->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
    overviewLayout->addWidget(m_overviewMetric);
    overviewLayout->addWidget(m_overviewLegend);
    overviewLayout->addWidget(overviewScroll, 1);
    overviewDock->setWidget(overviewWidget);
    connect(m_overview, &OverviewGrid::headActivated, this, [this](int layer, int head) {
        m_layerSpin->setValue(layer);
        m_headSpin->setValue(head);
    });
    connect(m_overviewMetric, qOverload<int>(&QComboBox::currentIndexChanged), this, &MainWindow::updateOverview);

    auto* metricsDock = m_metricsDockPtr = new QDockWidget(tr("Metrics"), this);
    metricsDock->setObjectName(QStringLiteral("metricsDock"));
    m_metrics = new MetricsPanel(metricsDock);
    metricsDock->setWidget(m_metrics);
    addDockWidget(Qt::BottomDockWidgetArea, metricsDock);
    // The overview beside the table, where it has the room its thumbnails need.
    splitDockWidget(metricsDock, overviewDock, Qt::Horizontal);
    connect(m_metrics, &MetricsPanel::headActivated, this, [this](int layer, int head) {
        m_layerSpin->setValue(layer);
        m_headSpin->setValue(head);
    });

    m_status = new QLabel(this);
    m_status->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
    m_progress = new QProgressBar(this);
    m_progress->setMaximumWidth(160);
    m_progress->setVisible(false);
    statusBar()->addWidget(m_status, 1);
    statusBar()->addPermanentWidget(m_progress);

    QAction* open = buildMenus();

    connect(openButton, &QPushButton::clicked, open, &QAction::trigger);
    m_colors->setOptions(m_settings.colorOptions());
    connect(m_colors, &ColorControls::optionsChanged, this, [this](const ColorOptions& options) {
        m_settings.setColorOptions(options);
        applyColors();
    });
    const int device = m_deviceCombo->findText(m_settings.device());
    m_deviceCombo->setCurrentIndex(std::max(0, device));
    m_dtypeCombo->setCurrentIndex(std::max(0, m_dtypeCombo->findText(m_settings.dtype())));
    connect(m_deviceCombo, &QComboBox::currentTextChanged, this, [this](const QString& d) { m_settings.setDevice(d); });
    connect(m_dtypeCombo, &QComboBox::currentTextChanged, this, [this](const QString& d) { m_settings.setDtype(d); });
    restoreGeometry(m_settings.windowGeometry());
    if (!restoreState(m_settings.windowState())) {
        // First launch. On a screen narrower than 1600 px (a 1280 x 800 laptop) the plots, metrics and overview
        // share the right column as tabs, so the maps get the whole height; wider screens show all of them.
        const QScreen* screen = this->screen();
        if (screen && screen->availableGeometry().width() < 1600) {
            removeDockWidget(m_metricsDockPtr);
            removeDockWidget(m_overviewDockPtr);
            addDockWidget(Qt::RightDockWidgetArea, m_metricsDockPtr);
            tabifyDockWidget(m_plotDock, m_metricsDockPtr);
            tabifyDockWidget(m_metricsDockPtr, m_overviewDockPtr);
            m_metricsDockPtr->show();
            m_overviewDockPtr->show();
            m_plotDock->raise();
            resizeDocks({modelDock, m_plotDock}, {190, 300}, Qt::Horizontal);
        } else {
            resizeDocks({m_metricsDockPtr}, {220}, Qt::Vertical);
            resizeDocks({modelDock, m_plotDock}, {220, 300}, Qt::Horizontal);
        }
    }
    // A geometry saved on a larger screen must not put docks off this one.
    if (const QScreen* screen = this->screen()) {
        const QRect available = screen->availableGeometry();
        if (width() > available.width() || height() > available.height())
            resize(std::min(width(), available.width()), std::min(height(), available.height()));
    }
    connect(m_runButton, &QPushButton::clicked, this, &MainWindow::runNow);
    connect(m_cancelButton, &QPushButton::clicked, m_engine, &Engine::cancel);
    connect(m_exactButton, &QPushButton::clicked, this, &MainWindow::onExactButton);
    connect(m_prompt, &QPlainTextEdit::textChanged, this, &MainWindow::updateTokenStrip);
    connect(m_tokenStrip, &QListWidget::itemSelectionChanged, this, &MainWindow::onTokenSelectionChanged);
    connect(m_layerSpin, qOverload<int>(&QSpinBox::valueChanged), this, &MainWindow::requestRun);
    connect(m_headSpin, qOverload<int>(&QSpinBox::valueChanged), this, &MainWindow::requestRun);
    connect(m_modelCombo, qOverload<int>(&QComboBox::currentIndexChanged), this, &MainWindow::onModelSelected);
}

void MainWindow::onModelSelected(int index)
{
    if (m_currentModel >= 0)
        m_promptByModel[m_currentModel] = m_prompt->toPlainText();
    m_currentModel = index < 0 ? -1 : m_modelCombo->itemData(index).toInt();
    const ModelInfo* info = currentModel();
    updateWindowTitle();
    if (!info)
        return;
    // Each model keeps its own prompt. A model seen for the first time takes the current text unless that is empty
    // or another model's sample, or its tokenizer cannot represent it; then its own sample prompt, if it has one.
    const QString prompt = m_prompt->toPlainText();
    const auto remembered = m_promptByModel.find(info->id);
    bool isSample = prompt.trimmed().isEmpty();
    for (const auto& [id, other] : m_models)
        isSample = isSample || (!other.samplePrompt.isEmpty() && prompt == other.samplePrompt);
    if (remembered != m_promptByModel.end())
        m_prompt->setPlainText(remembered->second);
    else if (!info->samplePrompt.isEmpty() && (isSample || unknownTokenFraction() > kUnknownTokenLimit))
        m_prompt->setPlainText(info->samplePrompt);
    updateModelSummary();
    {
        // One run for the switch, not one per spin box clamp.
        const QSignalBlocker layerBlock(m_layerSpin), headBlock(m_headSpin);
        m_layerSpin->setRange(0, static_cast<int>(info->config.nLayers - 1));
        m_headSpin->setRange(0, static_cast<int>(info->config.nHeads - 1));
    }
    // Nothing of the previous model may stay on screen as if it belonged to this one.
    m_lastRun = RunOutput {};
    m_metricsKey.clear();
    m_window.reset();
    clearResultViews(tr("Computing %1…").arg(info->name));
    rebuildPanels();
    updateTokenStrip();
    requestRun();
}

quint64 MainWindow::openModel(const QString& path)
{
    m_status->setText(tr("loading %1…").arg(path));
    return m_engine->loadModel(path, m_deviceCombo->currentText(), m_dtypeCombo->currentText());
}

void MainWindow::setPrompt(const QString& text)
{
    m_prompt->setPlainText(text);
}

void MainWindow::runNow()
{
    requestRun(/*userAsked=*/true);
}

double MainWindow::unknownTokenFraction() const
{
    const ModelInfo* info = currentModel();
    if (!info)
        return 0.0;
    std::vector<int64_t> ids;
    QStringList display;
    if (!promptTokens(*info, &ids, &display) || ids.empty())
        return 0.0; // a remote model's count is on its way: nothing known to be unknown yet
    const auto unknown = std::count(display.begin(), display.end(), kUnknownToken);
    return static_cast<double>(unknown) / static_cast<double>(ids.size());
}

void MainWindow::updateModelSummary()
{
    if (const ModelInfo* info = currentModel())
        m_modelSummary->setText(modelSummaryHtml(*info));
}

const ModelInfo* MainWindow::currentModel() const
{
    auto it = m_models.find(m_currentModel);
    return it == m_models.end() ? nullptr : &it->second;
}

void MainWindow::onModelLoaded(quint64 requestId, const ModelInfo& info)
{
    m_models[info.id] = info;
    if (info.server.isEmpty()) { // a server's path means nothing to File → Open Recent here
        m_settings.addRecentModel(info.path);
        rebuildRecentMenu();
    }
    m_status->setText(tr("loaded %1 (%2, %3)").arg(info.name, info.device, info.dtype));
    m_openOrder.push_back(info.id);
    m_compare->setModels(m_models, m_openOrder);
    m_modelCombo->addItem(info.name, info.id);
    if (!info.server.isEmpty())
        m_modelCombo->setItemData(m_modelCombo->count() - 1,
            tr("%1 on the attnscope-server at %2").arg(info.path, info.server), Qt::ToolTipRole);
    m_modelCombo->setCurrentIndex(m_modelCombo->count() - 1); // selects it and runs the prompt
    modelLoadSettled(requestId);
}

void MainWindow::updateTokenStrip()
{
    m_tokenStrip->clear();
    const ModelInfo* info = currentModel();
    if (!info) {
        m_tokenCount->clear();
        return;
    }
    std::vector<int64_t> ids;
    QStringList display;
    if (!promptTokens(*info, &ids, &display)) {
        // A remote model: its server tokenizes (off this thread); the strip fills in when it answers.
        m_tokenCount->setText(!info->connected ? tr("no token count: %1 is disconnected").arg(info->server)
                : m_remoteTokens.modelId == info->id && !m_remoteTokens.error.isEmpty()
                ? tr("token count unavailable: %1").arg(m_remoteTokens.error)
                : tr("counting tokens on %1…").arg(info->server));
        m_tokenCount->setToolTip(QString());
        m_tokenCount->setStyleSheet(QString());
        return;
    }
    const bool tooLong = static_cast<int64_t>(ids.size()) > info->config.maxSeqLen;
    size_t unknown = 0;
    for (const QString& shown : display)
        unknown += shown == kUnknownToken ? 1 : 0;
    const bool unrepresentable = !ids.empty() && unknown > kUnknownTokenLimit * static_cast<double>(ids.size());
    const ContextLimit limit = contextLimit(*info);
    const int64_t tokens = static_cast<int64_t>(ids.size());
    QString count = tokenCountText(tokens, limit);
    if (unknown > 0)
        count += tr(" · %1 of %2 unknown to %3's vocabulary").arg(unknown).arg(ids.size()).arg(info->name);
    if (unrepresentable)
        count += tr(": not run automatically, edit the prompt or press Run");
    m_tokenCount->setText(count);
    m_tokenCount->setToolTip(tokenCountDetails(tokens, limit));
    m_tokenCount->setStyleSheet(tooLong || unrepresentable ? QStringLiteral("color: #c0392b; font-weight: bold")
            : limit.extends() && tokens > limit.trained    ? QStringLiteral("color: #9a6700")
                                                           : QString());
    // The strip shows at most the first 2,000 tokens: beyond that a list widget costs more than it tells.
    for (size_t i = 0; i < ids.size() && i < 2000; ++i) {
        const QString& shown = display[static_cast<qsizetype>(i)];
        auto* item = new QListWidgetItem(shown, m_tokenStrip);
        item->setToolTip(tr("token %1, id %2").arg(i).arg(ids[i]));
        if (shown == kUnknownToken)
            item->setForeground(QColor(0xc0, 0x39, 0x2b)); // the words this model cannot read
    }
}

void MainWindow::requestRun(bool userAsked)
{
    const ModelInfo* info = currentModel();
    if (!info)
        return;
    const HeadRef ref {m_layerSpin->value(), m_headSpin->value()};
    m_readout->clear(); // the hovered cell's numbers belong to the maps being replaced
    updateLambdaLabel();
    if (!info->connected && !info->disconnectedWhy.isEmpty()) {
        setStale(tr("%1 is disconnected: %2. The maps shown are its last result; File → Reconnect to Server → %3 "
                    "reopens it.")
                     .arg(info->name, info->disconnectedWhy, info->server));
        return;
    }
    if (!info->connected) {
        // Nothing is sent: what is on screen stays, and says which server to reconnect to.
        setStale(tr("%1 is disconnected: its server %2 went away. The maps shown are its last result; File → "
                    "Reconnect to Server → %2 when it is back.")
                     .arg(info->name, info->server));
        return;
    }
    if (!userAsked && unknownTokenFraction() > kUnknownTokenLimit) {
        setStale(tr("Not run: most of the prompt is unknown to %1's tokenizer (see the token count). Edit the "
                    "prompt, or press Run to run it anyway.")
                     .arg(info->name));
        m_status->setText(tr("not run: the prompt does not fit %1's vocabulary").arg(info->name));
        return;
    }
    if (m_shownModel == info->id && m_shownRef.layer == ref.layer && m_shownRef.head == ref.head)
        setStale(QString());
    else
        setStale(tr("Computing layer %1, head %2 of %3… %4")
                     .arg(ref.layer)
                     .arg(ref.head)
                     .arg(info->name, shownDescription()));
    MetricsRequest metrics;
    // Metrics cover every head, so a layer/head change with the same model, prompt and span reuses them.
    metrics.enabled = metricsKey() != m_metricsKey || m_lastRun.metrics.empty();
    if (metrics.enabled)
        m_requestedMetricsKey = metricsKey();
    metrics.spanBegin = m_spanBegin;
    metrics.spanEnd = m_spanEnd;
    m_runWithMetrics = metrics.enabled;
    if (m_window && (m_window->modelId != info->id || m_window->prompt != m_prompt->toPlainText()))
        m_window.reset(); // a window belongs to the prompt and model it was taken from
    m_engine->run(info->id, m_prompt->toPlainText(), {ref}, availableMapKinds(info->config, false), metrics,
        m_window ? m_window->region : MapRegion {});
    requestCompare();
}

void MainWindow::onRunFailed(quint64, const QString& message, bool cancelled)
{
    m_progress->setVisible(false);
    m_cancelButton->setEnabled(false);
    if (cancelled && m_shownModel == m_currentModel && m_shownRef.layer >= 0) {
        // Back to what is on screen, so the spin boxes never name a head the maps do not show.
        const QSignalBlocker layerBlock(m_layerSpin), headBlock(m_headSpin);
        m_layerSpin->setValue(static_cast<int>(m_shownRef.layer));
        m_headSpin->setValue(static_cast<int>(m_shownRef.head));
        updateLambdaLabel();
        setStale(QString());
    } else {
        setStale((cancelled ? tr("Cancelled: layer %1, head %2 was not computed. %3")
                            : tr("The run of layer %1, head %2 failed. %3"))
                     .arg(m_layerSpin->value())
                     .arg(m_headSpin->value())
                     .arg(shownDescription()));
    }
    if (cancelled) {
        m_status->setText(tr("cancelled"));
        Q_EMIT runCancelled();
    } else
        showError(tr("The run failed"), message);
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event)
{
    if (event->mimeData()->hasUrls())
        event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event)
{
    for (const QUrl& url : event->mimeData()->urls())
        if (url.isLocalFile())
            openModel(url.toLocalFile()); // a model folder or its config.json
}

void MainWindow::onTokenSelectionChanged()
{
    int64_t begin = -1, end = -1;
    for (QListWidgetItem* item : m_tokenStrip->selectedItems()) {
        const int64_t row = m_tokenStrip->row(item);
        begin = begin < 0 ? row : std::min(begin, row);
        end = std::max(end, row + 1);
    }
    setRelevantSpan(begin, end);
}

void MainWindow::setRelevantSpan(int64_t begin, int64_t end)
{
    if (begin == m_spanBegin && end == m_spanEnd)
        return;
    m_spanBegin = begin;
    m_spanEnd = end;
    requestRun();
}

QString MainWindow::metricsKey() const
{
    return QStringLiteral("%1|%2|%3|%4")
        .arg(m_currentModel)
        .arg(m_spanBegin)
        .arg(m_spanEnd)
        .arg(m_prompt->toPlainText());
}

void MainWindow::showCompare()
{
    m_tabs->setCurrentWidget(m_compare);
}

void MainWindow::requestCompare()
{
    if (m_tabs->currentWidget() != m_compare || m_models.empty())
        return;
    m_compare->setModels(m_models, m_openOrder);
    m_engine->compare(m_compare->selectedModels(), m_prompt->toPlainText(), {m_layerSpin->value(), m_headSpin->value()},
        m_compare->kind(), m_compare->exactKind());
}

void MainWindow::closeEvent(QCloseEvent* event)
{
    m_settings.setWindow(saveGeometry(), saveState());
    m_settings.addRecentPrompt(m_prompt->toPlainText());
    QMainWindow::closeEvent(event);
}

void MainWindow::rebuildRecentMenu()
{
    m_recentMenu->clear();
    for (const QString& path : m_settings.recentModels())
        m_recentMenu->addAction(path, this, [this, path] { openModel(path); });
    m_recentMenu->setEnabled(!m_recentMenu->isEmpty());
}

void MainWindow::showError(const QString& title, const QString& message)
{
    m_status->setText(title + QStringLiteral(": ") + message.section(QLatin1Char('\n'), 0, 0));
    // Non-modal, so a failing run never blocks the window (or a test); one dialog at a time: a new failure replaces
    // the text of the one still open instead of stacking another.
    if (!m_errorBox) {
        m_errorBox = new QMessageBox(QMessageBox::Warning, title, message, QMessageBox::Ok, this);
        m_errorBox->setAttribute(Qt::WA_DeleteOnClose);
        m_errorBox->setModal(false);
        m_errorBox->setObjectName(QStringLiteral("errorBox"));
    }
    m_errorBox->setWindowTitle(title);
    m_errorBox->setText(message);
    m_errorBox->show();
    Q_EMIT errorShown(message);
}

} // namespace attn::app
