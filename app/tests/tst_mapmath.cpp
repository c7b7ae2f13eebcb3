// SPDX-License-Identifier: GPL-3.0-or-later
// The heatmap's coordinate and colour-range maths, tested without a widget (Hotspot's tst_timelinedelegate style).
#include "mapmath.h"

#include <QTest>

#include <cmath>
#include <limits>

using namespace attn::app;

namespace {
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
}

class TestMapMath : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void rowFlip_data()
    {
        QTest::addColumn<int>("row");
        QTest::addColumn<int>("rows");
        QTest::addColumn<int>("cellY");
        QTest::newRow("first token at top") << 0 << 5 << 4;
        QTest::newRow("last token at bottom") << 4 << 5 << 0;
        QTest::newRow("middle") << 2 << 5 << 2;
        QTest::newRow("single row") << 0 << 1 << 0;
        QTest::newRow("even count") << 1 << 4 << 2;
        QTest::newRow("negative row") << -1 << 5 << -1;
        QTest::newRow("row past end") << 5 << 5 << -1;
    }
    void rowFlip()
    {
        QFETCH(int, row);
        QFETCH(int, rows);
        QFETCH(int, cellY);
        QCOMPARE(cellYForRow(row, rows), cellY);
        if (cellY >= 0)
            QCOMPARE(rowForCellY(cellY, rows), row); // round trip
    }

    void roundTripAll()
    {
        for (int rows = 1; rows <= 33; ++rows) {
            for (int row = 0; row < rows; ++row) {
                const int y = cellYForRow(row, rows);
                QVERIFY(y >= 0 && y < rows);
                QCOMPARE(rowForCellY(y, rows), row);
            }
        }
    }

    void tokenAtEdges_data()
    {
        QTest::addColumn<double>("coordinate");
        QTest::addColumn<int>("count");
        QTest::addColumn<int>("token");
        QTest::newRow("-0.5 is the left edge of cell 0") << -0.5 << 7 << 0;
        QTest::newRow("just left of cell 0") << -0.500001 << 7 << -1;
        QTest::newRow("0") << 0.0 << 7 << 0;
        QTest::newRow("0.49") << 0.49 << 7 << 0;
        QTest::newRow("0.5 belongs to cell 1") << 0.5 << 7 << 1;
        QTest::newRow("count-0.5 is outside") << 6.5 << 7 << -1;
        QTest::newRow("just inside last") << 6.49 << 7 << 6;
        QTest::newRow("count") << 7.0 << 7 << -1;
        QTest::newRow("empty") << 0.0 << 0 << -1;
        QTest::newRow("nan") << std::nan("") << 7 << -1;
    }
    void tokenAtEdges()
    {
        QFETCH(double, coordinate);
        QFETCH(int, count);
        QFETCH(int, token);
        QCOMPARE(tokenAt(coordinate, count), token);
    }

    void queryRow_data()
    {
        QTest::addColumn<double>("value");
        QTest::addColumn<int>("rows");
        QTest::addColumn<int>("row");
        QTest::newRow("top cell is row 0") << 4.0 << 5 << 0;
        QTest::newRow("top edge") << 4.49 << 5 << 0;
        QTest::newRow("above top") << 4.5 << 5 << -1;
        QTest::newRow("bottom cell is last row") << 0.0 << 5 << 4;
        QTest::newRow("bottom edge") << -0.5 << 5 << 4;
        QTest::newRow("below bottom") << -0.6 << 5 << -1;
        QTest::newRow("between") << 2.6 << 5 << 1;
    }
    void queryRow()
    {
        QFETCH(double, value);
        QFETCH(int, rows);
        QFETCH(int, row);
        QCOMPARE(queryRowAt(value, rows), row);
    }

    void colorRanges_data()
    {
        QTest::addColumn<std::vector<float>>("values");
        QTest::addColumn<bool>("isSigned");
        QTest::addColumn<int>("scale");
        QTest::addColumn<double>("clamp");
        QTest::addColumn<double>("low");
        QTest::addColumn<double>("high");
        const int lin = int(ColorScaleType::Linear);
        const int log = int(ColorScaleType::Log);
        QTest::newRow("sequential starts at 0")
            << std::vector<float> {0.25f, 0.5f, 1.0f} << false << lin << 100.0 << 0.0 << 1.0;
        QTest::newRow("sequential negative min")
            << std::vector<float> {-2.0f, 1.0f, 3.0f} << false << lin << 100.0 << -2.0 << 3.0;
        QTest::newRow("sequential ignores NaN")
            << std::vector<float> {kNaN, 0.5f, kNaN, 0.75f} << false << lin << 100.0 << 0.0 << 0.75;
        QTest::newRow("signed symmetric")
            << std::vector<float> {-0.5f, 2.0f, 1.0f} << true << lin << 100.0 << -2.0 << 2.0;
        QTest::newRow("signed from negative side")
            << std::vector<float> {-3.0f, 1.0f, kNaN} << true << lin << 100.0 << -3.0 << 3.0;
        QTest::newRow("signed ignores log") << std::vector<float> {-1.0f, 0.5f} << true << log << 100.0 << -1.0 << 1.0;
        QTest::newRow("signed all zero") << std::vector<float> {0.0f, 0.0f} << true << lin << 100.0 << -1e-6 << 1e-6;
        // 0..100 (101 values): the 50th percentile is exactly 50.
        std::vector<float> ramp;
        for (int i = 0; i <= 100; ++i)
            ramp.push_back(float(i));
        QTest::newRow("percentile clamp") << ramp << false << lin << 50.0 << 0.0 << 50.0;
        QTest::newRow("percentile interpolates") << ramp << false << lin << 99.5 << 0.0 << 99.5;
        std::vector<float> signedRamp;
        for (int i = -100; i <= 100; ++i)
            signedRamp.push_back(float(i));
        QTest::newRow("signed percentile") << signedRamp << true << lin << 50.0 << -50.0 << 50.0;
        QTest::newRow("log smallest positive")
            << std::vector<float> {0.0f, 0.001f, 0.5f, 1.0f} << false << log << 100.0 << 0.001 << 1.0;
        QTest::newRow("log floor 1e-6 of high")
            << std::vector<float> {1e-9f, 2.0f} << false << log << 100.0 << 2e-6 << 2.0;
        QTest::newRow("log nothing positive")
            << std::vector<float> {0.0f, 0.0f} << false << log << 100.0 << 1e-12 << 1e-6;
        QTest::newRow("NaN only") << std::vector<float> {kNaN, kNaN} << false << lin << 100.0 << 0.0 << 1.0;
        QTest::newRow("NaN only signed") << std::vector<float> {kNaN} << true << lin << 100.0 << 0.0 << 1.0;
        QTest::newRow("empty") << std::vector<float> {} << false << lin << 100.0 << 0.0 << 1.0;
        QTest::newRow("all equal positive")
            << std::vector<float> {0.3f, 0.3f} << false << lin << 100.0 << 0.0 << double(0.3f);
        QTest::newRow("all equal zero") << std::vector<float> {0.0f, 0.0f, 0.0f} << false << lin << 100.0 << 0.0
                                        << 1e-6;
        QTest::newRow("all equal negative")
            << std::vector<float> {-4.0f, -4.0f} << false << lin << 100.0 << -4.0 << -4.0 + 4e-6;
        QTest::newRow("infinities ignored") << std::vector<float> {-std::numeric_limits<float>::infinity(), 0.5f}
                                            << false << lin << 100.0 << 0.0 << 0.5;
    }
    void colorRanges()
    {
        QFETCH(std::vector<float>, values);
        QFETCH(bool, isSigned);
        QFETCH(int, scale);
        QFETCH(double, clamp);
        QFETCH(double, low);
        QFETCH(double, high);
        ColorOptions options;
        options.scale = ColorScaleType(scale);
        options.percentileClamp = clamp;
        const auto range = colorRange(values, isSigned, options);
        const auto close = [](double a, double b) { return std::abs(a - b) <= 1e-9 * std::max(1.0, std::abs(b)); };
        QVERIFY2(close(range.first, low), qPrintable(QStringLiteral("low %1, expected %2").arg(range.first).arg(low)));
        QVERIFY2(
            close(range.second, high), qPrintable(QStringLiteral("high %1, expected %2").arg(range.second).arg(high)));
        QVERIFY(range.second > range.first);
        if (options.scale == ColorScaleType::Log && !isSigned)
            QVERIFY(range.first > 0.0);
    }

    void percentileBasics()
    {
        QVERIFY(std::isnan(percentile({kNaN}, 50.0)));
        QCOMPARE(percentile({3.0f, 1.0f, 2.0f}, 0.0), 1.0);
        QCOMPARE(percentile({3.0f, 1.0f, 2.0f}, 100.0), 3.0);
        QCOMPARE(percentile({4.0f, 1.0f, kNaN, 2.0f, 3.0f}, 50.0), 2.5);
    }

    void tickStep_data()
    {
        QTest::addColumn<double>("visible");
        QTest::addColumn<int>("target");
        QTest::addColumn<int>("step");
        QTest::newRow("fewer tokens than ticks") << 5.0 << 10 << 1;
        QTest::newRow("exact") << 10.0 << 10 << 1;
        QTest::newRow("just over -> 2") << 11.0 << 10 << 2;
        QTest::newRow("3 -> 5") << 25.0 << 10 << 5;
        QTest::newRow("6 -> 10") << 60.0 << 10 << 10;
        QTest::newRow("11 -> 20") << 110.0 << 10 << 20;
        QTest::newRow("21 -> 50") << 210.0 << 10 << 50;
        QTest::newRow("4096 over 8") << 4096.0 << 8 << 1000;
        QTest::newRow("zero target") << 5.0 << 0 << 5;
        QTest::newRow("zero visible") << 0.0 << 10 << 1;
        QTest::newRow("negative visible") << -3.0 << 10 << 1;
    }
    void tickStep()
    {
        QFETCH(double, visible);
        QFETCH(int, target);
        QFETCH(int, step);
        QCOMPARE(tokenTickStep(visible, target), step);
    }

    void tokenLabelTicksKeepEndsAndDistance()
    {
        // Every range and step: first always, last whenever it is a step away, ticks ascending and at least a step
        // apart, and no room for one more label left unused between two ticks (gaps below 2 steps except the last).
        for (int first = 0; first < 6; ++first) {
            for (int last = first - 1; last < first + 40; ++last) {
                for (int step = 1; step < 9; ++step) {
                    const std::vector<int> ticks = tokenLabelTicks(first, last, step);
                    const QString where = QStringLiteral("[%1, %2] step %3").arg(first).arg(last).arg(step);
                    if (last < first) {
                        QVERIFY2(ticks.empty(), qPrintable(where));
                        continue;
                    }
                    QVERIFY2(!ticks.empty() && ticks.front() == first, qPrintable(where));
                    QCOMPARE(ticks.back() == last, last - first >= step || last == first);
                    for (size_t i = 1; i < ticks.size(); ++i) {
                        QVERIFY2(ticks[i] - ticks[i - 1] >= step, qPrintable(where));
                        if (i + 1 < ticks.size())
                            QVERIFY2(ticks[i] - ticks[i - 1] == step, qPrintable(where));
                    }
                }
            }
        }
        QCOMPARE(tokenLabelStep(13.6, 16.0), 2); // 22 tokens in 300 px, 16 px labels
        QCOMPARE(tokenLabelStep(20.0, 16.0), 1);
        QCOMPARE(tokenLabelStep(0.0, 16.0), 1);
    }

    void elide_data()
    {
        QTest::addColumn<QByteArray>("label");
        QTest::addColumn<int>("maxChars");
        QTest::addColumn<QByteArray>("expected");
        QTest::newRow("short ascii unchanged") << QByteArray("hello") << 12 << QByteArray("hello");
        QTest::newRow("exact fit") << QByteArray("abcd") << 4 << QByteArray("abcd");
        QTest::newRow("ascii elided") << QByteArray("abcdefgh") << 5 << QByteArray("abcd\xE2\x80\xA6");
        // "ééééé": 5 characters, 10 bytes; fits in 5 characters although it is 10 bytes.
        QTest::newRow("two-byte fits") << QByteArray("\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9") << 5
                                       << QByteArray("\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9");
        QTest::newRow("two-byte elided") << QByteArray("\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9") << 3
                                         << QByteArray("\xC3\xA9\xC3\xA9\xE2\x80\xA6");
        // "日本語テキスト" (3-byte each) and an emoji (4 bytes).
        QTest::newRow("cjk elided") << QByteArray("\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x83\x86") << 3
                                    << QByteArray("\xE6\x97\xA5\xE6\x9C\xAC\xE2\x80\xA6");
        QTest::newRow("emoji kept whole") << QByteArray("a\xF0\x9F\x98\x80"
                                                        "bcd")
                                          << 3 << QByteArray("a\xF0\x9F\x98\x80\xE2\x80\xA6");
        QTest::newRow("max 1") << QByteArray("abc") << 1 << QByteArray("\xE2\x80\xA6");
        QTest::newRow("max 0") << QByteArray("abc") << 0 << QByteArray();
        QTest::newRow("empty") << QByteArray() << 3 << QByteArray();
    }
    void elide()
    {
        QFETCH(QByteArray, label);
        QFETCH(int, maxChars);
        QFETCH(QByteArray, expected);
        const std::string result = elideLabel(label.toStdString(), std::size_t(maxChars));
        QCOMPARE(QByteArray::fromStdString(result), expected);
        // Never splits a sequence: the result decodes to valid UTF-8 (round trip through QString is lossless).
        QCOMPARE(QString::fromUtf8(result.c_str()).toUtf8(), QByteArray::fromStdString(result));
    }
};

QTEST_APPLESS_MAIN(TestMapMath)
#include "tst_mapmath.moc"
