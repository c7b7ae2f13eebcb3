// SPDX-License-Identifier: GPL-3.0-or-later
// Session files: round trip and the errors a person sees for a broken file.
#include "session.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTest>

using namespace attn::app;

class TestSession : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void roundTrip()
    {
        SessionState s;
        s.models = {QStringLiteral("/m/a"), QStringLiteral("/m/b c")};
        s.prompt = QStringLiteral("Alice was tired.\nShe \"tried\" reading.");
        s.layer = 3;
        s.head = 1;
        s.spanBegin = 4;
        s.spanEnd = 9;
        s.colors.scale = ColorScaleType::Log;
        s.colors.sharedRange = true;
        s.colors.percentileClamp = 99.5;
        s.colors.sequential = GradientChoice::Magma;
        s.device = QStringLiteral("cuda:0");
        s.dtype = QStringLiteral("bf16");
        s.compareTab = true;
        QString error;
        const auto back = sessionFromJson(sessionToJson(s), &error);
        QVERIFY2(back.has_value(), qPrintable(error));
        QCOMPARE(back->models, s.models);
        QCOMPARE(back->prompt, s.prompt);
        QCOMPARE(back->layer, 3);
        QCOMPARE(back->head, 1);
        QCOMPARE(back->spanBegin, qint64(4));
        QCOMPARE(back->spanEnd, qint64(9));
        QCOMPARE(back->colors.scale, ColorScaleType::Log);
        QVERIFY(back->colors.sharedRange);
        QCOMPARE(back->colors.percentileClamp, 99.5);
        QCOMPARE(back->colors.sequential, GradientChoice::Magma);
        QCOMPARE(back->device, QStringLiteral("cuda:0"));
        QCOMPARE(back->dtype, QStringLiteral("bf16"));
        QVERIFY(back->compareTab);
    }

    void remoteModelsRecordTheirServer()
    {
        SessionState s;
        s.models = {QStringLiteral("/m/local"), QStringLiteral("/srv/models/big")};
        s.servers = {QString(), QStringLiteral("127.0.0.1:50051")};
        s.serverDevices = {QString(), QStringLiteral("cuda:1")};
        s.serverDtypes = {QString(), QStringLiteral("bf16")};
        const QByteArray json = sessionToJson(s);
        const QJsonArray models = QJsonDocument::fromJson(json).object().value(QStringLiteral("models")).toArray();
        QCOMPARE(models[0].toString(), s.models[0]); // a local model stays a plain path: older sessions read the same
        QCOMPARE(models[1].toObject().value(QStringLiteral("server")).toString(), s.servers[1]);
        QString error;
        const auto back = sessionFromJson(json, &error);
        QVERIFY2(back.has_value(), qPrintable(error));
        QCOMPARE(back->models, s.models);
        QCOMPARE(back->servers, s.servers);
        QCOMPARE(back->serverDevices, s.serverDevices);
        QCOMPARE(back->serverDtypes, s.serverDtypes);
    }

    void errors_data()
    {
        QTest::addColumn<QByteArray>("json");
        QTest::addColumn<QString>("needle");
        QTest::newRow("not json") << QByteArray("{oops") << "not valid JSON";
        QTest::newRow("other file") << QByteArray(R"({"format": "x", "version": 1})") << "not an attnscope session";
        QTest::newRow("future version") << QByteArray(R"({"format": "attnscope-session", "version": 2})")
                                        << "unsupported session version 2";
        QTest::newRow("bad models") << QByteArray(R"({"format": "attnscope-session", "version": 1, "models": [3]})")
                                    << "\"models\"";
        QTest::newRow("remote model without a path")
            << QByteArray(R"({"format": "attnscope-session", "version": 1, "models": [{"server": "h:1"}]})")
            << "needs \"path\"";
        QTest::newRow("remote model with a bad server") << QByteArray(
            R"({"format": "attnscope-session", "version": 1, "models": [{"path": "/m", "server": "nohost"}]})")
                                                        << "\"server\" of /m must be HOST:PORT";
        QTest::newRow("bad span") << QByteArray(R"({"format": "attnscope-session", "version": 1, "span": [5, 2]})")
                                  << "\"span\"";
        // Issue 15, defect 7: a span index beyond qint64 (or not an integer) was cast from double: undefined.
        QTest::newRow("span beyond int64")
            << QByteArray(R"({"format": "attnscope-session", "version": 1, "span": [1e300, 2e300]})")
            << "\"span\" must be two token indices";
        QTest::newRow("span below -1") << QByteArray(
            R"({"format": "attnscope-session", "version": 1, "span": [-1e300, 5]})")
                                       << "\"span\" must be two token indices";
        QTest::newRow("span fraction") << QByteArray(
            R"({"format": "attnscope-session", "version": 1, "span": [1.5, 3]})")
                                       << "\"span\" must be two token indices";
        // Issue 15, defect 8: a 1 MB one-line prompt froze the prompt editor's layout for minutes.
        QTest::newRow("1 MB one-line prompt")
            << (QByteArray("{\"format\": \"attnscope-session\", \"version\": 1, \"prompt\": \"")
                   + QByteArray(1 << 20, 'a') + QByteArray("\"}"))
            << "\"prompt\" is 1048576 characters; a session holds at most";
        QTest::newRow("one line too long")
            << (QByteArray("{\"format\": \"attnscope-session\", \"version\": 1, \"prompt\": \"short\\n")
                   + QByteArray(kMaxSessionLineChars + 1, 'a') + QByteArray("\"}"))
            << "\"prompt\" has a line of 32769 characters";
        QTest::newRow("too many models") << (QByteArray(
                                                 "{\"format\": \"attnscope-session\", \"version\": 1, \"models\": [")
            + QByteArray("\"/m\",").repeated(kMaxSessionModels) + QByteArray("\"/m\"]}"))
                                         << "\"models\" lists 65 models";
        QTest::newRow("bad clamp") << QByteArray(
            R"({"format": "attnscope-session", "version": 1, "colors": {"percentile_clamp": 7}})")
                                   << "percentile_clamp";
    }

    void longPromptsWithinTheBoundsLoad()
    {
        // The bounds leave long-context prompts alone: many lines, each up to the line bound.
        SessionState s;
        const QString line(kMaxSessionLineChars, QLatin1Char('w'));
        for (int i = 0; i < 8; ++i)
            s.prompt += line + QLatin1Char('\n');
        QString error;
        const auto back = sessionFromJson(sessionToJson(s), &error);
        QVERIFY2(back.has_value(), qPrintable(error));
        QCOMPARE(back->prompt, s.prompt);
    }

    void errors()
    {
        QFETCH(QByteArray, json);
        QFETCH(QString, needle);
        QString error;
        QVERIFY(!sessionFromJson(json, &error).has_value());
        QVERIFY2(error.contains(needle), qPrintable(error));
    }
};

QTEST_GUILESS_MAIN(TestSession)
#include "tst_session.moc"
