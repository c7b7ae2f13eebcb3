// SPDX-License-Identifier: GPL-3.0-or-later
// CUDA maps equal CPU maps: fp32 (TF32 off) within 1e-5, bf16 within 1e-2. Skipped without a GPU;
// run on the GPU machine (docs/gpu.md).
#include "attnscope/model.h"
#include "model_fixture.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace attn;
using namespace attn::test;

class CudaMatchesCpu : public ::testing::TestWithParam<std::tuple<AttentionKind, PositionKind, ComputeDType>> { };

TEST_P(CudaMatchesCpu, EveryMapOfEveryHead)
{
    if (!cudaAvailable())
        GTEST_SKIP() << "no CUDA device in this build/machine";
    const auto [attention, position, dtype] = GetParam();
    TempDir dir;
    ModelConfig config = smallConfig(attention, position);
    config.maxSeqLen = 300;
    config.cope.npos = 301;
    const std::string path = writeModel(dir, "m", config, 9);
    LoadOptions cpu, gpu;
    cpu.device.type = DeviceSpec::Type::Cpu;
    gpu.device.type = DeviceSpec::Type::Cuda;
    cpu.dtype = gpu.dtype = dtype;
    auto a = Model::load(path, cpu);
    auto b = Model::load(path, gpu);
    ASSERT_TRUE(a && b) << (a ? b.message() : a.message());
    std::string prompt;
    for (int i = 0; i < 20; ++i)
        prompt += "pass; a ++; b = 0 ; ";
    CaptureRequest r {(*a)->tokenizer().encode(prompt.substr(0, 250)), {}, availableMapKinds(config, true)};
    for (int64_t layer = 0; layer < config.nLayers; ++layer)
        for (int64_t head = 0; head < config.nHeads; ++head)
            r.heads.push_back({layer, head});
    auto ra = (*a)->capture(r);
    auto rb = (*b)->capture(r);
    ASSERT_TRUE(ra && rb) << (ra ? rb.message() : ra.message());
    const bool bf16 = dtype == ComputeDType::BF16;
    for (const AttentionMap& ma : ra->maps) {
        const AttentionMap* mb = rb->find(ma.layer, ma.head, ma.kind);
        ASSERT_TRUE(mb);
        double worst = 0.0, scale = 1.0;
        for (size_t i = 0; i < ma.values.size(); ++i)
            if (!std::isnan(ma.values[i])) {
                worst = std::max(worst, static_cast<double>(std::fabs(ma.values[i] - mb->values[i])));
                scale = std::max(scale, static_cast<double>(std::fabs(ma.values[i])));
            }
        // Probabilities are compared absolutely; counts and logits relative to their magnitude.
        EXPECT_LE(worst / scale, bf16 ? 1e-2 : 1e-5)
            << toString(ma.kind) << " L" << ma.layer << " H" << ma.head << " worst abs " << worst;
        RecordProperty(toString(ma.kind) + "_L" + std::to_string(ma.layer) + "_H" + std::to_string(ma.head),
            std::to_string(worst));
    }
}

INSTANTIATE_TEST_SUITE_P(AllKinds, CudaMatchesCpu,
    ::testing::Combine(::testing::Values(AttentionKind::Softmax, AttentionKind::Diff),
        ::testing::Values(PositionKind::Rope, PositionKind::Cope, PositionKind::RopeCope),
        ::testing::Values(ComputeDType::F32, ComputeDType::BF16)),
    [](const auto& info) {
        std::string name = toString(std::get<0>(info.param)) + "_" + toString(std::get<1>(info.param)) + "_"
            + toString(std::get<2>(info.param));
        for (char& ch : name)
            if (ch == '+')
                ch = '_';
        return name;
    });
