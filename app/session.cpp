// SPDX-License-Identifier: GPL-3.0-or-later
#include "session.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

namespace attn::app {

namespace {
const QString kFormat = QStringLiteral("attnscope-session");
constexpr int kVersion = 1;
} // namespace

QByteArray sessionToJson(const SessionState& s)
{
    QJsonObject colors {{QStringLiteral("scale"), s.colors.scale == ColorScaleType::Log ? "log" : "linear"},
        {QStringLiteral("shared_range"), s.colors.sharedRange},
        {QStringLiteral("percentile_clamp"), s.colors.percentileClamp},
        {QStringLiteral("sequential"), static_cast<int>(s.colors.sequential)},
        {QStringLiteral("diverging"), static_cast<int>(s.colors.diverging)}};
    QJsonObject root {{QStringLiteral("format"), kFormat}, {QStringLiteral("version"), kVersion},
        {QStringLiteral("models"), QJsonArray::fromStringList(s.models)}, {QStringLiteral("prompt"), s.prompt},
        {QStringLiteral("layer"), s.layer}, {QStringLiteral("head"), s.head},
        {QStringLiteral("span"), QJsonArray {static_cast<double>(s.spanBegin), static_cast<double>(s.spanEnd)}},
        {QStringLiteral("colors"), colors}, {QStringLiteral("device"), s.device}, {QStringLiteral("dtype"), s.dtype},
        {QStringLiteral("compare_tab"), s.compareTab}};
    return QJsonDocument(root).toJson();
}

std::optional<SessionState> sessionFromJson(const QByteArray& json, QString* error)
{
    auto fail = [error](const QString& message) -> std::optional<SessionState> {
        if (error)
            *error = message;
        return std::nullopt;
    };
    QJsonParseError parseError;
    const QJsonDocument doc = QJsonDocument::fromJson(json, &parseError);
    if (doc.isNull())
        return fail(
            QStringLiteral("not valid JSON: %1 (at byte %2)").arg(parseError.errorString()).arg(parseError.offset));
    const QJsonObject root = doc.object();
    if (root.value(QStringLiteral("format")).toString() != kFormat)
        return fail(QStringLiteral("not an attnscope session (\"format\" must be \"%1\")").arg(kFormat));
    if (root.value(QStringLiteral("version")).toInt(-1) != kVersion)
        return fail(QStringLiteral("unsupported session version %1 (this attnscope reads version %2)")
                        .arg(root.value(QStringLiteral("version")).toVariant().toString())
                        .arg(kVersion));
    SessionState s;
    for (const QJsonValue& model : root.value(QStringLiteral("models")).toArray()) {
        if (!model.isString())
            return fail(QStringLiteral("\"models\" must be a list of model directories"));
        s.models << model.toString();
    }
    s.prompt = root.value(QStringLiteral("prompt")).toString();
    s.layer = root.value(QStringLiteral("layer")).toInt(0);
    s.head = root.value(QStringLiteral("head")).toInt(0);
    if (s.layer < 0 || s.head < 0)
        return fail(QStringLiteral("\"layer\" and \"head\" must not be negative"));
    const QJsonArray span = root.value(QStringLiteral("span")).toArray();
    if (span.size() == 2) {
        s.spanBegin = static_cast<qint64>(span[0].toDouble(-1));
        s.spanEnd = static_cast<qint64>(span[1].toDouble(-1));
        if (s.spanBegin >= 0 && s.spanEnd <= s.spanBegin)
            return fail(QStringLiteral("\"span\" must be [begin, end) with end > begin"));
    }
    const QJsonObject colors = root.value(QStringLiteral("colors")).toObject();
    s.colors.scale = colors.value(QStringLiteral("scale")).toString() == QStringLiteral("log") ? ColorScaleType::Log
                                                                                               : ColorScaleType::Linear;
    s.colors.sharedRange = colors.value(QStringLiteral("shared_range")).toBool(false);
    s.colors.percentileClamp = colors.value(QStringLiteral("percentile_clamp")).toDouble(100.0);
    if (!(s.colors.percentileClamp >= 50.0 && s.colors.percentileClamp <= 100.0))
        return fail(QStringLiteral("\"colors.percentile_clamp\" must be between 50 and 100"));
    const int sequential = colors.value(QStringLiteral("sequential")).toInt(0);
    if (sequential < 0 || sequential > static_cast<int>(GradientChoice::Grays))
        return fail(QStringLiteral("\"colors.sequential\" is not a known gradient"));
    s.colors.sequential = static_cast<GradientChoice>(sequential);
    s.colors.diverging = GradientChoice::BlueWhiteRed;
    s.device = root.value(QStringLiteral("device")).toString(QStringLiteral("auto"));
    s.dtype = root.value(QStringLiteral("dtype")).toString(QStringLiteral("fp32"));
    s.compareTab = root.value(QStringLiteral("compare_tab")).toBool(false);
    return s;
}

} // namespace attn::app
