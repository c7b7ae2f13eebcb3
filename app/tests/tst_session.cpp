// SPDX-License-Identifier: GPL-3.0-or-later
// Session files: round trip and the errors a person sees for a broken file.
#include "session.h"

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
        QTest::newRow("bad span") << QByteArray(R"({"format": "attnscope-session", "version": 1, "span": [5, 2]})")
                                  << "\"span\"";
        QTest::newRow("bad clamp") << QByteArray(
            R"({"format": "attnscope-session", "version": 1, "colors": {"percentile_clamp": 7}})")
                                   << "percentile_clamp";
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
