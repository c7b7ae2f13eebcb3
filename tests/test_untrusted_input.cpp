// SPDX-License-Identifier: GPL-3.0-or-later
// Regression tests for issue 15 (a bad-input campaign against every parser): each test rebuilds the minimized
// input of one defect and checks that the reader refuses it cleanly: no crash, no hang, bounded time and memory,
// and a short message that names the file and the field.
#include "attnscope/config.h"
#include "attnscope/fileio.h"
#include "attnscope/hf_tokenizer.h"
#include "attnscope/maps.h"
#include "attnscope/model_format.h"
#include "attnscope/model_source.h"
#include "attnscope/npy.h"
#include "attnscope/safetensors.h"
#include "attnscope/tokenizer.h"
#include "test_helpers.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <future>
#include <limits>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace attn;
using attn::test::TempDir;
using attn::test::writeBytes;

namespace {

namespace fs = std::filesystem;

// The campaign's crashing depth: far past any stack once something recursed over the parsed value.
constexpr int kDeep = 65000;

std::string nested(int depth, const std::string& inner = "1")
{
    return std::string(static_cast<std::size_t>(depth), '[') + inner
        + std::string(static_cast<std::size_t>(depth), ']');
}

std::string lengthPrefixed(const std::string& header)
{
    std::string bytes;
    for (int i = 0; i < 8; ++i)
        bytes.push_back(static_cast<char>((uint64_t(header.size()) >> (8 * i)) & 0xFF));
    return bytes + header;
}

// A valid attnscope config.json with one field's JSON text replaced.
std::string ownConfig(const std::string& field, const std::string& valueJson)
{
    std::string text = R"({"format": "attnscope-model", "format_version": 1, "vocab_size": 259, "d_model": 16,
        "n_layers": 2, "n_heads": 2, "head_dim": 8, "ffn_hidden": 32, "max_seq_len": 64, "attention": "softmax",
        "position": "rope", "tokenizer": {"type": "bytes"}})";
    const std::string key = "\"" + field + "\": ";
    const auto at = text.find(key);
    if (at == std::string::npos)
        return text.substr(0, text.size() - 1) + ", " + key + valueJson + "}";
    const auto end = text.find_first_of(",}", at);
    return text.substr(0, at + key.size()) + valueJson + text.substr(end);
}

void expectContains(const std::string& message, const std::vector<std::string>& fragments)
{
    for (const auto& fragment : fragments)
        EXPECT_NE(message.find(fragment), std::string::npos) << "missing \"" << fragment << "\" in: " << message;
}

// Runs `call` and fails if it takes longer than `limit`. A reader stuck in open() on a FIFO is released by
// opening the FIFO's write end, so that a regression fails the test instead of hanging the suite.
template <typename T> T returnsWithin(std::chrono::seconds limit, const std::string& fifo, std::function<T()> call)
{
    auto result = std::async(std::launch::async, std::move(call));
    if (result.wait_for(limit) != std::future_status::ready) {
        ADD_FAILURE() << "still blocked after " << limit.count() << " s (FIFO " << fifo << ")";
        const int writer = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
        if (writer >= 0)
            ::close(writer);
    }
    return result.get();
}

// Seconds a call takes, for the checks that parsing is no longer quadratic.
double secondsFor(const std::function<void()>& call)
{
    const auto start = std::chrono::steady_clock::now();
    call();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string safetensorsWithManyTensors(int count)
{
    std::string header = "{";
    for (int i = 0; i < count; ++i)
        header += (i ? "," : "") + std::string("\"t") + std::to_string(i)
            + R"(":{"dtype":"F32","shape":[0],"data_offsets":[0,0]})";
    return lengthPrefixed(header + "}");
}

// A copy of a sharded Hugging Face fixture whose index can be replaced.
std::string copyShardedFolder(const TempDir& dir)
{
    const fs::path to = fs::path(dir.path()) / "sharded";
    fs::copy(fs::path(ATTNSCOPE_TEST_DATA_DIR) / "hf" / "llama_linear_bias_sharded", to, fs::copy_options::recursive);
    return to.string();
}

} // namespace

// --- defect 1: nesting ~65,000 deep crashed when a message dumped the value ---

TEST(UntrustedInput, DeeplyNestedConfigFieldIsRefused)
{
    const auto config = parseConfig(ownConfig("d_model", nested(kDeep)));
    ASSERT_FALSE(config);
    expectContains(config.message(), {"config.json", "nested deeper than"});
    EXPECT_LT(config.message().size(), 400u) << config.message();
}

