// SPDX-License-Identifier: GPL-3.0-or-later
// The hand-over from the engine's thread to a gRPC call: layer results wait for room, nothing else does.
#include "event_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

using namespace attn;
using attn::server::AnalysisEvent;
using attn::server::EventQueue;

namespace {

LayerResult layer(int64_t index)
{
    LayerResult out;
    out.layer = index;
    return out;
}

TEST(EventQueue, ALayerWaitsForRoomAndEventsKeepTheirOrder)
{
    auto queue = std::make_shared<EventQueue>(2);
    AnalysisSink sink = EventQueue::sinkFor(queue);
    std::atomic<int> pushed {0};
    std::thread engine([&] {
        AnalysisStart start;
        start.requestId = 7;
        start.layersTotal = 3;
        sink.started(start);
        for (int64_t i = 0; i < 3; ++i) {
            sink.layer(layer(i));
            ++pushed;
        }
        AnalysisSummary summary;
        summary.requestId = 7;
        sink.finished(summary);
        ++pushed;
    });
    // started + two layers fit (capacity counts every queued event), the third layer waits.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    EXPECT_LT(pushed.load(), 3);
    std::vector<std::string> order;
    for (;;) {
        auto event = queue->pop(std::chrono::milliseconds(2000));
        ASSERT_TRUE(event.has_value());
        if (std::holds_alternative<AnalysisStart>(*event))
            order.push_back("started");
        else if (const auto* l = std::get_if<LayerResult>(&*event))
            order.push_back("layer" + std::to_string(l->layer));
        else if (std::holds_alternative<AnalysisSummary>(*event)) {
            order.push_back("finished");
            break;
        }
    }
    engine.join();
    EXPECT_EQ(order, (std::vector<std::string> {"started", "layer0", "layer1", "layer2", "finished"}));
}

TEST(EventQueue, AbandonReleasesAWaitingEngine)
{
    auto queue = std::make_shared<EventQueue>(1);
    AnalysisSink sink = EventQueue::sinkFor(queue);
    std::thread engine([&] {
        for (int64_t i = 0; i < 5; ++i)
            sink.layer(layer(i));
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    queue->abandon();
    engine.join(); // would hang if a layer still waited for room
    EXPECT_FALSE(queue->pop(std::chrono::milliseconds(10)).has_value());
}

} // namespace
