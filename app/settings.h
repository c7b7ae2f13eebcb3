// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "mapmath.h"

#include <QByteArray>
#include <QList>
#include <QString>
#include <QStringList>

#include <optional>

namespace attn::app {

/**
 * @brief Every persisted setting in one typed place (INI via QSettings, namespaced keys), so no widget
 * scatters ad-hoc QSettings calls.
 */
class Settings {
public:
    static constexpr int kMaxRecentModels = 10;
    static constexpr int kMaxRecentPrompts = 20;

    QStringList recentModels() const;
    void addRecentModel(const QString& path);
    QStringList recentPrompts() const;
    void addRecentPrompt(const QString& prompt);

    ColorOptions colorOptions() const;
    void setColorOptions(const ColorOptions& options);

    QString device() const;
    void setDevice(const QString& device);
    QString dtype() const;
    void setDtype(const QString& dtype);

    /// How the Maps tab lays its panels out: every panel fitted into the view, or large panels in a scrolled grid.
    enum class PanelLayout { Fit, Large };
    PanelLayout panelLayout() const;
    void setPanelLayout(PanelLayout layout);

    /// Map kinds (core names) the user switched off in the Maps grid, per model family (e.g. "diff-rope+cope").
    QStringList hiddenMapKinds(const QString& family) const;
    void setHiddenMapKinds(const QString& family, const QStringList& kinds);

    /// The folder of the last file dialog (export, session), where the next one opens.
    QString lastFolder() const;
    void setLastFolder(const QString& folder);

    /// A server the user connected to (File → Connect to Server offers them again). The token itself is never
    /// saved: only the file it is read from (empty: $ATTNSCOPE_TOKEN).
    struct SavedConnection {
        QString server; ///< HOST:PORT
        QString tokenFile;
        QString caFile; ///< TLS: the CA or self-signed certificate; empty: plain TCP (loopback, SSH tunnel)
        bool float16 = false;
    };
    static constexpr int kMaxSavedConnections = 10;
    /// Most recent first.
    QList<SavedConnection> savedConnections() const;
    void addSavedConnection(const SavedConnection& connection);
    /// The saved connection of this server, if any.
    std::optional<SavedConnection> savedConnection(const QString& server) const;

    QByteArray windowGeometry() const;
    QByteArray windowState() const;
    void setWindow(const QByteArray& geometry, const QByteArray& state);
};

} // namespace attn::app