TEST(UntrustedInput, DeeplyNestedSafetensorsShapeAndOffsetsAreRefused)
{
    TempDir dir;
    for (const std::string& header : {R"({"w":{"dtype":"F32","shape":)" + nested(kDeep) + R"(,"data_offsets":[0,0]}})",
             R"({"w":{"dtype":"F32","shape":[0],"data_offsets":)" + nested(kDeep) + "}}"}) {
        const std::string path = dir.file("deep.safetensors");
        writeBytes(path, lengthPrefixed(header));
        const auto opened = SafetensorsFile::open(path);
        ASSERT_FALSE(opened);
        expectContains(opened.message(), {path, "nested deeper than"});
        EXPECT_LT(opened.message().size(), 400u + path.size());
    }
}

TEST(UntrustedInput, DeeplyNestedHuggingFaceConfigIndexAndTokenizerAreRefused)
{
    TempDir dir;
    const std::string folder = copyShardedFolder(dir);
    const std::string index = folder + "/model.safetensors.index.json";
    writeBytes(index, R"({"weight_map": )" + nested(kDeep) + "}");
    auto source = openModelSource(folder);
    ASSERT_FALSE(source);
    expectContains(source.message(), {"model.safetensors.index.json", "nested deeper than"});

    writeBytes(folder + "/config.json", R"({"model_type": "llama", "rope_scaling": )" + nested(kDeep) + "}");
    source = openModelSource(folder);
    ASSERT_FALSE(source);
    expectContains(source.message(), {"config.json", "nested deeper than"});

    const auto tokenizer = parseHfTokenizer(R"({"model": )" + nested(kDeep) + "}", "");
    ASSERT_FALSE(tokenizer);
    expectContains(tokenizer.message(), {"tokenizer.json", "nested deeper than"});
}

// --- defect 2: a FIFO in place of a model file blocked forever; /dev/zero read until memory ran out ---

TEST(UntrustedInput, FifoAsSafetensorsOrConfigIsRefusedWithoutBlocking)
{
    TempDir dir;
    const std::string fifo = dir.file("model.safetensors");
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    const auto opened = returnsWithin<Result<std::unique_ptr<SafetensorsFile>>>(
        std::chrono::seconds(10), fifo, [&] { return SafetensorsFile::open(fifo); });
    ASSERT_FALSE(opened);
    expectContains(opened.message(), {fifo, "not a regular file", "FIFO"});

    const std::string fifoConfig = dir.file("config.json");
    ASSERT_EQ(::mkfifo(fifoConfig.c_str(), 0600), 0);
    const auto config = returnsWithin<Result<ModelConfig>>(
        std::chrono::seconds(10), fifoConfig, [&] { return loadConfig(fifoConfig); });
    ASSERT_FALSE(config);
    expectContains(config.message(), {fifoConfig, "FIFO"});

    const auto source = returnsWithin<Result<std::unique_ptr<ModelSource>>>(
        std::chrono::seconds(10), fifoConfig, [&] { return openModelSource(dir.path()); });
    ASSERT_FALSE(source);
    expectContains(source.message(), {"config.json", "FIFO"});
}

TEST(UntrustedInput, DevZeroAsConfigOrPromptFileIsBounded)
{
    TempDir dir;
    const std::string link = dir.file("config.json");
    fs::create_symlink("/dev/zero", link);
    const auto config = loadConfig(link);
    ASSERT_FALSE(config);
    expectContains(config.message(), {link, "character device"});

    // A prompt may come from a pipe, so readFile reads devices, but only up to its bound.
    const auto prompt = readFile("/dev/zero", 1 << 20);
    ASSERT_FALSE(prompt);
    expectContains(prompt.message(), {"/dev/zero", "more than"});
}

// --- defect 3: --overview 9223372036854775807 overflowed ceil(N / R) and divided by zero ---

TEST(UntrustedInput, HugeOverviewSizeIsCappedWithoutChangingTheResult)
{
    const MapRegion region = MapRegion::overview(std::numeric_limits<int64_t>::max());
    // Blocks of ceil(N / R) tokens: still one token for any sequence a config allows, and R + N fits in int64.
    const int64_t longest = int64_t(1) << 26;
    EXPECT_GE(region.overviewSize, longest);
    EXPECT_LE(region.overviewSize, std::numeric_limits<int64_t>::max() - longest);
    EXPECT_EQ((longest + region.overviewSize - 1) / region.overviewSize, 1);
    EXPECT_EQ(MapRegion::overview(512).overviewSize, 512);
}

