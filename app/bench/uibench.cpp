// SPDX-License-Identifier: GPL-3.0-or-later
// attnscope-uibench MODEL_DIR [CHARS [ROUNDS]]: what a user feels, measured headless. Time from Run to pixels on a new
// prompt (the whole model, with every head's metrics and thumbnails); time to switch heads within the shown layer, to
// the next head (Next Head: computed ahead while the user looked at the last map) and to a far one (a click in the
// overview grid: computed on demand), and to the next layer (the engine keeps the prompt's state); the longest gap between 1 ms UI-timer ticks while runs are
// in flight (a UI stall), and the process's peak resident memory. With ATTNSCOPE_UIBENCH_EVENTS=1 it also lists the
// longest single event deliveries on the UI thread (receiver class, event type), to say where a stall comes from.
// The prompt is the model's sample_prompt.txt repeated to CHARS characters (a word-level model's vocabulary knows its
// words), or English text for a model without one. A benchmark, not a test: it prints medians and exits 0.
#include "attnscope/model.h"
#include "engine.h"
#include "heatmappanel.h"
#include "mainwindow.h"

#include <QApplication>
#include <QElapsedTimer>
#include <QFile>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTimer>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <functional>
#include <vector>

namespace {

constexpr int kSwitches = 9; ///< timed switches of each kind per round
constexpr int kLookMs = 300; ///< the pause before each switch

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
}

void report(const char* what, const std::vector<double>& ms)
{
    std::printf("%-18s median %.1f ms (min %.1f, max %.1f, n %zu)\n", what, median(ms),
        *std::min_element(ms.begin(), ms.end()), *std::max_element(ms.begin(), ms.end()), ms.size());
}

/// VmHWM of /proc/self/status in MiB (Linux), -1 elsewhere.
double peakRssMiB()
{
    QFile status(QStringLiteral("/proc/self/status"));
    if (!status.open(QIODevice::ReadOnly))
        return -1;
    for (const QByteArray& line : status.readAll().split('\n'))
        if (line.startsWith("VmHWM:"))
            return line.mid(6).trimmed().split(' ').first().toDouble() / 1024.0;
    return -1;
}

double threadCpuMs()
{
    timespec t {};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
}

/// Times every top-level event delivery on the UI thread, keeping the longest few with what received them.
class TimingApplication : public QApplication {
public:
    using QApplication::QApplication;
    struct Slow {
        double ms;
        double cpuMs; ///< the UI thread's own CPU time: what the event costs, apart from waiting for a core
        QByteArray receiver;
        int type;
    };
    bool timing = false;
    std::vector<Slow> slowest;

    bool notify(QObject* receiver, QEvent* event) override
    {
        if (!timing || depth > 0)
            return QApplication::notify(receiver, event);
        ++depth;
        QElapsedTimer t;
        t.start();
        const double cpu0 = threadCpuMs();
        const int type = event->type(); // read before delivery: the receiver may delete the event
        const QByteArray name = receiver->metaObject()->className();
        const bool result = QApplication::notify(receiver, event);
        --depth;
        const double ms = t.nsecsElapsed() / 1e6;
        if (ms > 5.0) {
            slowest.push_back({ms, threadCpuMs() - cpu0, name, type});
            std::sort(slowest.begin(), slowest.end(), [](const Slow& a, const Slow& b) { return a.ms > b.ms; });
            if (slowest.size() > 12)
                slowest.pop_back();
        }
        return result;
    }

private:
    int depth = 0;
};

/// CHARS characters of the model's sample prompt repeated, or of an English sentence; whole words only.
QString benchPrompt(const QString& modelDir, int chars)
{
    QFile sample(modelDir + QStringLiteral("/sample_prompt.txt"));
    QString unit = QStringLiteral("The quick brown fox jumps over the lazy dog.");
    if (sample.open(QIODevice::ReadOnly)) {
        const QString text = QString::fromUtf8(sample.readAll()).simplified();
        if (!text.isEmpty())
            unit = text;
    }
    QString prompt = unit;
    while (prompt.size() < chars)
        prompt += QLatin1Char(' ') + unit;
    const int cut = prompt.lastIndexOf(QLatin1Char(' '), chars);
    return cut > 0 ? prompt.left(cut) : prompt.left(chars);
}

/// The prompt of round `round`: the first `round` words left out, so each round's prompt is new to the engine and its
/// words stay the model's own.
QString roundPrompt(const QString& prompt, int round)
{
    QStringList words = prompt.split(QLatin1Char(' '));
    words = words.mid(std::min<qsizetype>(round, words.size() - 1));
    return words.join(QLatin1Char(' '));
}

} // namespace

