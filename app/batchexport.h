// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "engine.h"
#include "exporter.h"

#include <QObject>
#include <QStringList>

#include <deque>

class QProgressDialog;

namespace attn::app {

class HeatmapPanel;

/**
 * @brief Exports every layer x head x chosen map kind of one prompt to a folder: `.npy` numbers and/or PNG
 * images, each with its provenance sidecar, with a progress dialog and Cancel.
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

Q_SIGNALS:
    /// ok = false when cancelled or failed (message says why); files written before stay.
    void finished(bool ok, const QString& message);

private:
    void onLayer(quint64 requestId, const CaptureResult& layer, const QStringList& tokens);
    void processNext();
    void finish(bool ok, const QString& message);

    Engine* m_engine;
    ModelInfo m_model;
    QString m_prompt;
    Options m_options;
    quint64 m_requestId = 0;
    QProgressDialog* m_progress = nullptr;
    HeatmapPanel* m_panel = nullptr;
    std::deque<std::pair<AttentionMap, QStringList>> m_queue;
    QStringList m_written;
    int m_total = 0;
    int m_done = 0;
    bool m_engineDone = false;
    bool m_finished = false;
    std::vector<double> m_lambda;
};

} // namespace attn::app
