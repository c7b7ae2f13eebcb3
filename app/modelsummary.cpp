// SPDX-License-Identifier: GPL-3.0-or-later
#include "modelsummary.h"

#include <QCoreApplication>
#include <QLocale>

namespace attn::app {

namespace {

// What an importer read from a Hugging Face folder or a checkpoint (model_type, rope, the checkpoint's cfg, ...).
QString importedSummary(const ModelInfo& info)
{
    QString text;
    for (const auto& [field, value] : info.description)
        text += QStringLiteral("<br><i>%1</i>: %2").arg(field.toHtmlEscaped(), value.toHtmlEscaped());
    return text;
}

// Where a remote model lives, and whether it can still be asked.
QString remoteSummary(const ModelInfo& info)
{
    if (info.server.isEmpty())
        return QString();
    if (!info.connected && !info.disconnectedWhy.isEmpty())
        return QObject::tr(
            "<br><span style=\"color:#c0392b\"><b>disconnected</b>: %1 (File → Reconnect to Server)</span>")
            .arg(info.disconnectedWhy.toHtmlEscaped());
    return info.connected
        ? QObject::tr("<br>on the attnscope-server at %1").arg(info.server.toHtmlEscaped())
        : QObject::tr("<br><span style=\"color:#c0392b\"><b>disconnected</b>: %1 went away (File → Reconnect to "
                      "Server)</span>")
              .arg(info.server.toHtmlEscaped());
}

} // namespace

QString modelSummaryHtml(const ModelInfo& info)
{
    const ModelConfig& c = info.config;
    return QStringLiteral("<b>%1</b><br>%2 attention, %3 positions<br>%4 layers × %5 heads (kv %6), d_model %7, "
                          "head_dim %8<br>%9 parameters<br>max_seq_len %10<br>%11, %12")
               .arg(info.name.toHtmlEscaped(), QString::fromStdString(toString(c.attention)),
                   QString::fromStdString(toString(c.position)))
               .arg(c.nLayers)
               .arg(c.nHeads)
               .arg(c.nKvHeads)
               .arg(c.dModel)
               .arg(c.headDim)
               .arg(QLocale().toString(info.parameters))
               .arg(c.maxSeqLen)
               .arg(info.device, info.dtype)
        + remoteSummary(info) + importedSummary(info);
}

} // namespace attn::app
