// SPDX-License-Identifier: GPL-3.0-or-later
#include "settings.h"

#include <QSettings>

#include <algorithm>

namespace attn::app {

namespace {

QStringList pushFront(QStringList list, const QString& item, int max)
{
    list.removeAll(item);
    list.prepend(item);
    while (list.size() > max)
        list.removeLast();
    return list;
}

} // namespace

QStringList Settings::recentModels() const
{
    return QSettings().value(QStringLiteral("Models/recent")).toStringList();
}

void Settings::addRecentModel(const QString& path)
{
    QSettings().setValue(QStringLiteral("Models/recent"), pushFront(recentModels(), path, kMaxRecentModels));
}

QStringList Settings::recentPrompts() const
{
    return QSettings().value(QStringLiteral("Prompts/recent")).toStringList();
}

void Settings::addRecentPrompt(const QString& prompt)
{
    if (!prompt.trimmed().isEmpty())
        QSettings().setValue(QStringLiteral("Prompts/recent"), pushFront(recentPrompts(), prompt, kMaxRecentPrompts));
}

ColorOptions Settings::colorOptions() const
{
    QSettings s;
    ColorOptions o;
    o.scale = static_cast<ColorScaleType>(s.value(QStringLiteral("Render/scale"), static_cast<int>(o.scale)).toInt());
    o.sharedRange = s.value(QStringLiteral("Render/sharedRange"), o.sharedRange).toBool();
    o.percentileClamp = s.value(QStringLiteral("Render/percentileClamp"), o.percentileClamp).toDouble();
    o.sequential = static_cast<GradientChoice>(
        s.value(QStringLiteral("Render/sequential"), static_cast<int>(o.sequential)).toInt());
    o.diverging = static_cast<GradientChoice>(
        s.value(QStringLiteral("Render/diverging"), static_cast<int>(o.diverging)).toInt());
    if (!(o.percentileClamp >= 50.0 && o.percentileClamp <= 100.0)) // a hand-edited INI must not break the view
        o.percentileClamp = 100.0;
    return o;
}

void Settings::setColorOptions(const ColorOptions& o)
{
    QSettings s;
    s.setValue(QStringLiteral("Render/scale"), static_cast<int>(o.scale));
    s.setValue(QStringLiteral("Render/sharedRange"), o.sharedRange);
    s.setValue(QStringLiteral("Render/percentileClamp"), o.percentileClamp);
    s.setValue(QStringLiteral("Render/sequential"), static_cast<int>(o.sequential));
    s.setValue(QStringLiteral("Render/diverging"), static_cast<int>(o.diverging));
}

QString Settings::device() const
{
    return QSettings().value(QStringLiteral("Run/device"), QStringLiteral("auto")).toString();
}
void Settings::setDevice(const QString& device)
{
    QSettings().setValue(QStringLiteral("Run/device"), device);
}
QString Settings::dtype() const
{
    return QSettings().value(QStringLiteral("Run/dtype"), QStringLiteral("fp32")).toString();
}
void Settings::setDtype(const QString& dtype)
{
    QSettings().setValue(QStringLiteral("Run/dtype"), dtype);
}

QByteArray Settings::windowGeometry() const
{
    return QSettings().value(QStringLiteral("MainWindow/geometry")).toByteArray();
}
QByteArray Settings::windowState() const
{
    return QSettings().value(QStringLiteral("MainWindow/state")).toByteArray();
}

void Settings::setWindow(const QByteArray& geometry, const QByteArray& state)
{
    QSettings s;
    s.setValue(QStringLiteral("MainWindow/geometry"), geometry);
    s.setValue(QStringLiteral("MainWindow/state"), state);
}

Settings::PanelLayout Settings::panelLayout() const
{
    return QSettings().value(QStringLiteral("View/panelLayout")).toString() == QStringLiteral("large")
        ? PanelLayout::Large
        : PanelLayout::Fit;
}

void Settings::setPanelLayout(PanelLayout layout)
{
    QSettings().setValue(QStringLiteral("View/panelLayout"),
        layout == PanelLayout::Large ? QStringLiteral("large") : QStringLiteral("fit"));
}

QStringList Settings::hiddenMapKinds(const QString& family) const
{
    return QSettings().value(QStringLiteral("View/hiddenMapKinds/") + family).toStringList();
}

void Settings::setHiddenMapKinds(const QString& family, const QStringList& kinds)
{
    QSettings().setValue(QStringLiteral("View/hiddenMapKinds/") + family, kinds);
}

QString Settings::lastFolder() const
{
    return QSettings().value(QStringLiteral("Files/lastFolder")).toString();
}

void Settings::setLastFolder(const QString& folder)
{
    QSettings().setValue(QStringLiteral("Files/lastFolder"), folder);
}

QList<Settings::SavedConnection> Settings::savedConnections() const
{
    QSettings s;
    QList<SavedConnection> list;
    const int count = s.beginReadArray(QStringLiteral("Remote/connections"));
    for (int i = 0; i < count && i < kMaxSavedConnections; ++i) {
        s.setArrayIndex(i);
        SavedConnection c;
        c.server = s.value(QStringLiteral("server")).toString();
        c.tokenFile = s.value(QStringLiteral("tokenFile")).toString();
        c.caFile = s.value(QStringLiteral("caFile")).toString();
        c.float16 = s.value(QStringLiteral("float16"), false).toBool();
        if (!c.server.isEmpty())
            list << c;
    }
    s.endArray();
    return list;
}

void Settings::addSavedConnection(const SavedConnection& connection)
{
    QList<SavedConnection> list = savedConnections();
    list.erase(std::remove_if(
                   list.begin(), list.end(), [&](const SavedConnection& c) { return c.server == connection.server; }),
        list.end());
    list.prepend(connection);
    while (list.size() > kMaxSavedConnections)
        list.removeLast();
    QSettings s;
    s.beginWriteArray(QStringLiteral("Remote/connections"), static_cast<int>(list.size()));
    for (int i = 0; i < list.size(); ++i) {
        s.setArrayIndex(i);
        s.setValue(QStringLiteral("server"), list[i].server);
        s.setValue(QStringLiteral("tokenFile"), list[i].tokenFile);
        s.setValue(QStringLiteral("caFile"), list[i].caFile);
        s.setValue(QStringLiteral("float16"), list[i].float16);
    }
    s.endArray();
}

std::optional<Settings::SavedConnection> Settings::savedConnection(const QString& server) const
{
    for (const SavedConnection& c : savedConnections())
        if (c.server == server)
            return c;
    return std::nullopt;
}

} // namespace attn::app
