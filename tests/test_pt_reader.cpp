// SPDX-License-Identifier: GPL-3.0-or-later
// The .pt reader against files written by torch.save 2.15 and the values torch.load reads back from them
// (tests/reference/make_pt_fixtures.py writes both).
#include "test_pt_zip.h"

#include "attnscope/pt_checkpoint.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <map>

namespace attn {
namespace {

using Kind = PickleValue::Kind;
using nlohmann::json;

json readJson(const std::string& path)
{
    std::ifstream in(path);
    EXPECT_TRUE(in) << path;
    return json::parse(in);
}

std::string torchDtypeName(PtScalarType type)
{
    static const std::map<PtScalarType, std::string> kNames = {{PtScalarType::F64, "float64"},
        {PtScalarType::F32, "float32"}, {PtScalarType::F16, "float16"}, {PtScalarType::BF16, "bfloat16"},
        {PtScalarType::I64, "int64"}, {PtScalarType::I32, "int32"}, {PtScalarType::I16, "int16"},
        {PtScalarType::I8, "int8"}, {PtScalarType::U8, "uint8"}, {PtScalarType::Bool, "bool"}};
    return kNames.at(type);
}

std::string hex(const std::string& bytes)
{
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
        out.push_back(digits[c >> 4]);
        out.push_back(digits[c & 15]);
    }
    return out;
}

// Compares a value with the tagged JSON that make_pt_fixtures.py wrote from torch.load's result. Storage
// groups are numbered in first-use order on both sides, so sharing must match exactly.
class GraphComparer {
public:
    int tensors = 0;