// --- defect 6: unbounded memory and quadratic time ---

TEST(UntrustedInput, HeaderOfOpenBracketsNeedsNoMemoryBeyondTheFile)
{
    // The campaign's 99 MB of '[' took ~5 GB; 8 MB shows the same path (it stops at depth 64).
    TempDir dir;
    const std::string path = dir.file("brackets.safetensors");
    writeBytes(path, lengthPrefixed(std::string(8 << 20, '[')));
    const auto opened = SafetensorsFile::open(path);
    ASSERT_FALSE(opened);
    expectContains(opened.message(), {"nested deeper than 64"});
}

TEST(UntrustedInput, ManyTensorsAndConfigKeysParseInLinearTime)
{
    // 40,000 entries took 78 s (80,000: over 300 s) when the duplicate-key check rescanned the parent after every
    // object; linear parsing takes well under a second in a Release build. The bound leaves room for sanitizers and
    // load.
    TempDir dir;
    const std::string path = dir.file("many.safetensors");
    writeBytes(path, safetensorsWithManyTensors(40000));
    Result<std::unique_ptr<SafetensorsFile>> opened = Status::error("not run");
    const double tensorSeconds = secondsFor([&] { opened = SafetensorsFile::open(path); });
    ASSERT_TRUE(opened) << opened.message();
    EXPECT_EQ((*opened)->tensors().size(), 40000u);
    EXPECT_LT(tensorSeconds, 60.0);

    std::string keys;
    for (int i = 0; i < 40000; ++i)
        keys += ", \"k" + std::to_string(i) + "\": {\"a\": 1}";
    const std::string text = ownConfig("d_model", "16").insert(1, keys.substr(2) + ", ");
    Result<ModelConfig> config = Status::error("not run");
    const double configSeconds = secondsFor([&] { config = parseConfig(text); });
    ASSERT_FALSE(config);
    expectContains(config.message(), {"unknown field \"k0\""});
    EXPECT_LT(configSeconds, 60.0);
}

TEST(UntrustedInput, MillionLayersAreRefusedBeforeListingTensors)
{
    const auto config = parseConfig(ownConfig("n_layers", "1000000"));
    ASSERT_FALSE(config);
    expectContains(config.message(), {"\"n_layers\" must be at most 1024", "1000000"});
    EXPECT_LT(config.message().size(), 300u);
}

TEST(UntrustedInput, MismatchMessageListsAFewTensorsNotThousands)
{
    const auto config = parseConfig(ownConfig("d_model", "16"));
    ASSERT_TRUE(config) << config.message();
    std::vector<TensorInfo> stray(5000);
    for (std::size_t i = 0; i < stray.size(); ++i)
        stray[i].name = "stray." + std::to_string(i);
    const Status status = checkTensorsMatchConfig(*config, stray);
    ASSERT_FALSE(status);
    expectContains(status.message(), {"unexpected tensors (5000)", "and 4980 more"});
    EXPECT_LT(status.message().size(), 4000u);
}

// --- defect 7: head_dim or n_heads = INT64_MAX passed validation, then overflowed computing shapes ---

TEST(UntrustedInput, HugeSizesAreRefusedBeforeAnyProduct)
{
    for (const char* field : {"head_dim", "n_heads", "d_model", "vocab_size", "ffn_hidden", "max_seq_len"}) {
        const auto config = parseConfig(ownConfig(field, "9223372036854775807"));
        ASSERT_FALSE(config) << field;
        expectContains(config.message(), {std::string("\"") + field + "\" must be at most"});
    }
}

TEST(UntrustedInput, HuggingFaceSizesAreBoundedBeforeUse)
{
    TempDir dir;
    const fs::path folder = fs::path(dir.path()) / "qwen2";
    fs::copy(fs::path(ATTNSCOPE_TEST_DATA_DIR) / "hf" / "qwen2_sliding", folder, fs::copy_options::recursive);
    const nlohmann::json original = nlohmann::json::parse(readFile((folder / "config.json").string()).value());
    auto openWith = [&](const char* key, const nlohmann::json& value) {
        nlohmann::json edited = original;
        edited[key] = value;
        edited.erase("layer_types"); // so that max_window_layers decides which layers slide
        writeBytes((folder / "config.json").string(), edited.dump());
        return openModelSource(folder.string());
    };
    auto source = openWith("head_dim", std::numeric_limits<int64_t>::max());
    ASSERT_FALSE(source);
    expectContains(source.message(), {"config.json", "\"head_dim\" is out of range"});
    source = openWith("num_hidden_layers", 1000000);
    ASSERT_FALSE(source);
    expectContains(source.message(), {"config.json", "\"n_layers\" must be at most 1024"});
    // A negative first sliding layer indexed before the per-layer flags.
    source = openWith("max_window_layers", -5);
    ASSERT_TRUE(source) << source.message();
    EXPECT_TRUE((*source)->config.arch.slidingAt(0));
}

