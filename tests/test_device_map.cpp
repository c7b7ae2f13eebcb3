// SPDX-License-Identifier: GPL-3.0-or-later
// The device-map planner and explicit maps (issue 13, several GPUs). The planner's splits are checked against the maps
// transformers itself computes for from_pretrained(device_map="balanced" | "sequential") (tests/data/device-map/,
// written by tests/reference/make_device_map_fixtures.py), and against the properties its rules guarantee
// (contiguous, every cap respected, each device filled until the next part would not fit).
#include "attnscope/device_map.h"
#include "attnscope/fileio.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <string>
#include <vector>

namespace {

using attn::DeviceMap;
using attn::DeviceMapStrategy;
using attn::DeviceSpec;
using attn::ModelFootprint;

constexpr int64_t kMiB = int64_t(1) << 20;

/// A Llama-3-8B-like footprint in bf16: 32 layers of 418 MiB (attention + SwiGLU), 1002 MiB embeddings and head.
ModelFootprint llamaLike(bool tied = false)
{
    ModelFootprint f;
    f.embeddingBytes = 1002 * kMiB;
    f.layerBytes.assign(32, 418 * kMiB);
    f.finalNormBytes = 8192;
    f.headBytes = tied ? 0 : 1002 * kMiB;
    f.tiedHead = tied;
    return f;
}

std::vector<DeviceSpec> devices(const std::string& list)
{
    auto parsed = attn::parseDeviceList(list);
    EXPECT_TRUE(parsed.isOk()) << parsed.message();
    return parsed.isOk() ? *parsed : std::vector<DeviceSpec> {};
}

/// The parts in model order as (bytes, slot), a tied head counted with the embeddings.
std::vector<std::pair<int64_t, size_t>> items(const ModelFootprint& f, const DeviceMap& map)
{
    std::vector<std::pair<int64_t, size_t>> out {{f.embeddingBytes, map.embeddings}};
    for (size_t l = 0; l < f.layerBytes.size(); ++l)
        out.push_back({f.layerBytes[l], map.layers[l]});
    out.push_back({f.finalNormBytes, map.finalNorm});
    if (!f.tiedHead)
        out.push_back({f.headBytes, map.head});
    return out;
}

/// Contiguous (slots never go back), each slot within its cap, and each slot full: the first part of the next used
/// slot would not have fit under this slot's cap (less, on the first GPU, the room kept for the largest part after it).
void expectSequentialFill(const ModelFootprint& f, const DeviceMap& map, const std::vector<int64_t>& caps)
{
    const auto parts = items(f, map);
    std::vector<int64_t> used(map.devices.size(), 0);
    auto largestAfter = [&](size_t i) {
        int64_t largest = 0;
        for (size_t j = i + 1; j < parts.size(); ++j)
            largest = std::max(largest, parts[j].first);
        return largest;
    };
    for (size_t i = 0; i < parts.size(); ++i) {
        if (i > 0) {
            ASSERT_GE(parts[i].second, parts[i - 1].second) << "part " << i << " goes back to an earlier device";
            if (parts[i].second != parts[i - 1].second) {
                const size_t previous = parts[i - 1].second;
                const bool main = previous == 0 || map.devices[previous].type == DeviceSpec::Type::Cpu;
                EXPECT_GT(used[previous] + parts[i].first + (main ? largestAfter(i) : 0), caps[previous])
                    << "part " << i << " would still have fit on slot " << previous;
            }
        }
        used[parts[i].second] += parts[i].first;
    }
    for (size_t s = 0; s < used.size(); ++s) {
        if (caps[s] >= 0) {
            EXPECT_LE(used[s], caps[s]) << "slot " << s;
        }
        EXPECT_EQ(used[s], map.slotBytes[s]) << "slot " << s;
    }
    EXPECT_EQ(map.slotBytes, attn::slotBytes(map, f));
}

TEST(DeviceMap, SplitsAreThoseTransformersComputes)
{
    const auto fixture = nlohmann::json::parse(
        attn::readFile(std::string(ATTNSCOPE_TEST_DATA_DIR) + "/device-map/cases.json").value());
    ASSERT_GE(fixture.at("cases").size(), 10u);
    for (const auto& c : fixture.at("cases")) {
        SCOPED_TRACE(c.at("name").get<std::string>());
        const auto& sizes = c.at("sizes");
        ModelFootprint f;
        f.embeddingBytes = sizes.at("embed_tokens");
        f.layerBytes = sizes.at("layers").get<std::vector<int64_t>>();
        // "other" is rotary_emb's inv_freq buffer, which accelerate places right after the norm; the engine has no such
        // weight, so it rides with the norm here to keep the totals (and the balanced share) equal.
        f.finalNormBytes = sizes.at("norm").get<int64_t>() + sizes.at("other").get<int64_t>();
        f.headBytes = sizes.at("lm_head");
        f.tiedHead = c.at("tied");
        const auto budgets = c.at("budgets").get<std::vector<int64_t>>();
        std::string list;
        for (size_t i = 0; i < budgets.size(); ++i)
            list += (i ? ",cuda:" : "cuda:") + std::to_string(i);
        const auto strategy
            = c.at("strategy") == "balanced" ? DeviceMapStrategy::Balanced : DeviceMapStrategy::Sequential;
        auto map = attn::planDeviceMap(f, devices(list), budgets, strategy);
        ASSERT_TRUE(map.isOk()) << map.message();
        const auto& expected = c.at("devices");
        EXPECT_EQ(map->embeddings, expected.at("embed_tokens").get<size_t>());
        EXPECT_EQ(map->layers, expected.at("layers").get<std::vector<size_t>>());
        EXPECT_EQ(map->finalNorm, expected.at("norm").get<size_t>());
        EXPECT_EQ(map->head, expected.at("lm_head").get<size_t>());
    }
}

TEST(DeviceMap, BalancedSpreadsTheLayersEvenlyAndTheLastDeviceTakesTheRest)
{
    for (const char* list : {"cuda:0,cuda:1", "cuda:0,cuda:1,cuda:2,cuda:3", "cpu,cpu"}) {
        SCOPED_TRACE(list);
        const ModelFootprint f = llamaLike();
        const auto specs = devices(list);
        const std::vector<int64_t> budgets(specs.size(), 80 * 1024 * kMiB);
        auto map = attn::planDeviceMap(f, specs, budgets, DeviceMapStrategy::Balanced);
        ASSERT_TRUE(map.isOk()) << map.message();
        // transformers' cap for all but the last device: an equal share plus 1.25 x the largest part (the embeddings).
        const int64_t n = static_cast<int64_t>(specs.size());
        const int64_t share = f.totalBytes() / n + 1002 * kMiB * 5 / 4;
        std::vector<int64_t> caps(specs.size(), share);
        caps.back() = budgets.back();
        expectSequentialFill(f, *map, caps);
        EXPECT_EQ(map->embeddings, 0u);
        EXPECT_EQ(map->usedSlots().size(), specs.size()) << "every device holds layers";
        EXPECT_EQ(map->finalNorm, specs.size() - 1);
        EXPECT_EQ(map->head, specs.size() - 1);
    }
}

TEST(DeviceMap, SequentialFillsEachDeviceToItsBudgetFirst)
{
    const ModelFootprint f = llamaLike();
    const auto specs = devices("cuda:0,cuda:1,cuda:2");
    const std::vector<int64_t> budgets {5 * 1024 * kMiB, 6 * 1024 * kMiB, 40 * 1024 * kMiB};
    auto map = attn::planDeviceMap(f, specs, budgets, DeviceMapStrategy::Sequential);
    ASSERT_TRUE(map.isOk()) << map.message();
    expectSequentialFill(f, *map, budgets);
    EXPECT_EQ(map->usedSlots().size(), 3u);

    // A first device with room for everything takes everything.
    auto roomy = attn::planDeviceMap(f, specs, {-1, -1, -1}, DeviceMapStrategy::Sequential);
    ASSERT_TRUE(roomy.isOk()) << roomy.message();
    EXPECT_EQ(roomy->usedSlots(), std::vector<size_t> {0});
}

TEST(DeviceMap, ATiedHeadStaysWithTheEmbeddings)
{
    const ModelFootprint f = llamaLike(/*tied=*/true);
    auto map = attn::planDeviceMap(f, devices("cuda:0,cuda:1"), {-1, -1}, DeviceMapStrategy::Balanced);
    ASSERT_TRUE(map.isOk()) << map.message();
    EXPECT_EQ(map->head, map->embeddings);
    EXPECT_EQ(map->finalNorm, 1u);
    EXPECT_TRUE(map->tiedHead);
    expectSequentialFill(f, *map, {f.totalBytes() / 2 + 1002 * kMiB * 5 / 4, -1});
    const std::vector<std::string> lines = map->describe();
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_NE(lines[0].find("head (tied to the embeddings)"), std::string::npos) << lines[0];
}

TEST(DeviceMap, OneDeviceTakesEverythingUnchecked)
{
    const ModelFootprint f = llamaLike();
    auto map = attn::planDeviceMap(f, devices("cuda:0"), {kMiB}, DeviceMapStrategy::Balanced);
    ASSERT_TRUE(map.isOk()) << map.message();
    EXPECT_EQ(map->usedSlots(), std::vector<size_t> {0});
    EXPECT_EQ(map->slotBytes, std::vector<int64_t> {f.totalBytes()});
}

TEST(DeviceMap, AModelThatCannotFitIsRefusedWithTheSizes)
{
    const ModelFootprint f = llamaLike();
    for (DeviceMapStrategy strategy : {DeviceMapStrategy::Balanced, DeviceMapStrategy::Sequential}) {
        auto map = attn::planDeviceMap(f, devices("cuda:0,cuda:1"), {6 * 1024 * kMiB, 7 * 1024 * kMiB}, strategy);
        ASSERT_FALSE(map.isOk());
        const std::string& m = map.message();
        EXPECT_NE(m.find("does not fit"), std::string::npos) << m;
        EXPECT_NE(m.find("cuda:0 has room for 6.0 GiB"), std::string::npos) << m;
        EXPECT_NE(m.find("cuda:1 has room for 7.0 GiB"), std::string::npos) << m;
        EXPECT_NE(m.find("32 layers of up to 418.0 MiB"), std::string::npos) << m;
        EXPECT_NE(m.find("found no room"), std::string::npos) << m;
    }
    // A single layer larger than every device.
    ModelFootprint huge = llamaLike();
    huge.layerBytes[3] = 100 * 1024 * kMiB;
    auto map
        = attn::planDeviceMap(huge, devices("cuda:0,cuda:1"), {-1, 80 * 1024 * kMiB}, DeviceMapStrategy::Sequential);
    EXPECT_TRUE(map.isOk()) << "an unlimited first device takes it";
    map = attn::planDeviceMap(
        huge, devices("cuda:0,cuda:1"), {80 * 1024 * kMiB, 80 * 1024 * kMiB}, DeviceMapStrategy::Sequential);
    ASSERT_FALSE(map.isOk());
    EXPECT_NE(map.message().find("layer 3 (100.0 GiB)"), std::string::npos) << map.message();
}

TEST(DeviceMap, BadDeviceStringsAreNamed)
{
    auto bad = attn::parseDeviceList("cuda:0,gpu1");
    ASSERT_FALSE(bad.isOk());
    EXPECT_NE(bad.message().find("'gpu1'"), std::string::npos) << bad.message();
    auto empty = attn::parseDeviceList("cuda:0,,cuda:1");
    ASSERT_FALSE(empty.isOk());
    EXPECT_NE(empty.message().find("empty entry"), std::string::npos) << empty.message();
    EXPECT_FALSE(attn::parseDeviceList("").isOk());
    EXPECT_FALSE(attn::parseDeviceList("cuda:0,").isOk());
    EXPECT_FALSE(attn::parseDeviceList("cuda:x").isOk());
    auto ok = attn::parseDeviceList("cpu,cuda,cuda:3");
    ASSERT_TRUE(ok.isOk()) << ok.message();
    ASSERT_EQ(ok->size(), 3u);
    EXPECT_EQ((*ok)[2].toString(), "cuda:3");
    EXPECT_FALSE(attn::parseDeviceMapStrategy("greedy").isOk());
}

TEST(DeviceMap, LayerRangesPlaceTheLayersAndTheEndsFollowThem)
{
    auto map = attn::parseDeviceMap("0-0:cpu,1-3:cuda:1", 4, /*tiedHead=*/false);
    ASSERT_TRUE(map.isOk()) << map.message();
    ASSERT_EQ(map->devices.size(), 2u);
    EXPECT_EQ(map->devices[1].toString(), "cuda:1");
    EXPECT_EQ(map->layers, (std::vector<size_t> {0, 1, 1, 1}));
    EXPECT_EQ(map->embeddings, 0u);
    EXPECT_EQ(map->finalNorm, 1u);
    EXPECT_EQ(map->head, 1u);
    auto twice = attn::parseDeviceMap("0-0:cpu,1-3:cpu", 4, false); // one slot per entry, as --devices cpu,cpu
    ASSERT_TRUE(twice.isOk()) << twice.message();
    EXPECT_EQ(twice->usedSlots().size(), 2u);
    auto tied = attn::parseDeviceMap("0-1:cuda:0,2-3:cuda:1", 4, /*tiedHead=*/true);
    ASSERT_TRUE(tied.isOk()) << tied.message();
    EXPECT_EQ(tied->head, tied->embeddings);

    for (const auto& [text, named] : std::vector<std::pair<std::string, std::string>> {
             {"0-1:cuda:0", "layer 2"},
             {"0-2:cuda:0,2-3:cuda:1", "layer 2 is placed twice"},
             {"0-4:cuda:0", "the model has 4 layers"},
             {"0-3:tpu", "unknown device 'tpu'"},
             {"3-1:cpu", "'3-1:cpu'"},
             {"0-3", "'0-3'"},
             {"0-3:", "no device"},
         }) {
        auto refused = attn::parseDeviceMap(text, 4, false);
        ASSERT_FALSE(refused.isOk()) << text;
        EXPECT_NE(refused.message().find(named), std::string::npos) << text << ": " << refused.message();
    }
}

TEST(DeviceMap, AHuggingFaceDeviceMapObjectIsAccepted)
{
    // The shape from_pretrained(device_map=...) takes and model.hf_device_map reports.
    nlohmann::json hf {{"model.embed_tokens", 0}, {"model.rotary_emb", 0}, {"model.norm", 1}, {"lm_head", "cuda:1"}};
    for (int l = 0; l < 4; ++l)
        hf["model.layers." + std::to_string(l)] = l < 1 ? 0 : 1;
    auto map = attn::parseDeviceMap(hf.dump(), 4, false);
    ASSERT_TRUE(map.isOk()) << map.message();
    EXPECT_EQ(map->layers, (std::vector<size_t> {0, 1, 1, 1}));
    EXPECT_EQ(map->devices[map->head].toString(), "cuda:1");
    // Its own JSON reads back as the same map.
    auto again = attn::parseDeviceMap(map->toJson(), 4, false);
    ASSERT_TRUE(again.isOk()) << again.message();
    EXPECT_EQ(again->layers, map->layers);
    EXPECT_EQ(again->head, map->head);
    auto whole = attn::parseDeviceMap(R"({"": "cpu"})", 4, false);
    ASSERT_TRUE(whole.isOk()) << whole.message();
    EXPECT_EQ(whole->usedSlots().size(), 1u);

    for (const auto& [text, named] : std::vector<std::pair<std::string, std::string>> {
             {R"({"model.embed_tokens": 0, "model.layers.0": 0, "model.norm": 0, "lm_head": 0})", "layers.1"},
             {R"({"": 0, "model.layers.9": 1})", "the model has 4 layers"},
             {R"({"": 0, "model.layers.2": "disk"})", "offloading is not supported"},
             {R"({"": 0, "vision_tower": 1})", "\"vision_tower\""},
             {R"({"": [0]})", "expected a GPU index or a device string"},
             {R"([0, 1])", "JSON object"},
             {R"({"": 0)", "not valid JSON"},
         }) {
        auto refused = attn::parseDeviceMap(text, 4, false);
        ASSERT_FALSE(refused.isOk()) << text;
        EXPECT_NE(refused.message().find(named), std::string::npos) << text << ": " << refused.message();
    }
}

TEST(DeviceMap, DescribeListsEachDeviceWithItsPartsAndBytes)
{
    const ModelFootprint f = llamaLike();
    auto map = attn::planDeviceMap(f, devices("cuda:0,cuda:1"), {-1, -1}, DeviceMapStrategy::Balanced);
    ASSERT_TRUE(map.isOk()) << map.message();
    const std::vector<std::string> lines = map->describe();
    ASSERT_EQ(lines.size(), 2u);
    const size_t split
        = static_cast<size_t>(std::find(map->layers.begin(), map->layers.end(), 1u) - map->layers.begin());
    EXPECT_EQ(lines[0].rfind("cuda:0  embeddings, layers 0-" + std::to_string(split - 1) + " (", 0), 0u) << lines[0];
    EXPECT_EQ(lines[1].rfind("cuda:1  layers " + std::to_string(split) + "-31, final norm, head (", 0), 0u) << lines[1];
}

} // namespace
