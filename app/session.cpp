// SPDX-License-Identifier: GPL-3.0-or-later
#include "session.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

namespace attn::app {

namespace {
const QString kFormat = QStringLiteral("attnscope-session");
constexpr int kVersion = 1;

// A span index read as a double: only an integer in [-1, 2^53] converts to qint64 exactly (anything else,
// 1e300 or NaN, would be undefined behaviour to cast). -2 marks "not such a number".
qint64 spanIndex(const QJsonValue& value)
{
    const double number = value.toDouble(-2);
    if (!(number >= -1.0 && number <= 9007199254740992.0) || number != static_cast<double>(static_cast<qint64>(number)))
        return -2;
    return static_cast<qint64>(number);
}
} // namespace

QByteArray sessionToJson(const SessionState& s)
{
    QJsonObject colors {{QStringLiteral("scale"), s.colors.scale == ColorScaleType::Log ? "log" : "linear"},
        {QStringLiteral("shared_range"), s.colors.sharedRange},
        {QStringLiteral("percentile_clamp"), s.colors.percentileClamp},
        {QStringLiteral("sequential"), static_cast<int>(s.colors.sequential)},
        {QStringLiteral("diverging"), static_cast<int>(s.colors.diverging)}};
    QJsonArray models;
    for (qsizetype i = 0; i < s.models.size(); ++i) {
        const QString server = i < s.servers.size() ? s.servers[i] : QString();
        if (server.isEmpty())
            models.append(s.models[i]); // a local model stays a plain path, as before remote models existed
        else
            models.append(QJsonObject {{QStringLiteral("path"), s.models[i]}, {QStringLiteral("server"), server},
                {QStringLiteral("device"), s.serverDevices.value(i)},
                {QStringLiteral("dtype"), s.serverDtypes.value(i)}});
    }
    QJsonObject root {{QStringLiteral("format"), kFormat}, {QStringLiteral("version"), kVersion},
        {QStringLiteral("models"), models}, {QStringLiteral("prompt"), s.prompt}, {QStringLiteral("layer"), s.layer},
        {QStringLiteral("head"), s.head},
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
    if (json.size() > kMaxSessionBytes)
        return fail(QStringLiteral("the file is %1 bytes; a session file holds at most %2")
                        .arg(json.size())
                        .arg(kMaxSessionBytes));
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
    const QJsonArray models = root.value(QStringLiteral("models")).toArray();
    if (models.size() > kMaxSessionModels)
        return fail(QStringLiteral("\"models\" lists %1 models; a session holds at most %2")
                        .arg(models.size())
                        .arg(kMaxSessionModels));
    for (const QJsonValue& model : models) {
        if (model.isObject()) {
            const QJsonValue path = model.toObject().value(QStringLiteral("path"));
            const QJsonValue server = model.toObject().value(QStringLiteral("server"));
            if (!path.isString() || path.toString().isEmpty() || path.toString().size() > kMaxSessionTextChars)
                return fail(QStringLiteral("\"models\": a remote model needs \"path\", its path on the server"));
            if (!server.isString() || !server.toString().contains(QLatin1Char(':'))
                || server.toString().size() > kMaxSessionServerChars)
                return fail(QStringLiteral("\"models\": \"server\" of %1 must be HOST:PORT").arg(path.toString()));
            const QString device = model.toObject().value(QStringLiteral("device")).toString();
            const QString dtype = model.toObject().value(QStringLiteral("dtype")).toString();
            if (device.size() > 64 || dtype.size() > 64)
                return fail(QStringLiteral("\"models\": \"device\" and \"dtype\" of %1 must be short names")
                                .arg(path.toString()));
            s.models << path.toString();
            s.servers << server.toString();
            s.serverDevices << device;
            s.serverDtypes << dtype;
            continue;
        }
        if (!model.isString() || model.toString().size() > kMaxSessionTextChars)
            return fail(QStringLiteral("\"models\" must be a list of model directories"));
        s.models << model.toString();
        s.servers << QString();
        s.serverDevices << QString();
        s.serverDtypes << QString();
    }
    s.prompt = root.value(QStringLiteral("prompt")).toString();
    // Laying out one huge line freezes the prompt editor for minutes; refuse it here, with the reason.
    if (s.prompt.size() > kMaxSessionPromptChars)
        return fail(QStringLiteral("\"prompt\" is %1 characters; a session holds at most %2")
                        .arg(s.prompt.size())
                        .arg(kMaxSessionPromptChars));
    qsizetype lineStart = 0;
    while (lineStart <= s.prompt.size()) {
        qsizetype lineEnd = s.prompt.indexOf(QLatin1Char('\n'), lineStart);
        if (lineEnd < 0)
            lineEnd = s.prompt.size();
        if (lineEnd - lineStart > kMaxSessionLineChars)
            return fail(QStringLiteral("\"prompt\" has a line of %1 characters; a session holds lines of at most %2")
                            .arg(lineEnd - lineStart)
                            .arg(kMaxSessionLineChars));
        lineStart = lineEnd + 1;
    }
    s.layer = root.value(QStringLiteral("layer")).toInt(0);
    s.head = root.value(QStringLiteral("head")).toInt(0);
    if (s.layer < 0 || s.head < 0)
        return fail(QStringLiteral("\"layer\" and \"head\" must not be negative"));
    const QJsonArray span = root.value(QStringLiteral("span")).toArray();
    if (span.size() == 2) {
        s.spanBegin = spanIndex(span[0]);
        s.spanEnd = spanIndex(span[1]);
        if (s.spanBegin < -1 || s.spanEnd < -1)
            return fail(QStringLiteral("\"span\" must be two token indices (integers from -1 up)"));
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
    if (s.device.size() > 64 || s.dtype.size() > 64)
        return fail(QStringLiteral("\"device\" and \"dtype\" must be short names (e.g. \"cuda:0\", \"bf16\")"));
    s.compareTab = root.value(QStringLiteral("compare_tab")).toBool(false);
    return s;
}

} // namespace attn::app
