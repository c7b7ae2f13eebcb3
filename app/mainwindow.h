// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "attnscope/export.h"
#include "engine.h"
#include "session.h"
#include "settings.h"

#include <QMainWindow>
#include <QPointer>
#include <QRectF>

#include <map>
#include <memory>
#include <optional>
#include <set>

class QComboBox;
class QLabel;
class QPlainTextEdit;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QGridLayout;
class QListWidget;
class QMenu;
class QDockWidget;
class QTabWidget;
class QScrollArea;
class QMessageBox;
class QAction;
class QActionGroup;

namespace attn::app {

class HeatmapPanel;
class ColorControls;
class LambdaPlot;
class CopePositionPlot;
class MetricsPanel;
class CompareView;
class OverviewGrid;
class KindPicker;
class ConnectDialog;
using Provenance = attn::Provenance; // attnscope/export.h
struct PanelMap;
struct ExportResult;

/**
 * @brief The main window: model panel, prompt editor with live token strip, and every map of the selected
 * layer/head side by side with a synced cross-hair, zoom and a read-out of every term at the hovered cell.
 * All model work goes through Engine (its own thread); this class never blocks.
 */
class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(QWidget* parent = nullptr);
    ~MainWindow() override;

    /// Loads a model directory (or its config.json) on the engine thread; runs the prompt when it arrives. Returns the
    /// load request id.
    quint64 openModel(const QString& path);
    void setPrompt(const QString& text);
    /// Runs the prompt as the user asked (Run / Ctrl+Enter): also a prompt the tokenizer cannot represent.
    void runNow();
    /// Exports what the current tab shows (the Maps tab's panels or the Compare tab's comparison) as an image.
    bool exportViewTo(const QString& path, int dpi = 96);
    /// Exports the numbers (.npy or .csv + sidecar) of the shown head's map of this kind, from the result on screen.
    bool exportMapDataTo(MapKind kind, const QString& path);
    /// Shows every panel's whole map again (double-click, Home, Ctrl+0, View → Reset Zoom).
    void resetZoom();
    /// Fraction of the prompt's tokens the current model's tokenizer maps to <unk>.
    double unknownTokenFraction() const;
    Engine& engine() { return *m_engine; }
    MetricsPanel* metricsPanel() const { return m_metrics; }
    CompareView* compareView() const { return m_compare; }
    /// Batch export of every layer x head x map kind into a new subfolder of `parent` (images and numbers).
    /// Emits batchExportFinished; returns the subfolder.
    QString startBatchExport(const QString& parent, bool images, bool numbers);
    /// Sessions (mainwindow_session.cpp).
    SessionState currentSession() const;
    bool saveSession(const QString& path);
    void openSession(const QString& path);
    /// Loads the state's models, then applies its selection; the first model becomes the current one.
    void restoreSession(const SessionState& state);
    /// Help → Try a 16K-Token Prompt: the bundled needles-diff-rope on a needles prompt of 16,384 tokens
    /// (mainwindow_longcontext.cpp).
    void openLongContextDemo();
    /// Shows the Compare tab (which runs every loaded model on the prompt).
    void showCompare();
    /// Marks the relevant key span [begin, end) (as selecting tokens in the strip does) and re-runs.
    void setRelevantSpan(int64_t begin, int64_t end);
    /// Long prompts (mainwindow_regions.cpp): exact values of queries [q0, q1) x keys [k0, k1) instead of the
    /// pooled overview, and back. The window is dropped when the prompt or the model changes.
    void showExactWindow(int64_t q0, int64_t q1, int64_t k0, int64_t k1);
    void showOverview();
    /// Remote models (mainwindow_remote.cpp). File → Connect to Server: the dialog (non-modal; returned for tests).
    ConnectDialog* showConnectDialog(const QString& server = {}, const QString& note = {});
    /// Opens a model on a connected server (path is a path there). Returns the load request id.
    quint64 openRemoteModel(const QString& server, const QString& path, const QString& device, const QString& dtype);
    /// Connects again to a server that went away (its last endpoint, else the saved connection); its models are
    /// opened there again under the same ids. Asks (the connect dialog) when that connection is refused.
    void reconnectServer(const QString& server);
    const std::map<int, ModelInfo>& models() const { return m_models; }
    /// Panels currently shown, in display order (for tests and export).
    const std::vector<HeatmapPanel*>& panels() const;

Q_SIGNALS:
    /// A run's maps are on screen (tests wait on this).
    void mapsShown();
    /// A batch export ended (ok = false when cancelled or failed).
    void batchExportFinished(bool ok, const QString& message);
    /// A session's models are loaded and its selection applied.
    void sessionRestored();
    /// A comparison is on screen.
    void compareShown();
    /// The run in flight was cancelled (Esc / Cancel); the previous maps stay on screen.
    void runCancelled();
    /// A load or run failed and the message is on screen.
    void errorShown(const QString& message);
    /// A server went away: said so on screen, its models marked disconnected.
    void serverDisconnected(const QString& server);
    /// After a reconnect, the models of that server are open there again.
    void serverReconnected(const QString& server);
    /// The current remote model's token strip is filled from its server's tokenizer.
    void remoteTokensShown();

protected:
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;
    bool eventFilter(QObject* watched, QEvent* event) override;
    void closeEvent(QCloseEvent* event) override;

private:
    void buildUi();
    QAction* buildMenus(); ///< File, Run, View, Help; returns File → Open Model for the dock's button
    /// The cover over the panels, the exact-window button and the metrics note while a run is in flight
    /// (mainwindow_inflight.cpp).
    void wireRunInFlight();
    void onModelLoaded(quint64 requestId, const ModelInfo& info);
    void onRunFinished(const RunOutput& output);
    void onRunFailed(quint64 requestId, const QString& message, bool cancelled);
    void onCellHovered(int row, int col);
    void updateTokenStrip();
    /// userAsked: an explicit Run; automatic runs (model, layer, head, span changes) skip unrepresentable prompts.
    void requestRun(bool userAsked = false);
    void onModelSelected(int index);
    void relayoutPanels();
    void setPanelLayout(Settings::PanelLayout layout);
    /// A banner above the panels saying what they show when that is not what was asked for; empty hides it.
    void setStale(const QString& message);
    void updateWindowTitle();
    void updateLambdaLabel();
    void clearResultViews(const QString& why);
    QString shownDescription() const;
    void showError(const QString& title, const QString& message);
    void rebuildPanels();
    const ModelInfo* currentModel() const;
    void applyColors();
    void updateSidePlots();
    void rebuildRecentMenu();
    void onTokenSelectionChanged();
    void requestCompare();
    void updateOverview();
    void saveSessionAs();
    /// A load ended (opened or failed); the session being restored finishes once all of its own loads have.
    void modelLoadSettled(quint64 loadRequest);
    void finishSessionRestore();
    // Remote models (mainwindow_remote.cpp).
    void wireRemote();
    void onServerLost(const QString& server, const QString& message);
    void onModelReconnected(int modelId, bool ok, const QString& message);
    /// The server unloaded a model it had not heard about for its --idle-unload: said once, the model marked.
    void onRemoteModelDropped(int modelId, const QString& message);
    void onSessionServerConnected(quint64 requestId, const QString& server);
    void onSessionServerFailed(quint64 requestId, const QString& server, const QString& message, bool refused);
    /// Opens the pending session's models that live on `server` (connected by now) as part of its restore.
    void openSessionModelsOn(const QString& server);
    void dropSessionModelsOn(const QString& server, const QString& why);
    void rebuildReconnectMenu();
    void updateModelItem(int modelId); ///< the model list's text: name @ host:port, (disconnected)
    void updateModelSummary(); ///< the model dock's text for the current model
    /// The prompt's tokens and their display strings for the live strip: the local tokenizer's, or the server's once
    /// it has answered for this text (false: asked, the strip fills in when the answer comes).
    bool promptTokens(const ModelInfo& info, std::vector<int64_t>* ids, QStringList* display) const;
    struct RemoteTokens {
        int modelId = -1;
        QString text;
        std::vector<int64_t> ids;
        QStringList display;
        QString error;
    };
    RemoteTokens m_remoteTokens; ///< the server's answer for the current remote model's prompt
    mutable QString m_remoteTokensAsked; ///< modelId|text last asked, so one text is asked once
    std::map<quint64, QString> m_sessionConnects; ///< connect requests of the session being restored -> server
    std::map<quint64, QString> m_reconnects; ///< reconnect requests -> server
    QStringList m_sessionProblems; ///< the session's models that could not be reopened, and why
    QMenu* m_reconnectMenu = nullptr;
    // Exports (mainwindow_export.cpp).
    /// Provenance of the result on screen (m_lastRun as shown: its prompt, tokens, model, request id), of `map`
    /// when given; never read from the spin boxes or the editor, which may already name the next run.
    Provenance resultProvenance(const AttentionMap* map) const;
    Provenance provenance(const HeatmapPanel* panel) const;
    /// The shown head's map of this kind in the result on screen, or null.
    const AttentionMap* shownMap(MapKind kind) const;
    QString askExportPath(const QString& title, const QString& suggested, const QString& filters);
    void reportExport(const ExportResult& result);
    void exportView();
    void exportPanel();
    void exportPanelData();
    void exportMetrics();
    void batchExport();
    QString spanDescription() const;
    QString metricsKey() const;