int main(int argc, char** argv)
{
    if (!qEnvironmentVariableIsSet("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    TimingApplication app(argc, argv);
    attn::configureCpuThreads(/*coresKeptFree=*/1); // as the app (main.cpp)
    if (argc < 2) {
        std::fprintf(stderr, "usage: attnscope-uibench MODEL_DIR [CHARS [ROUNDS]]\n");
        return 2;
    }
    const int chars = argc > 2 ? std::max(1, std::atoi(argv[2])) : 2100;
    const int rounds = argc > 3 ? std::max(1, std::atoi(argv[3])) : 3; // new prompts; each followed by switches
    attn::app::MainWindow window;
    window.resize(1500, 950);
    window.show();
    const QString prompt = benchPrompt(QString::fromLocal8Bit(argv[1]), chars);
    window.setPrompt(prompt);

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
    if (!shown.wait(600000)) {
        std::fprintf(stderr, "the model did not load or run\n");
        return 1;
    }
    probe.start(1);
    app.timing = qEnvironmentVariableIsSet("ATTNSCOPE_UIBENCH_EVENTS");
    auto* head = window.findChild<QSpinBox*>(QStringLiteral("headSpin"));
    auto* layer = window.findChild<QSpinBox*>(QStringLiteral("layerSpin"));
    auto timed = [&](const std::function<void()>& action) {
        QElapsedTimer t;
        t.start();
        action();
        shown.wait(600000);
        QCoreApplication::processEvents(); // let the queued replots paint before stopping the clock
        return t.nsecsElapsed() / 1e6;
    };
    std::vector<double> runMs, headMs, jumpMs, layerMs, engineMs, jumpEngineMs;
    // The engine's own time for each switch (Model::analyze), to tell it from drawing.
    double lastEngineMs = 0;
    size_t tokens = 0;
    QObject::connect(&window.engine(), &attn::app::Engine::runFinished, [&](const attn::app::RunOutput& output) {
        lastEngineMs = output.seconds * 1e3;
        tokens = output.capture.tokens.size();
    });
    auto nextHead = [&] { head->setValue((head->value() + 1) % (head->maximum() + 1)); };
    auto nextLayer = [&] { layer->setValue((layer->value() + 1) % (layer->maximum() + 1)); };
    // A click on a far thumbnail of the overview grid: no navigation key leads there, so nothing was computed ahead.
    auto jumpHead = [&] { head->setValue((head->value() + (head->maximum() + 1) / 2 + 1) % (head->maximum() + 1)); };
    // A user looks at a map before the next switch; the engine computes ahead meanwhile (not timed).
    auto look = [] {
        QElapsedTimer t;
        t.start();
        while (t.elapsed() < kLookMs)
            QCoreApplication::processEvents(QEventLoop::AllEvents, 5);
    };
    auto startProbe = [&] {
        lastTick = 0; // a gap while the probe was off is no stall
        probe.start(1);
    };
    for (int i = 0; i < rounds; ++i) {
        // A new prompt each time (its first words left out): the whole model runs again, the probe watching.
        runMs.push_back(timed([&] {
            window.setPrompt(roundPrompt(prompt, i + 1));
            window.runNow();
        }));
        // The switches are timed with the probe off: its thousand wake-ups a second preempt the engine's BLAS
        // threads on a 2-core machine (their spin-waits then cost up to 20 ms a switch), which no user has. The same
        // switches then run again with the probe on, for the stall.
        probe.stop();
        for (int j = 0; j < kSwitches; ++j) {
            look();
            headMs.push_back(timed(nextHead));
            engineMs.push_back(lastEngineMs);
        }
        for (int j = 0; j < kSwitches; ++j) {
            look();
            jumpMs.push_back(timed(jumpHead));
            jumpEngineMs.push_back(lastEngineMs);
        }
        for (int j = 0; j < 3; ++j) {
            look();
            layerMs.push_back(timed(nextLayer));
        }
        startProbe();
        for (int j = 0; j < kSwitches; ++j) {
            look();
            timed(nextHead);
            look();
            timed(jumpHead);
        }
        for (int j = 0; j < 3; ++j) {
            look();
            timed(nextLayer);
        }
    }
    std::printf("chars %d, tokens %zu, panels %zu, layers %d, heads %d\n", chars, tokens, window.panels().size(),
        layer->maximum() + 1, head->maximum() + 1);
    report("run to pixels", runMs);
    report("next head", headMs);
    report("  engine", engineMs);
    report("jump to a head", jumpMs);
    report("  engine", jumpEngineMs);
    report("next layer", layerMs);
    std::printf("longest UI stall  %.1f ms (gap between 1 ms timer ticks, runs in flight)\n", worstGap / 1e6);
    std::printf("peak RSS          %.0f MiB\n", peakRssMiB());
    for (const auto& slow : app.slowest) // QEvent::MetaCall (43) is a queued signal, Paint (12), Timer (1)
        std::printf("  UI event %.1f ms (%.1f ms CPU): %s, event type %d\n", slow.ms, slow.cpuMs,
            slow.receiver.constData(), slow.type);
    return 0;
}
