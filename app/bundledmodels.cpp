// SPDX-License-Identifier: GPL-3.0-or-later
#include "bundledmodels.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>

#include <algorithm>

namespace attn::app {

QStringList bundledModels()
{
    QStringList roots;
    if (qEnvironmentVariableIsSet("ATTNSCOPE_MODELS"))
        roots << qEnvironmentVariable("ATTNSCOPE_MODELS");
    roots << QDir(QCoreApplication::applicationDirPath()).filePath(QStringLiteral("../share/attnscope/models"))
          << QStringLiteral(ATTNSCOPE_SOURCE_DIR "/resources/models");
    for (const QString& root : roots) {
        QStringList found;
        for (const QString& name : QDir(root).entryList(QDir::Dirs | QDir::NoDotAndDotDot, QDir::Name))
            if (QFileInfo::exists(QDir(root).filePath(name + QStringLiteral("/config.json"))))
                found << QDir(root).filePath(name);
        std::stable_partition(found.begin(), found.end(),
            [](const QString& p) { return p.endsWith(QStringLiteral("counting-softmax-cope")); });
        if (!found.isEmpty())
            return found;
    }
    return {};
}

QString bundledModel(const QString& name)
{
    for (const QString& path : bundledModels())
        if (QFileInfo(path).fileName() == name)
            return path;
    return {};
}

} // namespace attn::app
