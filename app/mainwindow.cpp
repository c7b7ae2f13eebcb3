// SPDX-License-Identifier: GPL-3.0-or-later
#include "mainwindow.h"

#include "attnscope/model.h"
#include "colorcontrols.h"
#include "compareview.h"
#include "heatmappanel.h"
#include "metricspanel.h"
#include "overviewgrid.h"
#include "sideplots.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QComboBox>
#include <QDockWidget>
#include <QDragEnterEvent>
#include <QFileDialog>
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
#include <QScrollArea>
#include <QSpinBox>
#include <QStatusBar>
#include <QTabWidget>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

namespace attn::app {

namespace {

QString configSummary(const ModelInfo& info)
{
    const ModelConfig& c = info.config;
    return QStringLiteral("<b>%1</b><br>%2 attention, %3 positions<br>%4 layers × %5 heads (kv %6), d_model %7, "
                          "head_dim %8<br>%9 parameters<br>max_seq_len %10<br>%11, %12")
        .arg(info.name.toHtmlEscaped(), QString::fromStdString(toString(c.attention)),
            QString::fromStdString(toString(c.position)))
        .arg(c.nLayers)
        .arg(c.nHeads)
        .arg(c.nKvHeads)
        .arg(c.dModel)
        .arg(c.headDim)
        .arg(QLocale().toString(info.parameters))
        .arg(c.maxSeqLen)
        .arg(info.device, info.dtype);
}

} // namespace

MainWindow::MainWindow(QWidget* parent)
    : QMainWindow(parent)
    , m_engine(new Engine(this))
{
    buildUi();
    setAcceptDrops(true);
    connect(m_engine, &Engine::modelLoaded, this, &MainWindow::onModelLoaded);
    connect(m_engine, &Engine::loadFailed, this, [this](quint64, const QString& path, const QString& message) {
        showError(tr("Cannot open %1").arg(path), message);
    });
    connect(m_engine, &Engine::runStarted, this, [this](quint64) {
        m_progress->setValue(0);
        m_progress->setVisible(true);
        m_cancelButton->setEnabled(true);
    });
    connect(m_engine, &Engine::runProgress, this, [this](quint64, int done, int total) {
        m_progress->setMaximum(total);
        m_progress->setValue(done);
        m_status->setText(tr("layer %1 of %2").arg(done).arg(total));
    });
    connect(m_engine, &Engine::runFinished, this, &MainWindow::onRunFinished);
    connect(m_engine, &Engine::runFailed, this, &MainWindow::onRunFailed);
    connect(m_engine, &Engine::compareFinished, this, [this](const CompareOutput& output) {
        m_compare->setResults(output, m_models);
        Q_EMIT compareShown();
    });
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
    auto* modelDock = new QDockWidget(tr("Model"), this);
    modelDock->setObjectName(QStringLiteral("modelDock"));
    auto* modelWidget = new QWidget(modelDock);
    auto* modelLayout = new QVBoxLayout(modelWidget);
    m_modelCombo = new QComboBox(modelWidget);
    m_modelSummary = new QLabel(tr("No model loaded.\nFile → Open Model… or drop a model folder here."), modelWidget);
    m_modelSummary->setWordWrap(true);
    m_modelSummary->setTextInteractionFlags(Qt::TextSelectableByMouse);
    auto* form = new QFormLayout;
    m_deviceCombo = new QComboBox(modelWidget);
    m_deviceCombo->addItems({QStringLiteral("auto"), QStringLiteral("cpu")});
    for (int i = 0; i < cudaDeviceCount(); ++i)
        m_deviceCombo->addItem(QStringLiteral("cuda:%1").arg(i));
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
    modelWidget->setMinimumWidth(230);
    addDockWidget(Qt::LeftDockWidgetArea, modelDock);

    // Prompt, token strip, navigation, panels, read-out.
    auto* central = new QWidget(this);
    auto* layout = new QVBoxLayout(central);
    m_prompt = new QPlainTextEdit(central);
    m_prompt->setPlaceholderText(tr("Type a prompt, then Ctrl+Enter to run"));
    m_prompt->setMaximumHeight(72);
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
    runRow->addWidget(m_tokenCount);
    m_exactButton = new QPushButton(central);
    m_exactButton->setObjectName(QStringLiteral("exactButton"));
    m_exactButton->setVisible(false); // only for prompts long enough to be shown as overviews
    runRow->addWidget(m_exactButton);
    runRow->addStretch();
    runRow->addWidget(m_layerSpin);
    runRow->addWidget(m_headSpin);
    runRow->addWidget(m_lambdaLabel);
    m_colors = new ColorControls(central);
    runRow->addSpacing(12);
    runRow->addWidget(m_colors);
    auto* scroll = new QScrollArea(central);
    scroll->setWidgetResizable(true);
    auto* grid = new QWidget(scroll);
    m_panelGrid = new QGridLayout(grid);
    scroll->setWidget(grid);
    m_readout = new QLabel(central);
    m_readout->setObjectName(QStringLiteral("readout"));
    m_readout->setTextFormat(Qt::RichText);
    m_readout->setMinimumHeight(22);
    layout->addWidget(m_prompt);
    layout->addWidget(m_tokenStrip);
    layout->addLayout(runRow);
    layout->addWidget(scroll, 1);
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
    m_plotDock->setMinimumWidth(300);
    addDockWidget(Qt::RightDockWidgetArea, m_plotDock);

    auto* overviewDock = new QDockWidget(tr("Overview: every layer × head"), this);
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
    overviewLayout->addWidget(m_overviewMetric);
    overviewLayout->addWidget(overviewScroll, 1);
    overviewDock->setWidget(overviewWidget);
    connect(m_overview, &OverviewGrid::headActivated, this, [this](int layer, int head) {
        m_layerSpin->setValue(layer);
        m_headSpin->setValue(head);
    });
    connect(m_overviewMetric, qOverload<int>(&QComboBox::currentIndexChanged), this, &MainWindow::updateOverview);

    auto* metricsDock = new QDockWidget(tr("Metrics"), this);
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
    m_progress = new QProgressBar(this);
    m_progress->setMaximumWidth(160);
    m_progress->setVisible(false);
    statusBar()->addWidget(m_status, 1);
    statusBar()->addPermanentWidget(m_progress);

    // Actions and shortcuts.
    QMenu* file = menuBar()->addMenu(tr("&File"));
    QAction* open = file->addAction(tr("&Open Model…"), this, [this] {
        const QString dir = QFileDialog::getExistingDirectory(this, tr("Open a model directory"));
        if (!dir.isEmpty())
            openModel(dir);
    });
    open->setShortcut(QKeySequence::Open);
    file->addAction(tr("Open Model &Config (config.json)…"), this, [this] {
        const QString config = QFileDialog::getOpenFileName(
            this, tr("Open a model's config.json"), QString(), tr("Model config (config.json);;JSON (*.json)"));
        if (!config.isEmpty())
            openModel(config); // the engine opens the directory that holds it
    });
    m_recentMenu = file->addMenu(tr("Open &Recent"));
    rebuildRecentMenu();
    file->addSeparator();
    file->addAction(tr("Open &Session…"), this, [this] {
        const QString path = QFileDialog::getOpenFileName(
            this, tr("Open a session"), QString(), tr("attnscope session (*.attnscope)"));
        if (!path.isEmpty())
            openSession(path);
    });
    file->addAction(tr("Save Session &As…"), QKeySequence::SaveAs, this, &MainWindow::saveSessionAs);
    file->addSeparator();
    file->addAction(tr("&Export View…"), QKeySequence(Qt::CTRL | Qt::Key_E), this, &MainWindow::exportView);
    file->addAction(
        tr("Export &Panel…"), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_E), this, &MainWindow::exportPanel);
    file->addAction(tr("Export Panel &Numbers (.npy, .csv)…"), this, &MainWindow::exportPanelData);
    file->addAction(tr("Export &Metrics (.csv, .json)…"), this, &MainWindow::exportMetrics);
    file->addAction(tr("&Batch Export Every Head…"), this, &MainWindow::batchExport);
    file->addSeparator();
    file->addAction(tr("&Quit"), QKeySequence::Quit, qApp, &QApplication::quit);
    QMenu* runMenu = menuBar()->addMenu(tr("&Run"));
    runMenu->addAction(tr("&Run Prompt"), QKeySequence(Qt::CTRL | Qt::Key_Return), this, &MainWindow::runNow);
    runMenu->addAction(tr("&Cancel"), QKeySequence(Qt::Key_Escape), m_engine, &Engine::cancel);
    runMenu->addSeparator();
    runMenu->addAction(tr("Next Layer"), QKeySequence(Qt::Key_PageDown), this, [this] { m_layerSpin->stepUp(); });
    runMenu->addAction(tr("Previous Layer"), QKeySequence(Qt::Key_PageUp), this, [this] { m_layerSpin->stepDown(); });
    runMenu->addAction(tr("Next Head"), QKeySequence(Qt::Key_BracketRight), this, [this] { m_headSpin->stepUp(); });
    runMenu->addAction(
        tr("Previous Head"), QKeySequence(Qt::Key_BracketLeft), this, [this] { m_headSpin->stepDown(); });
    QMenu* help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("&About attnscope"), this, [this] {
        QMessageBox::about(this, tr("About attnscope"),
            tr("<b>attnscope %1</b><br>Differential attention and CoPE, layer by layer.<br><br>Qt %2<br>LibTorch %3<br>"
               "CUDA devices: %4<br><br>GPL-3.0-or-later")
                .arg(QApplication::applicationVersion(), QString::fromLatin1(qVersion()),
                    QString::fromStdString(torchVersion()))
                .arg(cudaDeviceCount()));
    });

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
    restoreState(m_settings.windowState());
    connect(m_runButton, &QPushButton::clicked, this, &MainWindow::runNow);
    connect(m_cancelButton, &QPushButton::clicked, m_engine, &Engine::cancel);
    connect(m_exactButton, &QPushButton::clicked, this, &MainWindow::onExactButton);
    connect(m_prompt, &QPlainTextEdit::textChanged, this, &MainWindow::updateTokenStrip);
    connect(m_tokenStrip, &QListWidget::itemSelectionChanged, this, &MainWindow::onTokenSelectionChanged);
    connect(m_layerSpin, qOverload<int>(&QSpinBox::valueChanged), this, &MainWindow::requestRun);
    connect(m_headSpin, qOverload<int>(&QSpinBox::valueChanged), this, &MainWindow::requestRun);
    connect(m_modelCombo, qOverload<int>(&QComboBox::currentIndexChanged), this, [this](int index) {
        m_currentModel = index < 0 ? -1 : m_modelCombo->itemData(index).toInt();
        if (const ModelInfo* info = currentModel()) {
            // A bundled model's sample prompt replaces an empty prompt or another model's sample, never the
            // user's own text.
            const QString prompt = m_prompt->toPlainText();
            bool isSample = prompt.trimmed().isEmpty();
            for (const auto& [id, other] : m_models)
                isSample = isSample || (!other.samplePrompt.isEmpty() && prompt == other.samplePrompt);
            if (isSample && !info->samplePrompt.isEmpty())
                m_prompt->setPlainText(info->samplePrompt);
            m_modelSummary->setText(configSummary(*info));
            m_layerSpin->setRange(0, static_cast<int>(info->config.nLayers - 1));
            m_headSpin->setRange(0, static_cast<int>(info->config.nHeads - 1));
            rebuildPanels();
            updateTokenStrip();
            requestRun();
        }
    });
}

