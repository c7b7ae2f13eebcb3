// SPDX-License-Identifier: GPL-3.0-or-later
#include "settings.h"

#include <QSettings>

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

} // namespace attn::app
