// SPDX-License-Identifier: GPL-3.0-or-later
// The main() of every app QtTest: headless (offscreen unless the caller chose a platform) and a fixed 96 dpi,
// so pixel maths is the same on every machine (Hotspot's testutils.h pattern).
#pragma once

#include <QApplication>
#include <QTest>

#define ATTNSCOPE_APP_TEST_MAIN(TestClass)                                                                             \
    int main(int argc, char** argv)                                                                                    \
    {                                                                                                                  \
        if (!qEnvironmentVariableIsSet("QT_QPA_PLATFORM"))                                                             \
            qputenv("QT_QPA_PLATFORM", "offscreen");                                                                   \
        QCoreApplication::setAttribute(Qt::AA_Use96Dpi);                                                               \
        QApplication app(argc, argv);                                                                                  \
        TestClass test;                                                                                                \
        return QTest::qExec(&test, argc, argv);                                                                        \
    }
