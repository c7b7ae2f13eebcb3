// SPDX-License-Identifier: GPL-3.0-or-later
//
// The engine against golden maps from an independent implementation.
//
// Every directory under tests/data/reference is a tiny model in our format plus expected/, written by
// tests/reference/make_fixtures.py from a float64 Python/PyTorch reference that was built from the
// specs alone (see tests/data/reference/README.md). Each fixture is its own test case: load it, capture
// every (layer, head) and every map kind the config has, and compare with the expected .npy files
// (same NaN pattern, max abs error 1e-5), lambda (1e-6) and the last position's logits (1e-4).

#include "attnscope/config.h"
#include "attnscope/maps.h"
#include "attnscope/model.h"
#include "attnscope/npy.h"
#include "test_helpers.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

constexpr double kMapTolerance = 1e-5;
constexpr double kLambdaTolerance = 1e-6;
constexpr double kLogitsTolerance = 1e-4;

std::string referenceDir()
{
    return std::string(ATTNSCOPE_TEST_DATA_DIR) + "/reference";
}

/// Sorted names of the fixture directories (those with a config.json); empty when there are none.
std::vector<std::string> fixtureNames()
{
    std::vector<std::string> names;
    std::error_code ec;
    if (!fs::is_directory(referenceDir(), ec))
        return names;
    for (const auto& entry : fs::directory_iterator(referenceDir(), ec)) {
        if (entry.is_directory() && fs::exists(entry.path() / "config.json"))
            names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
}

std::string readText(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

struct Expected {
    std::vector<int64_t> tokens;
    std::vector<double> lambda;
};

Expected readExpected(const std::string& dir)
{
    const nlohmann::json j = nlohmann::json::parse(readText(dir + "/expected/tokens.json"));
    Expected e;
    e.tokens = j.at("tokens").get<std::vector<int64_t>>();
    e.lambda = j.at("lambda").get<std::vector<double>>();
    return e;
}

std::string npyName(int64_t layer, int64_t head, attn::MapKind kind)
{
    return attn::test::mapFileName(layer, head, kind);
}

/// Compares one captured map with its expected array. Empty string when they match, else a message
/// naming the first NaN-pattern mismatch or the worst cell.
std::string compareMap(const attn::AttentionMap& got, const attn::NpyArray& want, int64_t T)
{
    std::ostringstream msg;
    if (want.shape != std::vector<int64_t> {T, T}) {
        msg << "expected .npy is not [" << T << ", " << T << "]";
        return msg.str();
    }
    if (got.rows != T || got.cols != T || static_cast<int64_t>(got.values.size()) != T * T) {
        msg << "captured map is " << got.rows << "x" << got.cols << " (" << got.values.size() << " values), expected "
            << T << "x" << T;
        return msg.str();
    }
    double worst = -1.0;
    int64_t worstRow = -1;
    int64_t worstCol = -1;
    for (int64_t r = 0; r < T; ++r) {
        for (int64_t c = 0; c < T; ++c) {
            const float g = got.at(r, c);
            const float w = want.values[static_cast<size_t>(r * T + c)];
            if (std::isnan(g) != std::isnan(w)) {
                msg << "NaN pattern differs at row " << r << ", col " << c << ": got " << g << ", expected " << w;
                return msg.str();
            }
            if (std::isnan(w))
                continue;
            const double err = std::fabs(static_cast<double>(g) - static_cast<double>(w));
            if (!(err <= worst)) { // also catches an infinite got
                worst = err;
                worstRow = r;
                worstCol = c;
            }
        }
    }
    if (worst > kMapTolerance) {
        msg.precision(9);
        msg << "max abs error " << worst << " > " << kMapTolerance << " at row " << worstRow << ", col " << worstCol
            << ": got " << got.at(worstRow, worstCol) << ", expected "
            << want.values[static_cast<size_t>(worstRow * T + worstCol)];
        return msg.str();
    }
    return {};
}

/// Loads the fixture on the device, captures everything and compares it with expected/.
void checkFixture(const std::string& name, const std::string& device)
{
    const std::string dir = referenceDir() + "/" + name;
    const Expected expected = readExpected(dir);
    const auto T = static_cast<int64_t>(expected.tokens.size());

    auto deviceSpec = attn::DeviceSpec::parse(device);
    ASSERT_TRUE(deviceSpec.isOk()) << deviceSpec.message();
    attn::LoadOptions options;
    options.device = deviceSpec.value();
    options.dtype = attn::ComputeDType::F32;
    auto loaded = attn::Model::load(dir, options);
    ASSERT_TRUE(loaded.isOk()) << name << ": " << loaded.message();
    attn::Model& model = *loaded.value();
    const attn::ModelConfig& config = model.config();

    attn::CaptureRequest request;
    request.tokens = expected.tokens;
    for (int64_t layer = 0; layer < config.nLayers; ++layer)
        for (int64_t head = 0; head < config.nHeads; ++head)
            request.heads.push_back(attn::HeadRef {layer, head});
    request.kinds = attn::availableMapKinds(config, /*includeLogits=*/true);
    ASSERT_FALSE(request.kinds.empty()) << name;

    auto captured = model.capture(request);
    ASSERT_TRUE(captured.isOk()) << name << ": " << captured.message();
    const attn::CaptureResult& result = captured.value();
    EXPECT_EQ(result.tokens, expected.tokens) << name;

    // Every map the engine offers must be in expected/, and every expected map must be offered.
    std::set<std::string> compared;
    for (int64_t layer = 0; layer < config.nLayers; ++layer) {
        for (int64_t head = 0; head < config.nHeads; ++head) {
            for (attn::MapKind kind : request.kinds) {
                const std::string file = npyName(layer, head, kind);
                const std::string where = name + " layer " + std::to_string(layer) + " head " + std::to_string(head)
                    + " kind " + attn::toString(kind) + " (" + file + ")";
                compared.insert(file);
                const attn::AttentionMap* got = result.find(layer, head, kind);
                if (got == nullptr) {
                    ADD_FAILURE() << where << ": not in the capture result";
                    continue;
                }
                EXPECT_EQ(got->layer, layer) << where;
                EXPECT_EQ(got->head, head) << where;
                EXPECT_EQ(got->kind, kind) << where;
                auto want = attn::readNpyFloat32(dir + "/expected/" + file);
                if (!want.isOk()) {
                    ADD_FAILURE() << where << ": no expected map: " << want.message();
                    continue;
                }
                const std::string problem = compareMap(*got, want.value(), T);
                EXPECT_TRUE(problem.empty()) << where << ": " << problem;
            }
        }
    }
    for (const auto& entry : fs::directory_iterator(dir + "/expected")) {
        const std::string file = entry.path().filename().string();
        if (file.size() > 4 && file.compare(file.size() - 4, 4, ".npy") == 0 && file != "logits_last.npy") {
            EXPECT_TRUE(compared.count(file) == 1)
                << name << ": expected/" << file << " has no counterpart in availableMapKinds()";
        }
    }

    // lambda: one per layer for diff, none for softmax.
    ASSERT_EQ(result.lambda.size(), expected.lambda.size()) << name;
    for (size_t i = 0; i < expected.lambda.size(); ++i)
        EXPECT_NEAR(result.lambda[i], expected.lambda[i], kLambdaTolerance) << name << " lambda of layer " << i;

    // Next-token logits at the last position.
    auto logits = attn::readNpyFloat32(dir + "/expected/logits_last.npy");
    ASSERT_TRUE(logits.isOk()) << name << ": " << logits.message();
    ASSERT_EQ(logits.value().shape, std::vector<int64_t> {config.vocabSize}) << name;
    ASSERT_EQ(static_cast<int64_t>(result.lastLogits.size()), config.vocabSize) << name;
    double worst = 0.0;
    size_t worstAt = 0;
    for (size_t i = 0; i < result.lastLogits.size(); ++i) {
        const double err = std::fabs(static_cast<double>(result.lastLogits[i]) - logits.value().values[i]);
        if (!(err <= worst)) {
            worst = err;
            worstAt = i;
        }
    }
    EXPECT_LE(worst, kLogitsTolerance) << name << ": last logits, worst at token " << worstAt << ": got "
                                       << result.lastLogits[worstAt] << ", expected " << logits.value().values[worstAt];
}

/// Max |a - b| over the non-NaN cells of two same-shaped expected arrays (NaN patterns must agree).
double maxAbsDiff(const attn::NpyArray& a, const attn::NpyArray& b)
{
    EXPECT_EQ(a.shape, b.shape);
    double worst = 0.0;
    for (size_t i = 0; i < std::min(a.values.size(), b.values.size()); ++i) {
        EXPECT_EQ(std::isnan(a.values[i]), std::isnan(b.values[i])) << "cell " << i;
        if (!std::isnan(a.values[i]) && !std::isnan(b.values[i]))
            worst = std::max(worst, std::fabs(static_cast<double>(a.values[i]) - b.values[i]));
    }
    return worst;
}

} // namespace

class ReferenceFixtures : public ::testing::TestWithParam<std::string> { };

TEST_P(ReferenceFixtures, MatchesReferenceOnCpu)
{
    checkFixture(GetParam(), "cpu");
}

TEST_P(ReferenceFixtures, MatchesReferenceOnCuda)
{
    if (!attn::cudaAvailable())
        GTEST_SKIP() << "no CUDA device";
    checkFixture(GetParam(), "cuda:0");
}

INSTANTIATE_TEST_SUITE_P(, ReferenceFixtures, ::testing::ValuesIn(fixtureNames()),
    [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ReferenceFixtures);

TEST_F(ReferenceFixtures, FixturesArePresent)
{
    const std::vector<std::string> names = fixtureNames();
    for (const char* required : {"softmax_none", "softmax_learned", "softmax_rope_interleaved_linspace",
             "softmax_rope_rotatehalf_standard_gqa", "softmax_cope_code", "softmax_cope_appendix_sepkey",
             "softmax_ropecope", "softmax_ropecope_unrotated", "diff_rope", "diff_rope_gqa_flash",
             "diff_rope_gqa_naive", "diff_cope", "diff_ropecope_sepkey", "diff_none_lambda_gt1"}) {
        EXPECT_TRUE(std::find(names.begin(), names.end(), required) != names.end())
            << "missing fixture " << referenceDir() << "/" << required;
    }
}

// The two GQA fixtures share weights and prompt; only config.json's "gqa" differs. Their D maps must
// differ, both in the reference data and in what the engine computes, so the option demonstrably matters.
TEST_F(ReferenceFixtures, GqaFlashAndNaiveDiffer)
{
    const std::string flashDir = referenceDir() + "/diff_rope_gqa_flash";
    const std::string naiveDir = referenceDir() + "/diff_rope_gqa_naive";
    ASSERT_TRUE(readText(flashDir + "/model.safetensors") == readText(naiveDir + "/model.safetensors"))
        << "the GQA fixtures must share their weights";
    const Expected flashExpected = readExpected(flashDir);
    ASSERT_EQ(flashExpected.tokens, readExpected(naiveDir).tokens);

    auto cpu = attn::DeviceSpec::parse("cpu");
    ASSERT_TRUE(cpu.isOk()) << cpu.message();
    attn::LoadOptions options;
    options.device = cpu.value();
    auto flash = attn::Model::load(flashDir, options);
    auto naive = attn::Model::load(naiveDir, options);
    ASSERT_TRUE(flash.isOk()) << flash.message();
    ASSERT_TRUE(naive.isOk()) << naive.message();
    ASSERT_EQ(flash.value()->config().gqa, attn::GqaSemantics::Flash);
    ASSERT_EQ(naive.value()->config().gqa, attn::GqaSemantics::Naive);
    ASSERT_GT(flash.value()->config().nHeads, flash.value()->config().nKvHeads) << "needs n_rep > 1";

    attn::CaptureRequest request;
    request.tokens = flashExpected.tokens;
    request.kinds = {attn::MapKind::D};
    const int64_t nLayers = flash.value()->config().nLayers;
    const int64_t nHeads = flash.value()->config().nHeads;
    for (int64_t layer = 0; layer < nLayers; ++layer)
        for (int64_t head = 0; head < nHeads; ++head)
            request.heads.push_back(attn::HeadRef {layer, head});
    auto flashMaps = flash.value()->capture(request);
    auto naiveMaps = naive.value()->capture(request);
    ASSERT_TRUE(flashMaps.isOk()) << flashMaps.message();
    ASSERT_TRUE(naiveMaps.isOk()) << naiveMaps.message();

    double expectedDiff = 0.0;
    double engineDiff = 0.0;
    for (int64_t layer = 0; layer < nLayers; ++layer) {
        for (int64_t head = 0; head < nHeads; ++head) {
            const std::string file = "/expected/" + npyName(layer, head, attn::MapKind::D);
            auto a = attn::readNpyFloat32(flashDir + file);
            auto b = attn::readNpyFloat32(naiveDir + file);
            ASSERT_TRUE(a.isOk()) << a.message();
            ASSERT_TRUE(b.isOk()) << b.message();
            expectedDiff = std::max(expectedDiff, maxAbsDiff(a.value(), b.value()));

            const attn::AttentionMap* f = flashMaps.value().find(layer, head, attn::MapKind::D);
            const attn::AttentionMap* n = naiveMaps.value().find(layer, head, attn::MapKind::D);
            ASSERT_NE(f, nullptr);
            ASSERT_NE(n, nullptr);
            ASSERT_EQ(f->values.size(), n->values.size());
            for (size_t i = 0; i < f->values.size(); ++i) {
                if (!std::isnan(f->values[i]) && !std::isnan(n->values[i]))
                    engineDiff = std::max(engineDiff, std::fabs(static_cast<double>(f->values[i]) - n->values[i]));
            }
        }
    }
    EXPECT_GT(expectedDiff, 1e-3) << "reference D maps of flash and naive GQA should differ";
    EXPECT_GT(engineDiff, 1e-3) << "engine D maps of flash and naive GQA should differ";
}
