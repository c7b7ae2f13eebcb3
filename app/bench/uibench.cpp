// SPDX-License-Identifier: GPL-3.0-or-later
// attnscope-uibench MODEL_DIR [TOKENS]: what a user feels, measured headless. Time from Run to pixels, time to
// switch heads, and the longest gap between 1 ms UI-timer ticks while runs are in flight (a UI stall).
// A benchmark, not a test: it prints medians and exits 0.
#include "heatmappanel.h"
#include "mainwindow.h"

#include <QApplication>
#include <QElapsedTimer>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTimer>

#include <algorithm>
#include <cstdio>
#include <vector>

namespace {

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
}

} // namespace

int main(int argc, char** argv)
{
    if (!qEnvironmentVariableIsSet("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    QApplication app(argc, argv);
    if (argc < 2) {
        std::fprintf(stderr, "usage: attnscope-uibench MODEL_DIR [TOKENS]\n");
        return 2;
    }
    const int tokens = argc > 2 ? std::atoi(argv[2]) : 512;
    attn::app::MainWindow window;
    window.resize(1500, 950);
    window.show();
    QString prompt;
    while (prompt.size() < tokens - 1) // byte tokenizer: BOS + one token per ASCII byte
        prompt += QStringLiteral("The quick brown fox jumps over the lazy dog. ");
    window.setPrompt(prompt.left(tokens - 1));

    // UI stall probe: the largest gap between consecutive ticks of a 1 ms timer on the UI thread.
    QElapsedTimer clock;
    clock.start();
    qint64 lastTick = 0, worstGap = 0;
    QTimer probe;
    QObject::connect(&probe, &QTimer::timeout, [&] {
        const qint64 now = clock.nsecsElapsed();
        if (lastTick)
            worstGap = std::max(worstGap, now - lastTick);
        lastTick = now;
    });

    QSignalSpy shown(&window, &attn::app::MainWindow::mapsShown);
    window.openModel(QString::fromLocal8Bit(argv[1]));
    if (!shown.wait(120000)) {
        std::fprintf(stderr, "the model did not load or run\n");
        return 1;
    }
    probe.start(1);
    auto* head = window.findChild<QSpinBox*>(QStringLiteral("headSpin"));
    std::vector<double> runMs, switchMs;
    for (int i = 0; i < 7; ++i) {
        QElapsedTimer t;
        t.start();
        window.runNow();
        shown.wait(120000);
        QCoreApplication::processEvents(); // let the queued replots paint before stopping the clock
        runMs.push_back(t.nsecsElapsed() / 1e6);
        t.restart();
        head->setValue((head->value() + 1) % (head->maximum() + 1));
        shown.wait(120000);
        QCoreApplication::processEvents();
        switchMs.push_back(t.nsecsElapsed() / 1e6);
    }
    std::printf("tokens %d, panels %zu\n", tokens, window.panels().size());
    std::printf("run to pixels     median %.1f ms (min %.1f, max %.1f)\n", median(runMs),
        *std::min_element(runMs.begin(), runMs.end()), *std::max_element(runMs.begin(), runMs.end()));
    std::printf("switch head       median %.1f ms (min %.1f, max %.1f)\n", median(switchMs),
        *std::min_element(switchMs.begin(), switchMs.end()), *std::max_element(switchMs.begin(), switchMs.end()));
    std::printf("longest UI stall  %.1f ms (gap between 1 ms timer ticks, runs in flight)\n", worstGap / 1e6);
    return 0;
}
