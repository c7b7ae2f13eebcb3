// SPDX-License-Identifier: GPL-3.0-or-later
// Messages from a peer that does not play by the rules, in both directions: the server's request checks
// (request_checks.h) on numbers a client may send, and the client's conversion of a server's replies. Each case is
// one that tests/fuzz/fuzz_wire.cpp can reach; most were found or sharpened by it.
#include "request_checks.h"
#include "wire_convert.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

using namespace attn;

namespace {

constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

AnalysisRequest mapsOf(int64_t tokens, MapRegion region)
{
    AnalysisRequest r;
    r.tokens.assign(static_cast<size_t>(tokens), 1);
    r.heads = {{0, 0}};
    r.kinds = {MapKind::A};
    r.region = region;
    return r;
}

TEST(UntrustedWire, MapSizesOfExtremeRegionsAreClippedToThePromptNotOverflowed)
{
    // A window from INT64_MIN to INT64_MAX: the old estimate subtracted first (signed overflow, undefined).
    EXPECT_EQ(server::cellsPerMap(MapRegion::window(kMin, kMax, kMin, kMax), 10), 100);
    EXPECT_EQ(server::cellsPerMap(MapRegion::window(kMax, kMin, 0, 5), 10), 0);
    EXPECT_EQ(server::cellsPerMap(MapRegion::window(2, 5, 3, 9), 10), 18);
    // An overview size near INT64_MAX: the old estimate added it to n first.
    MapRegion overview;
    overview.mode = MapRegion::Mode::Overview;
    overview.overviewSize = kMax;
    EXPECT_EQ(server::cellsPerMap(overview, 10), 100);
    overview.overviewSize = 4;
    EXPECT_EQ(server::cellsPerMap(overview, 10), 16);
    overview.overviewSize = kMin;
    EXPECT_EQ(server::cellsPerMap(overview, 10), 1);
    EXPECT_EQ(server::cellsPerMap(MapRegion::full(), 3), 9);
    // Bytes saturate instead of wrapping to a small number that would pass the message limit.
    AnalysisRequest huge = mapsOf(0, MapRegion::full());
    huge.thumbnailSize = kMax;
    EXPECT_EQ(server::largestMapBytes(huge, 4), 4096);
    EXPECT_EQ(server::largestMapBytes(mapsOf(8, MapRegion::full()), 4), 8 * 8 * 4 + 4096);
}

TEST(UntrustedWire, RequestChecksSayWhatIsRefused)
{
    const int64_t limit = int64_t(1) << 20;
    EXPECT_TRUE(server::checkAnalyzeRequest(mapsOf(100, MapRegion::full()), 4, limit));

    const Status full = server::checkAnalyzeRequest(mapsOf(kMaxFullMapTokens + 1, MapRegion::full()), 4, kMax);
    ASSERT_FALSE(full);
    EXPECT_EQ(full.code(), StatusCode::Invalid);
    EXPECT_NE(full.message().find("full maps stop at 8192 tokens"), std::string::npos) << full.message();

    const Status big = server::checkAnalyzeRequest(mapsOf(1000, MapRegion::full()), 4, limit);
    ASSERT_FALSE(big);
    EXPECT_EQ(big.code(), StatusCode::OutOfMemory);
    EXPECT_NE(big.message().find("above this server's message limit of 1 MiB"), std::string::npos) << big.message();
    EXPECT_TRUE(server::checkAnalyzeRequest(mapsOf(400, MapRegion::full()), 2, limit)) << "float16 halves the bytes";

    AnalysisRequest thumbs = mapsOf(10, MapRegion::full());
    thumbs.thumbnailSize = -1;
    const Status negative = server::checkAnalyzeRequest(thumbs, 4, limit);
    ASSERT_FALSE(negative);
    EXPECT_NE(negative.message().find("thumbnail_size"), std::string::npos) << negative.message();
    thumbs.thumbnailSize = 0;
    thumbs.queryTile = -5;
    EXPECT_NE(server::checkAnalyzeRequest(thumbs, 4, limit).message().find("query_tile"), std::string::npos);
}

TEST(UntrustedWire, UnknownValueTypesAreRefused)
{
    v1::AnalyzeRequest request;
    request.set_value_type(static_cast<v1::ValueType>(7));
    auto parsed = remote::fromWire(request);
    ASSERT_FALSE(parsed);
    EXPECT_NE(parsed.message().find("unknown value type 7"), std::string::npos) << parsed.message();

    v1::AttentionMap map;
    map.set_kind("A");
    map.set_rows(1);
    map.set_cols(1);
    map.set_row_block(1);
    map.set_col_block(1);
    map.set_values(std::string(4, '\0'));
    ASSERT_TRUE(remote::fromWire(map));
    map.set_value_type(static_cast<v1::ValueType>(3));
    auto refused = remote::fromWire(map);
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.message().find("unknown value type 3"), std::string::npos) << refused.message();
}