void MainWindow::openModel(const QString& path)
{
    m_status->setText(tr("loading %1…").arg(path));
    m_engine->loadModel(path, m_deviceCombo->currentText(), m_dtypeCombo->currentText());
}

void MainWindow::setPrompt(const QString& text)
{
    m_prompt->setPlainText(text);
}

void MainWindow::runNow()
{
    requestRun();
}

const ModelInfo* MainWindow::currentModel() const
{
    auto it = m_models.find(m_currentModel);
    return it == m_models.end() ? nullptr : &it->second;
}

void MainWindow::onModelLoaded(quint64, const ModelInfo& info)
{
    m_models[info.id] = info;
    m_settings.addRecentModel(info.path);
    rebuildRecentMenu();
    m_status->setText(tr("loaded %1 (%2, %3)").arg(info.name, info.device, info.dtype));
    m_modelCombo->addItem(info.name, info.id);
    m_modelCombo->setCurrentIndex(m_modelCombo->count() - 1); // selects it and runs the prompt
    modelLoadSettled();
}

void MainWindow::updateTokenStrip()
{
    m_tokenStrip->clear();
    const ModelInfo* info = currentModel();
    if (!info) {
        m_tokenCount->clear();
        return;
    }
    const std::vector<int64_t> ids = info->tokenizer->encode(m_prompt->toPlainText().toStdString());
    const bool tooLong = static_cast<int64_t>(ids.size()) > info->config.maxSeqLen;
    m_tokenCount->setText(tr("%1 tokens (max %2)").arg(ids.size()).arg(info->config.maxSeqLen));
    m_tokenCount->setStyleSheet(tooLong ? QStringLiteral("color: #c0392b; font-weight: bold") : QString());
    // The strip shows at most the first 2,000 tokens: beyond that a list widget costs more than it tells.
    for (size_t i = 0; i < ids.size() && i < 2000; ++i) {
        auto* item = new QListWidgetItem(QString::fromStdString(info->tokenizer->display(ids[i])), m_tokenStrip);
        item->setToolTip(tr("token %1, id %2").arg(i).arg(ids[i]));
    }
}

