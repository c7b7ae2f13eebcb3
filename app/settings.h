// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "mapmath.h"

#include <QByteArray>
#include <QString>
#include <QStringList>

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

    QByteArray windowGeometry() const;
    QByteArray windowState() const;
    void setWindow(const QByteArray& geometry, const QByteArray& state);
};

} // namespace attn::app
