// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "attnscope/analysis_engine.h"
#include "attnscope/config.h"
#include "attnscope/maps.h"
#include "attnscope/metrics.h"
#include "attnscope/tokenizer.h"
#include "remoteconnection.h"

#include <QList>
#include <QObject>
#include <QPair>
#include <QString>
#include <QStringList>
#include <QTimer>

#include <map>
#include <memory>
#include <optional>
#include <vector>

namespace attn::app {

/** @brief What the UI knows about a loaded model (value type; the Model itself stays on the engine thread). */
struct ModelInfo {
    int id = -1;
    QString path;
    QString name;
    ModelConfig config;
    qint64 parameters = 0;
    QString device;
    QString dtype;
    QString sha256; ///< empty until Engine::modelHashed (multi-GB weights are hashed beside the load)
    QString format; ///< "attnscope", "huggingface" or "pytorch"
    /// What the importer read (model_type, rope, sliding window, the checkpoint's cfg, ...), in order.
    QList<QPair<QString, QString>> description;
    /// sample_prompt.txt of the model directory (bundled models ship one), empty if none.
    QString samplePrompt;
    /// The model's tokenizer, shared with the UI thread (live token counts); tokenizers are immutable and thread-safe.
    /// Null for a remote model: Engine::requestTokens asks its server.
    std::shared_ptr<const Tokenizer> tokenizer;
    /// HOST:PORT of the attnscope-server that holds the model (path is a path there); empty: this process.
    QString server;
    /// False once the model's server went away: its results stay on screen, new requests wait for a reconnect.
    bool connected = true;
    /// Why it is disconnected when its server is still there (the server unloaded it after its --idle-unload without
    /// contact); empty: the server went away.
    QString disconnectedWhy;
};

/// App model ids of remote models start here (the in-process engine counts its own from 1): one id space for both.
inline constexpr int kRemoteModelIdBase = 1 << 20;

/// What a server offers (File → Connect to Server lists it): models by their path on the server.
struct ServerListing {
    QString server; ///< HOST:PORT
    QStringList roots; ///< the server's allowed folders
    QStringList paths; ///< absolute on the server
    QStringList kinds; ///< "folder" or "checkpoint", per path
};

/**
 * @brief Per-head noise metrics of every layer x head, reduced on the device from the run's own tiles (the maps of
 * every head are never kept; only numbers and thumbnails cross to the UI).
 */
struct MetricsRequest {
    bool enabled = false;
    int64_t spanBegin = -1; ///< relevant key span [spanBegin, spanEnd); -1 = no span
    int64_t spanEnd = -1;
    int64_t noiseEnd = -1; ///< first key of the question segment, excluded from noise; -1 = none
    std::vector<int64_t> queryRows; ///< empty = the last token
};

/** @brief One run's result, delivered to the UI thread. */
struct RunOutput {
    quint64 requestId = 0;
    int modelId = -1;
    QString prompt; ///< the text this run tokenized (export provenance names it, not the editor's current text)
    CaptureResult capture;
    QStringList tokenDisplay;
    double seconds = 0.0;
    std::vector<HeadMetrics> metrics; ///< every layer x head when MetricsRequest::enabled
    std::vector<HeadSpan> spans; ///< per head, when a span was given
    SpanAttention spanAverage; ///< mean over heads, then layers (the DIFF paper's Table 3 protocol)
    QString metricsError; ///< why metrics are missing, if they are
    /// Every head's attention map (A, or D for DIFF) max-pooled to at most kThumbnailSize^2, for the overview grid.
    std::vector<AttentionMap> thumbnails;
};

inline constexpr int64_t kThumbnailSize = 48;
/// Above this many tokens the panels show device-pooled overviews (kLongPromptOverview^2, max) instead of full
/// maps; metrics and thumbnails come at any length.
inline constexpr int64_t kLongPromptTokens = kInteractiveFullMapTokens;
inline constexpr int64_t kLongPromptOverview = 1024;

/// What a compare view shows for each model: the attention (A, or D/(1 - λ) so rows sum to 1 in both kinds of
/// model), CoPE gates (G, or G1), CoPE positions (P, or P1), or one exact map kind (A1, D, G2, ...) that models
/// without it report as an error.
enum class CompareKind { Attention, Gates, Positions, Exact };

struct CompareEntry {
    int modelId = -1;
    QString error; ///< why this model has nothing to show (no such head, no CoPE, ...)
    MapKind kind = MapKind::A;
    std::vector<int64_t> tokens;
    QStringList tokenDisplay;
    AttentionMap map;
    HeadMetrics metrics;
};

struct CompareOutput {
    quint64 requestId = 0;
    HeadRef head;
    CompareKind kind = CompareKind::Attention;
    std::vector<CompareEntry> entries;
};

/**
 * @brief The UI's handle on the core AnalysisEngine (attnscope/analysis_engine.h), which owns every loaded model on its
 * own thread. This adapter only translates: UI calls become requests on the engine's streams ("run", "batch",
 * "compare/N": latest wins within each, through the requests' cancel tokens), and the engine's callbacks come back
 * to the UI thread as queued signals carrying values. Results of superseded requests are dropped here, before they
 * reach a widget.
 */
class Engine : public QObject {
    Q_OBJECT
public:
    explicit Engine(QObject* parent = nullptr);
    ~Engine() override;