// --- defect 9: minor ---

TEST(UntrustedInput, DuplicateKeyInsideOneSafetensorsEntryIsRefused)
{
    TempDir dir;
    const std::string path = dir.file("dup.safetensors");
    writeBytes(path,
        lengthPrefixed(R"({"w":{"dtype":"F32","dtype":"F16","shape":[2],"data_offsets":[0,8]}})")
            + std::string(8, '\0'));
    const auto opened = SafetensorsFile::open(path);
    ASSERT_FALSE(opened);
    expectContains(opened.message(), {path, "duplicate key \"w.dtype\""});
}

TEST(UntrustedInput, FifoOrDirectoryVocabIsNamedForWhatItIs)
{
    TempDir dir;
    TokenizerConfig word;
    word.type = TokenizerType::Word;
    word.vocabFile = "vocab.txt";
    ASSERT_EQ(::mkfifo(dir.file("vocab.txt").c_str(), 0600), 0);
    auto tokenizer = returnsWithin<Result<std::unique_ptr<Tokenizer>>>(
        std::chrono::seconds(10), dir.file("vocab.txt"), [&] { return makeTokenizer(word, dir.path()); });
    ASSERT_FALSE(tokenizer);
    expectContains(tokenizer.message(), {"vocab.txt", "FIFO"});
    EXPECT_EQ(tokenizer.message().find("not found"), std::string::npos) << tokenizer.message();

    word.vocabFile = "folder";
    fs::create_directory(dir.file("folder"));
    tokenizer = makeTokenizer(word, dir.path());
    ASSERT_FALSE(tokenizer);
    expectContains(tokenizer.message(), {"folder", "directory"});
}

TEST(UntrustedInput, NulInAVocabIsEscapedInTheMessage)
{
    TempDir dir;
    const std::string token("a\0b", 3);
    writeBytes(dir.file("vocab.txt"), "<unk>\n" + token + "\n" + token + "\n");
    const auto tokenizer = WordTokenizer::fromVocabFile(dir.file("vocab.txt"), true, false);
    ASSERT_FALSE(tokenizer);
    expectContains(tokenizer.message(), {"duplicate token \"a\\x00b\""});
    EXPECT_EQ(tokenizer.message().find('\0'), std::string::npos);
}

TEST(UntrustedInput, MessagesQuoteOnlyAnExcerptOfHugeValues)
{
    TempDir dir;
    const std::string path = dir.file("long.safetensors");
    const std::string name(1 << 20, 'n');
    writeBytes(path,
        lengthPrefixed(R"({")" + name + R"(":{"dtype":"F32","shape":[)" + std::string(1 << 20, '7')
            + R"(],"data_offsets":[0,0]}})"));
    const auto opened = SafetensorsFile::open(path);
    ASSERT_FALSE(opened);
    EXPECT_LT(opened.message().size(), 1000u) << opened.message().substr(0, 200);

    const auto config = parseConfig(ownConfig("attention", "\"" + std::string(1 << 20, 'x') + "\""));
    ASSERT_FALSE(config);
    EXPECT_LT(config.message().size(), 1000u);
}

TEST(UntrustedInput, NpyShapeWithTooManyDimensionsIsRefused)
{
    std::string dims;
    for (int i = 0; i < 65; ++i)
        dims += "1,";
    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
    header.append(63 - (10 + header.size()) % 64, ' ');
    header += '\n';
    std::string bytes = std::string("\x93NUMPY\x01\x00", 8);
    bytes.push_back(static_cast<char>(header.size() & 0xFF));
    bytes.push_back(static_cast<char>(header.size() >> 8));
    const auto array = parseNpyFloat32(bytes + header + std::string(4, '\0'), "dims.npy");
    ASSERT_FALSE(array);
    expectContains(array.message(), {"dims.npy", "more than 64 dimensions"});
}