void MainWindow::requestRun()
{
    const ModelInfo* info = currentModel();
    if (!info)
        return;
    const HeadRef ref {m_layerSpin->value(), m_headSpin->value()};
    MetricsRequest metrics;
    // Metrics cover every head, so a layer/head change with the same model, prompt and span reuses them.
    metrics.enabled = metricsKey() != m_metricsKey || m_lastRun.metrics.empty();
    if (metrics.enabled)
        m_requestedMetricsKey = metricsKey();
    metrics.spanBegin = m_spanBegin;
    metrics.spanEnd = m_spanEnd;
    if (m_window && (m_window->modelId != info->id || m_window->prompt != m_prompt->toPlainText()))
        m_window.reset(); // a window belongs to the prompt and model it was taken from
    m_engine->run(info->id, m_prompt->toPlainText(), {ref}, availableMapKinds(info->config, false), metrics,
        m_window ? m_window->region : MapRegion {});
    requestCompare();
}

void MainWindow::onRunFailed(quint64, const QString& message)
{
    m_progress->setVisible(false);
    m_cancelButton->setEnabled(false);
    if (message.endsWith(QStringLiteral("cancelled"))) {
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
    std::vector<int> ids;
    for (const auto& [id, info] : m_models)
        ids.push_back(id);
    m_engine->compare(ids, m_prompt->toPlainText(), {m_layerSpin->value(), m_headSpin->value()}, m_compare->kind());
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
    // Non-modal, so a failing run never blocks the window (or a test).
    auto* box = new QMessageBox(QMessageBox::Warning, title, message, QMessageBox::Ok, this);
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->setModal(false);
    box->show();
    Q_EMIT errorShown(message);
}

} // namespace attn::app