    /// device: "auto", "cpu", "cuda", "cuda:N"; dtype: "fp32" or "bf16". Returns the load request id (0 when the
    /// device or dtype is refused before loading; loadFailed then says why).
    quint64 loadModel(const QString& path, const QString& device, const QString& dtype);
    void unloadModel(int modelId);
    /// region: a Window asks for exact values of part of the maps; otherwise full maps, or overviews above
    /// kLongPromptTokens.
    quint64 run(int modelId, const QString& prompt, const std::vector<HeadRef>& heads,
        const std::vector<MapKind>& kinds, const MetricsRequest& metrics = {}, const MapRegion& region = {});
    /// The same prompt, layer/head and kind on several models (one stream per compared slot).
    /// exact: the map kind when kind is CompareKind::Exact.
    quint64 compare(const std::vector<int>& modelIds, const QString& prompt, const HeadRef& head, CompareKind kind,
        MapKind exact = MapKind::A);
    /// Every layer x head of the kinds in one pass, one batchLayer signal per layer, then batchDone (batch export).
    quint64 batchCapture(int modelId, const QString& prompt, const std::vector<MapKind>& kinds);
    void cancelBatch();
    /// Cancels the run in flight (if any) and any run still queued; its failure arrives as runFailed (cancelled).
    void cancel();
    quint64 latestRunId() const { return m_latestRun; }

    // Remote models (an attnscope-server; engine_remote.cpp). Every network call runs on the connection's threads.
    /// Connects (or reconnects: the models this app had open there are opened again under the same ids) and lists
    /// the server's models; serverConnected or serverConnectFailed says how it went, within the connect timeout.
    quint64 connectServer(const RemoteEndpoint& endpoint);
    /// Opens a model on a connected server: modelLoaded / loadFailed, as a local load.
    quint64 loadRemoteModel(const QString& server, const QString& path, const QString& device, const QString& dtype);
    /// The server's tokenization of text (a remote model has no local tokenizer): tokensReady or tokensFailed.
    void requestTokens(int modelId, const QString& text);
    bool isConnected(const QString& server) const;
    /// The endpoint a server was last connected with (for a reconnect), if any.
    std::optional<RemoteEndpoint> endpoint(const QString& server) const;
    /// How often idle connections are checked (and their leases on the server's --idle-unload renewed); 0 stops it.
    void setHeartbeatInterval(int milliseconds);

Q_SIGNALS:
    void modelLoaded(quint64 requestId, const attn::app::ModelInfo& info);
    /// The weights' SHA-256 of a loaded model, once its hashing thread has finished (after modelLoaded).
    void modelHashed(int modelId, const QString& sha256);
    void loadFailed(quint64 requestId, const QString& path, const QString& message);
    void runStarted(quint64 requestId);
    void runProgress(quint64 requestId, int layersDone, int layersTotal);
    void runFinished(const attn::app::RunOutput& output);
    /// cancelled: stopped by Cancel or superseded (StatusCode::Cancelled), as opposed to a failure to report.
    void runFailed(quint64 requestId, const QString& message, bool cancelled);
    void compareFinished(const attn::app::CompareOutput& output);
    void batchLayer(quint64 requestId, const attn::CaptureResult& layer, const QStringList& tokens);
    /// error is empty on success; cancelled: stopped by cancelBatch or a newer batch.
    void batchDone(quint64 requestId, const QString& error, bool cancelled);
    void serverConnected(quint64 requestId, const attn::app::ServerListing& listing);
    /// refused: the server turned the token down (as opposed to unreachable).
    void serverConnectFailed(quint64 requestId, const QString& server, const QString& message, bool refused);
    /// A server went away: its models are disconnected (their views stay), reconnect with connectServer.
    void serverLost(const QString& server, const QString& message);
    /// After a reconnect: a model of that server is open there again (ok) or could not be reopened (message).
    void modelReconnected(int modelId, bool ok, const QString& message);
    /// The server still runs but no longer has this model (it unloaded it after its --idle-unload without contact):
    /// like a lost server for this model alone; reconnecting to the server reopens it.
    void remoteModelDropped(int modelId, const QString& message);
    void tokensReady(int modelId, const QString& text, const QList<qint64>& ids, const QStringList& display);
    void tokensFailed(int modelId, const QString& text, const QString& message);

private:
    struct Compare;
    void finishCompareEntry(quint64 compareId, size_t slot, CompareEntry entry);
    /// Queues a request where its model lives (this process or a server); latest wins per stream across both.
    /// overviewIfLong: a remote model's prompt above kLongPromptTokens gets overviews (local runs decide before).
    uint64_t submit(AnalysisRequest request, AnalysisSink sink, bool overviewIfLong = false);
    void cancelStream(const std::string& stream);
    const std::vector<int64_t>& encodeCached(int modelId, const Tokenizer& tokenizer, const std::string& prompt);
    void onServerConnected(quint64 requestId, const RemoteEndpoint& endpoint, RemoteHandshake handshake);
    void onServerLost(const QString& server, const QString& message);
    quint64 nextRemoteRequest() { return ++m_lastRemoteRequest; }
    void startRemote(); ///< the connector thread and the heartbeat that notices a server that went away
    void stopRemote();
    bool unloadRemote(int modelId); ///< false: not a remote model
    // Computing ahead (engine_prefetch.cpp).
    void initPrefetch();
    /// After `shown` finished: plan a prefetch of the heads the navigation keys lead to and start its timer.
    void planPrefetch(const AnalysisRequest& shown);
    void dropPlannedPrefetch(); ///< a planned prefetch not yet submitted is forgotten
    void startPlannedPrefetch();