    void compare(const PickleValue& v, const json& e, const std::string& path)
    {
        const std::string type = e.at("type");
        SCOPED_TRACE(path);
        if (type == "none") {
            EXPECT_TRUE(v.is(Kind::None));
        } else if (type == "bool") {
            ASSERT_TRUE(v.is(Kind::Bool));
            EXPECT_EQ(v.asBool(), e.at("value").get<bool>());
        } else if (type == "int") {
            ASSERT_TRUE(v.is(Kind::Int)) << v.typeName();
            EXPECT_EQ(v.asInt(), e.at("value").get<int64_t>());
        } else if (type == "float") {
            ASSERT_TRUE(v.is(Kind::Float));
            EXPECT_EQ(v.asFloat(), e.at("value").get<double>());
        } else if (type == "string") {
            ASSERT_TRUE(v.is(Kind::String)) << v.typeName();
            EXPECT_EQ(v.asString(), e.at("value").get<std::string>());
        } else if (type == "bytes") {
            ASSERT_TRUE(v.is(Kind::Bytes)) << v.typeName();
            EXPECT_EQ(hex(v.asString()), e.at("hex").get<std::string>());
        } else if (type == "list" || type == "tuple") {
            ASSERT_TRUE(v.is(type == "list" ? Kind::List : Kind::Tuple)) << v.typeName();
            ASSERT_EQ(v.items().size(), e.at("items").size());
            for (std::size_t i = 0; i < v.items().size(); ++i)
                compare(*v.items()[i], e.at("items")[i], path + "[" + std::to_string(i) + "]");
        } else if (type == "dict") {
            ASSERT_TRUE(v.is(Kind::Dict)) << v.typeName();
            ASSERT_EQ(v.entries().size(), e.at("items").size());
            for (std::size_t i = 0; i < v.entries().size(); ++i) {
                compare(*v.entries()[i].first, e.at("items")[i][0], path + ".key" + std::to_string(i));
                compare(*v.entries()[i].second, e.at("items")[i][1], path + ".value" + std::to_string(i));
            }
        } else if (type == "object") {
            ASSERT_TRUE(v.is(Kind::Object)) << v.typeName();
            EXPECT_EQ(v.typeName(), e.at("class").get<std::string>());
            ASSERT_NE(v.state(), nullptr);
            compare(*v.state(), e.at("state"), path + ".state");
        } else if (type == "tensor") {
            ASSERT_TRUE(v.is(Kind::Tensor)) << v.typeName();
            compareTensor(v.tensor(), e);
        } else {
            FAIL() << "unknown tag " << type;
        }
    }

private:
    void compareTensor(const PtTensor& t, const json& e)
    {
        ++tensors;
        EXPECT_EQ(torchDtypeName(t.dtype), e.at("dtype").get<std::string>());
        EXPECT_EQ(t.shape, e.at("shape").get<std::vector<int64_t>>());
        EXPECT_EQ(t.stride, e.at("stride").get<std::vector<int64_t>>());
        EXPECT_EQ(t.storageOffset, e.at("offset").get<int64_t>());
        const auto group = m_groups.emplace(t.storage->key, static_cast<int>(m_groups.size())).first->second;
        EXPECT_EQ(group, e.at("storage_group").get<int>()) << "storage " << t.storage->key;
        const std::vector<float> values = t.toFloat32();
        const auto expected = e.at("values").get<std::vector<double>>();
        ASSERT_EQ(values.size(), expected.size());
        for (std::size_t i = 0; i < values.size(); ++i)
            EXPECT_EQ(values[i], static_cast<float>(expected[i])) << "element " << i;
    }
    std::map<std::string, int> m_groups;
};

int countTensors(const json& e)
{
    if (e.is_object() && e.value("type", "") == "tensor")
        return 1;
    int count = 0;
    if (e.is_object() || e.is_array()) {
        for (const auto& item : e)
            count += countTensors(item);
    }
    return count;
}

class PtTorchFixture : public ::testing::TestWithParam<std::string> { };

TEST_P(PtTorchFixture, GraphEqualsWhatTorchLoads)
{
    const std::string name = GetParam();
    const std::string dir = test::ptDataDir();
    auto checkpoint = PtCheckpoint::open(dir + "/" + name + ".pt");
    ASSERT_TRUE(checkpoint) << checkpoint.message();
    const std::string expectedName = name == "deflated" ? "nested" : name;
    const json expected = readJson(dir + "/" + expectedName + ".expected.json");
    GraphComparer comparer;
    comparer.compare((*checkpoint)->root(), expected.at("root"), "root");
    EXPECT_EQ(comparer.tensors, countTensors(expected.at("root")));
}

INSTANTIATE_TEST_SUITE_P(Torch215, PtTorchFixture,
    ::testing::Values(
        "dtypes", "views", "state_dict", "nested", "nested_p4", "nested_p5", "namespace", "parameter", "deflated"));

TEST(PtReader, EveryDtypeReadsInPlaceFromTheMapping)
{
    auto checkpoint = PtCheckpoint::open(test::ptDataDir() + "/dtypes.pt");
    ASSERT_TRUE(checkpoint) << checkpoint.message();
    auto tensors = listTensors((*checkpoint)->root(), "dtypes");
    ASSERT_TRUE(tensors) << tensors.message();
    std::vector<std::string> names;
    for (const PtNamedTensor& t : *tensors) {
        names.push_back(t.name + ":" + ptScalarName(t.tensor->dtype));
        EXPECT_TRUE(t.tensor->isContiguous());
        // Stored records are pointed into, not copied: the data lie inside the file's mapping.
        EXPECT_EQ(t.tensor->data(), t.tensor->storage->data);
    }
    EXPECT_EQ(names,
        (std::vector<std::string> {"f32:F32", "f16:F16", "bf16:BF16", "f64:F64", "i64:I64", "i32:I32", "i16:I16",
            "i8:I8", "u8:U8", "bool:BOOL"}));
    EXPECT_EQ(toModelDType(PtScalarType::BF16), DType::BF16);
    EXPECT_FALSE(toModelDType(PtScalarType::F64).has_value());
}

TEST(PtReader, ViewsShareStoragesAndKnowTheirLayout)
{
    auto checkpoint = PtCheckpoint::open(test::ptDataDir() + "/views.pt");
    ASSERT_TRUE(checkpoint) << checkpoint.message();
    const PickleValue& root = (*checkpoint)->root();
    const PtTensor& base = root.find("base")->tensor();
    const PtTensor& corner = root.find("corner")->tensor();
    EXPECT_EQ(base.storage, root.find("alias_of_base")->tensor().storage);
    EXPECT_EQ(base.storage, corner.storage);
    EXPECT_FALSE(corner.isContiguous());
    EXPECT_FALSE(root.find("transposed")->tensor().isContiguous());
    EXPECT_EQ(corner.data(), base.data() + corner.storageOffset * 4);
    EXPECT_EQ(root.find("expanded")->tensor().stride, (std::vector<int64_t> {0, 1}));
    EXPECT_EQ(root.find("scalar")->tensor().numel(), 1);
    EXPECT_EQ(root.find("empty")->tensor().numel(), 0);
}

TEST(PtReader, StateDictKeepsOrderedDictMetadataAndTiedWeights)
{
    auto checkpoint = PtCheckpoint::open(test::ptDataDir() + "/state_dict.pt");
    ASSERT_TRUE(checkpoint) << checkpoint.message();
    const PickleValue& root = (*checkpoint)->root();
    ASSERT_TRUE(root.is(Kind::Dict));
    ASSERT_NE(root.state(), nullptr); // OrderedDict's BUILD state: {'_metadata': ...}
    EXPECT_NE(root.attr("_metadata"), nullptr);
    auto tensors = listTensors(root, "state_dict");
    ASSERT_TRUE(tensors) << tensors.message();
    ASSERT_EQ(tensors->size(), 4u);
    EXPECT_EQ((*tensors)[0].name, "0.weight");
    EXPECT_EQ((*tensors)[3].name, "2.weight");
    EXPECT_EQ((*tensors)[0].tensor->storage, (*tensors)[3].tensor->storage);
}

TEST(PtReader, NamespaceAndDeviceAreInert)
{
    auto checkpoint = PtCheckpoint::open(test::ptDataDir() + "/namespace.pt");
    ASSERT_TRUE(checkpoint) << checkpoint.message();
    const PickleValue& root = (*checkpoint)->root();
    EXPECT_TRUE(root.isObjectOf("argparse", "Namespace"));
    ASSERT_NE(root.attr("hid_sz"), nullptr);
    EXPECT_EQ(root.attr("hid_sz")->asInt(), 48);
    EXPECT_EQ(root.attr("device")->asString(), "cpu");
    EXPECT_EQ(root.attr("missing"), nullptr);
}

TEST(PtReader, LegacyFormatIsRefusedWithAdvice)
{
    auto checkpoint = PtCheckpoint::open(test::ptDataDir() + "/legacy.pt");
    ASSERT_FALSE(checkpoint);
    EXPECT_NE(checkpoint.message().find("legacy.pt: is a legacy (PyTorch < 1.6) checkpoint; re-save it with "
                                        "torch.save(...) from PyTorch >= 1.6"),
        std::string::npos)
        << checkpoint.message();
}

TEST(PtReader, NewDtypesOfRebuildTensorV3AreRefusedByName)
{
    auto checkpoint = PtCheckpoint::open(test::ptDataDir() + "/float8.pt");
    ASSERT_FALSE(checkpoint);
    EXPECT_NE(
        checkpoint.message().find("tensor dtype the global torch.float8_e4m3fn is not supported"), std::string::npos)
        << checkpoint.message();
}

} // namespace
} // namespace attn
