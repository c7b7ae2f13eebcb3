// SPDX-License-Identifier: GPL-3.0-or-later
// The server's leases (--idle-unload) on a clock the test moves: who is idle, for how long, what is unloaded.
#include "lease_table.h"

#include <gtest/gtest.h>

#include <chrono>

using attn::server::LeaseTable;
using std::chrono::seconds;

namespace {

class LeaseTableTest : public ::testing::Test {
protected:
    std::chrono::steady_clock::time_point now = std::chrono::steady_clock::time_point() + std::chrono::hours(1);
    LeaseTable::Clock clock = [this] { return now; };
};

TEST_F(LeaseTableTest, AnOwnerIdleForTheLimitLosesItsModelsAndNoOneElseDoes)
{
    LeaseTable leases(seconds(300), clock);
    leases.addModel(1, "client a", "/models/a");
    leases.addModel(2, "client a", "/models/a2");
    leases.addModel(3, "client b", "/models/b");
    now += seconds(200);
    leases.touch("client b");
    now += seconds(99); // a: 299 s idle
    EXPECT_TRUE(leases.expire().empty());
    now += seconds(1); // a: 300 s, b: 100 s
    const auto expired = leases.expire();
    ASSERT_EQ(expired.size(), 2u);
    EXPECT_EQ(expired[0].modelId, 1);
    EXPECT_EQ(expired[0].owner, "client a");
    EXPECT_EQ(expired[0].path, "/models/a");
    EXPECT_EQ(expired[0].idleSeconds, 300);
    EXPECT_EQ(expired[1].modelId, 2);
    EXPECT_TRUE(leases.expire().empty()) << "a model is handed out once";
    now += seconds(199); // b: 299 s
    EXPECT_TRUE(leases.expire().empty());
    now += seconds(1);
    const auto second = leases.expire();
    ASSERT_EQ(second.size(), 1u);
    EXPECT_EQ(second[0].modelId, 3);
    EXPECT_EQ(second[0].owner, "client b");
}

TEST_F(LeaseTableTest, EveryCallRenewsTheLease)
{
    LeaseTable leases(seconds(10), clock);
    leases.addModel(7, "client a", "/m");
    for (int i = 0; i < 100; ++i) { // 900 s in all, never 10 s without a call
        now += seconds(9);
        leases.touch("client a");
        ASSERT_TRUE(leases.expire().empty()) << i;
    }
    now += seconds(10);
    ASSERT_EQ(leases.expire().size(), 1u);
}

TEST_F(LeaseTableTest, ARunningCallKeepsItsOwnerAliveAndTheIdleTimeCountsFromItsEnd)
{
    LeaseTable leases(seconds(10), clock);
    leases.addModel(1, "client a", "/m");
    {
        const LeaseTable::Call call(leases, "client a");
        now += seconds(3600); // an hour-long run
        EXPECT_TRUE(leases.expire().empty());
        {
            const LeaseTable::Call nested(leases, "client a"); // a second call of the same client ends first
            now += seconds(60);
        }
        EXPECT_TRUE(leases.expire().empty()) << "one of its calls still runs";
    }
    now += seconds(9);
    EXPECT_TRUE(leases.expire().empty()) << "9 s after its run ended";
    now += seconds(1);
    const auto expired = leases.expire();
    ASSERT_EQ(expired.size(), 1u);
    EXPECT_EQ(expired[0].idleSeconds, 10);
}

TEST_F(LeaseTableTest, AnotherOwnersCallsDoNotKeepAModel)
{
    LeaseTable leases(seconds(10), clock);
    leases.addModel(1, "client a", "/m");
    const LeaseTable::Call call(leases, "client b");
    now += seconds(5);
    leases.touch("peer ipv4:127.0.0.1:5000");
    now += seconds(5);
    ASSERT_EQ(leases.expire().size(), 1u);
}

TEST_F(LeaseTableTest, AnUnloadedModelIsNotExpiredAndExpiredOnesAreRemembered)
{
    LeaseTable leases(seconds(10), clock);
    leases.addModel(1, "client a", "/one");
    leases.addModel(2, "client a", "/two");
    leases.forget(1); // its owner unloaded it
    now += seconds(42);
    const auto expired = leases.expire();
    ASSERT_EQ(expired.size(), 1u);
    EXPECT_EQ(expired[0].modelId, 2);
    EXPECT_FALSE(leases.expired(1)) << "unloaded by its owner, not for idleness";
    const auto two = leases.expired(2);
    ASSERT_TRUE(two);
    EXPECT_EQ(two->path, "/two");
    EXPECT_EQ(two->idleSeconds, 42);
    EXPECT_FALSE(leases.expired(3));
}

TEST_F(LeaseTableTest, TheMemoryOfExpiredModelsIsBounded)
{
    LeaseTable leases(seconds(1), clock);
    const int n = static_cast<int>(LeaseTable::kRememberedExpiries) + 5;
    for (int id = 1; id <= n; ++id)
        leases.addModel(id, "client " + std::to_string(id), "/m");
    now += seconds(1);
    EXPECT_EQ(static_cast<int>(leases.expire().size()), n);
    for (int id = 1; id <= 5; ++id)
        EXPECT_FALSE(leases.expired(id)) << id << ": the oldest are forgotten";
    for (int id = 6; id <= n; ++id)
        ASSERT_TRUE(leases.expired(id)) << id;
}

TEST_F(LeaseTableTest, ZeroMeansNever)
{
    LeaseTable leases(seconds(0), clock);
    EXPECT_FALSE(leases.enabled());
    leases.addModel(1, "client a", "/m");
    now += std::chrono::hours(24 * 365);
    EXPECT_TRUE(leases.expire().empty());
}

} // namespace