    Engine* m_engine = nullptr;
    std::map<int, ModelInfo> m_models;
    int m_currentModel = -1;
    RunOutput m_lastRun;

    QComboBox* m_modelCombo = nullptr;
    QLabel* m_modelSummary = nullptr;
    QComboBox* m_deviceCombo = nullptr;
    QComboBox* m_dtypeCombo = nullptr;
    QPlainTextEdit* m_prompt = nullptr;
    QLabel* m_tokenCount = nullptr;
    QListWidget* m_tokenStrip = nullptr;
    QPushButton* m_runButton = nullptr;
    QPushButton* m_cancelButton = nullptr;
    QSpinBox* m_layerSpin = nullptr;
    QSpinBox* m_headSpin = nullptr;
    QLabel* m_lambdaLabel = nullptr;
    QLabel* m_readout = nullptr;
    /// Where the shown maps' cells sit in the token grid: first query/key and tokens per cell side (> 1: a pooled
    /// overview of a long prompt; an offset: a window of one).
    struct ShownGeometry {
        int64_t rowBegin = 0, colBegin = 0, block = 1;
    } m_shown;
    struct WindowRequest {
        MapRegion region;
        QString prompt;
        int modelId = -1;
    };
    std::optional<WindowRequest> m_window; ///< the exact window asked for, if any
    /// What the panels show (model, layer, head); -1 when nothing. A cancel puts the spin boxes back to it.
    int m_shownModel = -1;
    HeadRef m_shownRef {-1, -1};
    QRectF m_lastView; ///< the panels' visible cells (x: keys, y: queries), for "exact values in view"
    QPushButton* m_exactButton = nullptr;
    void onExactButton();
    void updateExactButton();
    PanelMap panelMapFor(const AttentionMap& map, MapKind kind, const QStringList& tokens) const;
    QGridLayout* m_panelGrid = nullptr;
    KindPicker* m_kindPicker = nullptr; ///< caption and map-kind buttons above the grid
    /// Switches the panels of the kinds the picker has off out of the grid, remembers the choice, re-flows.
    void applyShownKinds();
    QScrollArea* m_panelScroll = nullptr;
    QLabel* m_stale = nullptr;
    QActionGroup* m_layoutGroup = nullptr;
    std::map<int, QString> m_promptByModel; ///< the last prompt of each model, restored when it is selected again
    std::vector<int> m_openOrder; ///< model ids in the order they were opened (Compare picks the latest two)
    QPointer<QMessageBox> m_errorBox; ///< at most one error dialog: a new failure updates it
    /// Progress of the run in flight: its maps, then (when asked) every head's metrics, as one bar.
    bool m_runWithMetrics = false;
    QLabel* m_overviewLegend = nullptr;
    QLabel* m_plotsNote = nullptr;
    int m_gridColumns = 0; ///< columns of the panel grid as last laid out (0: lay out again)
    bool m_gridFit = true;
    std::vector<HeatmapPanel*> m_panels;
    ColorControls* m_colors = nullptr;
    LambdaPlot* m_lambdaPlot = nullptr;
    CopePositionPlot* m_copePlot = nullptr;
    QDockWidget* m_plotDock = nullptr;
    QDockWidget* m_modelDockPtr = nullptr;
    QDockWidget* m_metricsDockPtr = nullptr;
    QDockWidget* m_overviewDockPtr = nullptr;
    QMenu* m_recentMenu = nullptr;
    Settings m_settings;
    int m_queryRow = -1; ///< query row of the CoPE position plot; -1 = the last token
    MetricsPanel* m_metrics = nullptr;
    CompareView* m_compare = nullptr;
    OverviewGrid* m_overview = nullptr;
    QComboBox* m_overviewMetric = nullptr;
    std::optional<SessionState> m_pendingSession; ///< a session waiting for its models to load
    std::set<quint64> m_pendingLoads; ///< the load requests of the session being restored
    /// What the metrics of m_lastRun were computed for; a head or layer change with the same key reuses them.
    QString m_metricsKey;
    QString m_requestedMetricsKey; ///< key of the latest request that computes metrics (latest wins, so it matches the
                                   ///< result)
    QTabWidget* m_tabs = nullptr;
    HeatmapPanel* m_activePanel = nullptr; ///< the panel last hovered: what Export Panel exports
    int64_t m_spanBegin = -1; ///< the relevant key span [begin, end) marked in the token strip; -1 = none
    int64_t m_spanEnd = -1;
    QProgressBar* m_progress = nullptr;
    QLabel* m_status = nullptr;
};

} // namespace attn::app
