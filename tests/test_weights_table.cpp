// SPDX-License-Identifier: GPL-3.0-or-later
// The engine's member tables (engine/weights.h) against the one table of tensor names (attnscope/tensor_names.h):
// every entry has exactly one member and every member one entry, and on every model the repository holds the loader
// reads exactly the tensors expectedTensors lists, in its order, keeping in fp32 exactly the table's fp32 entries.
#include "attnscope/model_format.h"
#include "attnscope/model_source.h"
#include "attnscope/tensor_names.h"
#include "engine/weights.h"
#include "fixture_models.h"

#include <gtest/gtest.h>

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace attn::engine {
namespace {

// Adds a member to the ones seen; false when it was seen already (member pointers have == but no order).
template <typename Owner> bool insertMember(std::vector<at::Tensor Owner::*>& seen, at::Tensor Owner::*member)
{
    for (at::Tensor Owner::*m : seen)
        if (m == member)
            return false;
    seen.push_back(member);
    return true;
}

TEST(WeightsTable, EveryEntryHasOneMemberAndEveryMemberOneEntry)
{
    std::map<TensorId, int> members;
    std::vector<at::Tensor ModelTensors::*> modelMembers;
    for (const TensorField<ModelTensors>& field : modelTensorFields()) {
        ++members[field.id];
        EXPECT_NE(tensorEntry(field.id).part, TensorPart::Layer) << tensorName(field.id);
        EXPECT_TRUE(insertMember(modelMembers, field.member)) << tensorName(field.id) << " shares a member";
    }
    std::vector<at::Tensor LayerWeights::*> layerMembers;
    for (const TensorField<LayerWeights>& field : layerTensorFields()) {
        ++members[field.id];
        EXPECT_EQ(tensorEntry(field.id).part, TensorPart::Layer) << tensorName(field.id);
        EXPECT_TRUE(insertMember(layerMembers, field.member)) << tensorName(field.id) << " shares a member";
    }
    for (const TensorEntry& e : tensorTable())
        EXPECT_EQ(members[e.id], 1) << e.name;
    // Both structs hold tensors only, so as many distinct members as tensors fit is every member.
    EXPECT_EQ(modelMembers.size() * sizeof(at::Tensor), sizeof(ModelTensors));
    EXPECT_EQ(layerMembers.size() * sizeof(at::Tensor), sizeof(LayerWeights));
}

TEST(WeightsTable, LoaderReadsExactlyTheExpectedTensorsOfEveryFixture)
{
    const test::FixtureModels fixtures = test::fixtureModels();
    std::vector<std::string> paths = fixtures.attnscope;
    paths.insert(paths.end(), fixtures.imported.begin(), fixtures.imported.end());
    ASSERT_FALSE(paths.empty());
    for (const std::string& path : paths) {
        SCOPED_TRACE(path);
        Result<std::unique_ptr<ModelSource>> source = openModelSource(path);
        ASSERT_TRUE(source.isOk()) << source.message();
        const ModelConfig& config = (*source)->config;
        std::vector<std::string> read;
        // bf16 compute on the CPU: every tensor stored wider is narrowed, except the ones the loader keeps in fp32.
        ModelWeights weights = loadSourceWeights(
            **source,
            [&](const std::string& name) {
                read.push_back(name);
                return at::Device(at::kCPU);
            },
            at::kBFloat16);
        std::vector<std::string> expected;
        for (const TensorSpec& spec : expectedTensors(config))
            expected.push_back(spec.name);
        EXPECT_EQ(read, expected);

        ASSERT_EQ(static_cast<int64_t>(weights.layers.size()), config.nLayers);
        for (const TensorEntry& e : tensorTable()) {
            const bool tiedOutput = e.id == TensorId::Output && config.tieEmbeddings;
            for (int64_t layer = 0; layer < (e.part == TensorPart::Layer ? config.nLayers : 1); ++layer) {
                const at::Tensor& t = *engineTensor(weights, e.id, layer);
                const std::string name = tensorName(e.id, layer);
                EXPECT_EQ(t.defined(), e.present(config) || tiedOutput) << name;
                if (!t.defined() || tiedOutput)
                    continue;
                EXPECT_EQ(t.sizes().vec(), e.shape(config)) << name;
                if (e.fp32)
                    EXPECT_EQ(t.scalar_type(), at::kFloat) << name;
                else
                    EXPECT_NE(t.scalar_type(), at::kFloat) << name;
            }
        }
    }
}

TEST(WeightsTable, AMissingTensorIsNamed)
{
    ModelConfig c;
    c.vocabSize = 11;
    c.dModel = 8;
    c.nLayers = 2;
    c.nHeads = 2;
    c.nKvHeads = 2;
    c.headDim = 2;
    c.ffnHidden = 12;
    c.maxSeqLen = 16;
    c.attention = AttentionKind::Diff;
    std::map<std::string, std::vector<int64_t>> shapes;
    for (const TensorSpec& spec : expectedTensors(c))
        shapes[spec.name] = spec.shape;
    const std::string absent = "layers.1.attn.lambda_k2";
    ASSERT_TRUE(shapes.count(absent));
    try {
        assembleWeights(c,
            [&](const std::string& name, bool) { return name == absent ? at::Tensor() : at::zeros(shapes.at(name)); });
        FAIL() << "a missing tensor must be refused";
    } catch (const std::runtime_error& e) {
        EXPECT_EQ(std::string(e.what()), "tensor " + absent + " is missing");
    }
}

} // namespace
} // namespace attn::engine
