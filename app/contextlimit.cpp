// SPDX-License-Identifier: GPL-3.0-or-later
#include "contextlimit.h"

#include "engine.h"

#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLocale>

namespace attn::app {

namespace {

QString tr(const char* text)
{
    return QCoreApplication::translate("ContextLimit", text);
}

QString count(int64_t n)
{
    return QLocale().toString(static_cast<qlonglong>(n));
}

/// max_seq_len of the config the model was trained with (attnscope's trainer writes it to train.json); 0 if absent.
int64_t trainedSeqLen(const QString& modelPath)
{
    const QFileInfo where(modelPath);
    QFile file(
        QDir(where.isDir() ? where.absoluteFilePath() : where.absolutePath()).filePath(QStringLiteral("train.json")));
    if (!file.open(QIODevice::ReadOnly))
        return 0;
    const QJsonValue value = QJsonDocument::fromJson(file.readAll())
                                 .object()
                                 .value(QStringLiteral("config"))
                                 .toObject()
                                 .value(QStringLiteral("max_seq_len"));
    return value.isDouble() && value.toDouble() > 0 ? static_cast<int64_t>(value.toDouble()) : 0;
}

} // namespace

ContextLimit contextLimit(const ModelInfo& info)
{
    ContextLimit limit;
    limit.allowed = info.config.maxSeqLen;
    const bool huggingFace = info.format == QLatin1String("huggingface");
    if (huggingFace && info.config.hasRope() && info.config.rope.scaling.maxPositions > 0) {
        limit.trained = info.config.rope.scaling.maxPositions;
        limit.trainedSource = tr("max_position_embeddings in config.json");
    } else if (const int64_t trained = info.server.isEmpty() ? trainedSeqLen(info.path) : 0; trained > 0) {
        limit.trained = trained;
        limit.trainedSource = tr("max_seq_len in train.json");
    }
    if (huggingFace && limit.extends())
        limit.allowedSource = tr("attnscope's cap for RoPE models, which have no position table to run out of; "
                                 "memory permitting");
    else if (huggingFace)
        limit.allowedSource = tr("config.json");
    else if (info.format == QLatin1String("pytorch"))
        limit.allowedSource = tr("the checkpoint's block size");
    else
        limit.allowedSource = tr("max_seq_len in config.json");
    return limit;
}

QString tokenCountText(int64_t tokens, const ContextLimit& limit)
{
    // Short: the label shares its row with the buttons and spin boxes at 1280 px; the tooltip explains.
    if (!limit.extends())
        return tr("%1 tokens (max %2)").arg(count(tokens), count(limit.allowed));
    return tr("%1 tokens (max %2, trained ≤ %3)").arg(count(tokens), count(limit.allowed), count(limit.trained));
}

QString tokenCountDetails(int64_t tokens, const ContextLimit& limit)
{
    QString text = tr("%1 tokens in the prompt.\nAccepts up to %2 tokens (%3).")
                       .arg(count(tokens), count(limit.allowed), limit.allowedSource);
    if (limit.trained > 0)
        text += tr("\nTrained on prompts of up to %1 tokens (%2).").arg(count(limit.trained), limit.trainedSource);
    if (limit.extends())
        text += tr("\nRoPE has no position table, so longer prompts run; beyond %1 tokens the maps show how the "
                   "model extrapolates, not what it learned.")
                    .arg(count(limit.trained));
    return text;
}

} // namespace attn::app
