// SPDX-License-Identifier: GPL-3.0-or-later
// Every bundled model (resources/models/<name>) loads, and on a fixed, seeded held-out set answers at (close to)
// the accuracy its card reports. eval.json next to the card records the task, its options and that accuracy.
#include "attnscope/model.h"
#include "attnscope/tasks.h"
#include "attnscope/trainer.h"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;
using namespace attn;

namespace {

std::vector<std::string> bundledModels()
{
    std::vector<std::string> names;
    const fs::path root = fs::path(ATTNSCOPE_SOURCE_DIR) / "resources" / "models";
    if (fs::is_directory(root))
        for (const auto& entry : fs::directory_iterator(root))
            if (fs::exists(entry.path() / "config.json"))
                names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

} // namespace

class BundledModel : public ::testing::TestWithParam<std::string> { };

TEST_P(BundledModel, LoadsAndAnswersAtItsCardsAccuracy)
{
    const fs::path dir = fs::path(ATTNSCOPE_SOURCE_DIR) / "resources" / "models" / GetParam();
    auto model = Model::load(dir.string());
    ASSERT_TRUE(model) << model.message();
    ASSERT_TRUE(fs::exists(dir / "card.md")) << "every bundled model carries a card";
    std::ifstream in(dir / "eval.json");
    ASSERT_TRUE(in) << "eval.json is missing";
    const auto card = nlohmann::json::parse(in);
    auto kind = parseTaskKind(card.at("task").get<std::string>());
    ASSERT_TRUE(kind) << kind.message();
    TaskOptions options;
    const auto& o = card.at("options");
    options.nVars = o.value("vars", options.nVars);
    options.maxSteps = o.value("max_steps", options.maxSteps);
    options.contextWords = o.value("context_words", options.contextWords);
    options.nNeedles = o.value("needles", options.nNeedles);
    options.nQueried = o.value("queried", options.nQueried);
    options.length = o.value("length", options.length);
    options.pIgnore = o.value("p_ignore", options.pIgnore);
    options.seed = card.at("seed").get<uint64_t>();
    DeviceSpec cpu;
    cpu.type = DeviceSpec::Type::Cpu;
    // 300 of the card's 1000 samples (the same stream, so the same first 300): tolerance for the smaller set.
    auto result = evaluate(dir.string(), *kind, options, 300, cpu);
    ASSERT_TRUE(result) << result.message();
    EXPECT_GE(result->accuracy, card.at("accuracy").get<double>() - 0.05) << GetParam();
}

INSTANTIATE_TEST_SUITE_P(ResourcesModels, BundledModel, ::testing::ValuesIn(bundledModels()), [](const auto& info) {
    std::string name = info.param;
    for (char& ch : name)
        if (ch == '-')
            ch = '_';
    return name;
});
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(BundledModel);
