// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "engine.h"
#include "exporter.h"

#include <QObject>
#include <QStringList>

#include <deque>
#include <memory>

class QProgressDialog;

namespace attn::app {

class HeatmapPanel;

/**
 * @brief Exports every layer x head x chosen map kind of one prompt to a folder: the numbers as one maps bundle
 * in `<folder>/maps/` (core's MapsBundleWriter: `.npy` per map + `maps.json`, the CLI's format, all-or-nothing:
 * it appears only when complete) and/or PNG images in `<folder>/`, each with its provenance sidecar; with a
 * progress dialog and Cancel. Provenance comes from what was run (the model, the prompt posted, the tokens the
 * engine returned), never from the window.
 * The engine delivers one layer's maps at a time; images are rendered one per event-loop turn from a hidden
 * panel, so the UI stays responsive through thousands of files.
 */
class BatchExport : public QObject {
    Q_OBJECT
public:
    struct Options {
        QString folder;
        std::vector<MapKind> kinds;
        bool images = true;
        bool numbers = true;
        double dpi = 96.0;
    };
    BatchExport(Engine* engine, const ModelInfo& model, const QString& prompt, Options options, QWidget* parent);
    ~BatchExport() override;
    void start();
    /// Files written so far.
    const QStringList& written() const { return m_written; }
    /// Where the numbers go: `<folder>/maps`.
    static QString numbersFolder(const QString& folder);

Q_SIGNALS:
    /// ok = false when cancelled or failed (message says why); images written before stay, staged numbers do not.
    void finished(bool ok, bool cancelled, const QString& message);

private:
    void onLayer(quint64 requestId, const CaptureResult& layer, const QStringList& tokens);
    void processNext();
    void finish(bool ok, const QString& message, bool cancelled = false);
    Provenance provenanceOf(const AttentionMap* map, const QStringList& tokens) const;

    Engine* m_engine;
    ModelInfo m_model;
    QString m_prompt;
    Options m_options;
    quint64 m_requestId = 0;
    QProgressDialog* m_progress = nullptr;
    HeatmapPanel* m_panel = nullptr;
    std::deque<std::pair<AttentionMap, QStringList>> m_queue;
    QStringList m_written;
    QStringList m_stagedNumbers; ///< .npy files in the bundle, listed in written() once it is committed
    int m_total = 0;
    int m_done = 0;
    bool m_engineDone = false;
    bool m_finished = false;
    std::vector<double> m_lambda;
    std::vector<int64_t> m_tokens; ///< the ids the engine ran (from its results)
    QStringList m_display;
    std::unique_ptr<attn::MapsBundleWriter> m_bundle; ///< the numbers, staged until the last map is in
};

} // namespace attn::app