    std::unique_ptr<AnalysisEngine> m_core;
    std::map<int, ModelConfig> m_configs; ///< of the loaded models, to shape their requests
    std::map<int, std::shared_ptr<const Tokenizer>> m_tokenizers; ///< the prompt's length decides the region
    /// The last prompt encoded on the UI thread: a head or layer switch runs the same prompt again, and encoding 8K
    /// characters anew each time cost ~20 ms of the switch.
    struct EncodedPrompt {
        int modelId = -1;
        std::string prompt;
        std::vector<int64_t> tokens;
    };
    EncodedPrompt m_lastEncoded;
    quint64 m_latestRun = 0;
    std::optional<AnalysisRequest> m_plannedPrefetch;
    QTimer m_prefetchTimer;
    static constexpr int kPrefetchDelayMs = 40;
    quint64 m_latestCompare = 0;
    quint64 m_latestBatch = 0;
    std::shared_ptr<Compare> m_compare; ///< the latest compare's entries as they arrive
    size_t m_compareSlots = 0; ///< streams "compare/0".."compare/N-1" in use

    /// A remote model as this app opened it: enough to open it again after a reconnect.
    struct RemoteSlot {
        std::string server, path, device, dtype;
    };
    std::unique_ptr<SerialQueue> m_connector; ///< connect calls (each waits up to its timeout)
    std::map<std::string, std::unique_ptr<RemoteConnection>> m_servers; ///< by HOST:PORT, lost ones included
    std::vector<std::unique_ptr<RemoteConnection>> m_retired; ///< replaced by a reconnect; joined at the end
    std::map<std::string, RemoteEndpoint> m_endpoints;
    std::map<int, RemoteSlot> m_remoteModels; ///< app model id -> where it lives
    int m_nextRemoteModel = kRemoteModelIdBase;
    /// Remote request ids: far above the in-process engine's, so both share the app's one id space.
    quint64 m_lastRemoteRequest = quint64(1) << 40;
};

} // namespace attn::app

Q_DECLARE_METATYPE(attn::app::ModelInfo)
Q_DECLARE_METATYPE(attn::app::RunOutput)
Q_DECLARE_METATYPE(attn::app::CompareOutput)
Q_DECLARE_METATYPE(attn::CaptureResult)
Q_DECLARE_METATYPE(attn::app::ServerListing)