TEST(UntrustedWire, MapsWhoseGeometryCannotIndexTokensAreRefused)
{
    v1::AttentionMap good;
    good.set_kind("A");
    good.set_layer(1);
    good.set_rows(2);
    good.set_cols(2);
    good.set_row_block(1);
    good.set_col_block(1);
    good.set_values(std::string(16, '\0'));
    ASSERT_TRUE(remote::fromWire(good));
    const auto refuse = [&](auto edit, const char* why) {
        v1::AttentionMap bad = good;
        edit(bad);
        auto parsed = remote::fromWire(bad);
        ASSERT_FALSE(parsed) << why;
        EXPECT_NE(parsed.message().find("L"), std::string::npos) << parsed.message();
    };
    refuse([](v1::AttentionMap& m) { m.set_row_block(0); }, "a block of no tokens");
    refuse([](v1::AttentionMap& m) { m.set_col_block(-3); }, "a negative block");
    refuse([](v1::AttentionMap& m) { m.set_row_begin(-1); }, "a negative first query");
    refuse([](v1::AttentionMap& m) { m.set_col_begin(-1); }, "a negative first key");
    refuse([](v1::AttentionMap& m) { m.set_layer(-1); }, "a negative layer");
    refuse([](v1::AttentionMap& m) { m.set_head(-2); }, "a negative head");
}

TEST(UntrustedWire, AMapOfNoCellsIsEmptyNotUndefined)
{
    // Found by fuzz_wire: 0 x N cells with no value bytes copied from a null buffer (UBSan); the input is kept in
    // tests/fuzz/seeds/wire/ so every fuzz run replays it.
    for (v1::ValueType type : {v1::FLOAT32, v1::FLOAT16}) {
        v1::AttentionMap map;
        map.set_kind("A");
        map.set_rows(0);
        map.set_cols(3);
        map.set_row_block(1);
        map.set_col_block(1);
        map.set_value_type(type);
        auto parsed = remote::fromWire(map);
        ASSERT_TRUE(parsed) << parsed.message();
        EXPECT_EQ(parsed->rows, 0);
        EXPECT_TRUE(parsed->values.empty());
    }
}

TEST(UntrustedWire, TokensWithoutTheirLabelsAreRefused)
{
    v1::Started started;
    started.add_tokens(1);
    started.add_tokens(2);
    started.add_token_display("a");
    auto start = remote::fromWire(started);
    ASSERT_FALSE(start);
    EXPECT_NE(start.message().find("2 tokens but 1 token labels"), std::string::npos) << start.message();
    started.add_token_display("b");
    EXPECT_TRUE(remote::fromWire(started));

    v1::Summary summary;
    summary.add_token_display("a");
    auto parsed = remote::fromWire(summary);
    ASSERT_FALSE(parsed);
    EXPECT_NE(parsed.message().find("0 tokens but 1 token labels"), std::string::npos) << parsed.message();
}

TEST(UntrustedWire, ADeeplyNestedConfigIsRefusedBeforeAnythingRecursesOverIt)
{
    // 100 000 nested arrays inside an otherwise valid object: dump() of it would recurse that deep.
    const std::string deep
        = "{\"tokenizer\": {\"type\": \"bytes\"}, \"x\": " + std::string(100000, '[') + std::string(100000, ']') + "}";
    auto config = remote::parseWireConfig(deep);
    ASSERT_FALSE(config);
    EXPECT_NE(config.message().find("the model config"), std::string::npos) << config.message();
    EXPECT_NE(config.message().find("deep"), std::string::npos) << config.message();
}

TEST(UntrustedWire, AConfigWhoseTokenizerFieldsHaveTheWrongTypesIsRefusedNotThrown)
{
    // Found by fuzz_wire: json::value("add_bos", false) threw on a number and the exception ended the client.
    for (const char* tokenizer : {R"({"type": "bytes", "add_bos": 1e308})", R"({"type": 5})", R"({"type": null})"}) {
        const std::string json = std::string(R"({"format": "attnscope-model", "tokenizer": )") + tokenizer + "}";
        auto config = remote::parseWireConfig(json);
        ASSERT_FALSE(config) << json;
        EXPECT_NE(config.message().find("tokenizer"), std::string::npos) << config.message();
    }
}

} // namespace
