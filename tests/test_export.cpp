// SPDX-License-Identifier: GPL-3.0-or-later
// export.h: provenance sidecars (every field, text that is not UTF-8), the maps bundle's all-or-nothing commit
// (a failure mid-write, a second writer, a killed writer's leftovers) and CSVs labelled with their tokens.
#include "attnscope/export.h"

#include "attnscope/fileio.h"
#include "attnscope/metrics.h"
#include "attnscope/npy.h"
#include "attnscope/tokenizer.h"
#include "test_helpers.h"

#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <set>
#include <thread>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace attn;
using attn::test::TempDir;
namespace fs = std::filesystem;

namespace {

/// OpenSSL's decoder is the oracle for our base64 (EVP_DecodeBlock counts padding as zero bytes).
std::string decodeBase64(const std::string& text)
{
    std::string out(text.size() / 4 * 3, '\0');
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
        reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
    EXPECT_GE(n, 0) << text;
    size_t padding = 0;
    for (size_t i = text.size(); i > 0 && text[i - 1] == '='; --i)
        ++padding;
    out.resize(static_cast<size_t>(std::max(n, 0)) - padding);
    return out;
}

AttentionMap makeMap(int64_t layer, int64_t head, MapKind kind, int64_t n, float tag)
{
    AttentionMap m;
    m.layer = layer;
    m.head = head;
    m.kind = kind;
    m.rows = n;
    m.cols = n;
    for (int64_t i = 0; i < n * n; ++i)
        m.values.push_back(tag + static_cast<float>(i));
    return m;
}

Provenance sampleProvenance(const std::string& prompt)
{
    const ByteTokenizer tokenizer;
    Provenance p;
    p.modelPath = "/models/tiny-diff";
    p.modelName = "tiny-diff";
    p.modelFormat = "attnscope";
    p.weightsSha256 = "ab12";
    p.attention = "diff";
    p.position = "rope";
    p.device = "cpu";
    p.dtype = "fp32";
    p.prompt = prompt;
    p.tokens = tokenizer.encode(prompt);
    for (int64_t id : p.tokens)
        p.tokenDisplay.push_back(tokenizer.display(id));
    p.lambdaPerLayer = {0.25, 0.5};
    p.region = "full";
    p.frontEnd = "test";
    p.requestId = 42;
    return p;
}

nlohmann::json readJson(const std::string& path)
{
    auto text = readFile(path);
    EXPECT_TRUE(text) << text.message();
    return nlohmann::json::parse(text ? *text : std::string("null"));
}

std::vector<std::string> leftovers(const std::string& parent)
{
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(parent)) {
        const std::string name = entry.path().filename().string();
        if (name.find(".tmp-") != std::string::npos || name.find(".old-") != std::string::npos)
            names.push_back(name);
    }
    return names;
}

/// Writes a bundle of `maps` maps whose values start at `tag`.
Status writeBundle(const std::string& folder, const std::string& prompt, float tag, bool overwrite, int maps = 3)
{
    auto writer = MapsBundleWriter::begin(folder, {overwrite});
    if (!writer)
        return writer.status();
    for (int h = 0; h < maps; ++h)
        if (Status s = (*writer)->add(makeMap(0, h, MapKind::A, 4, tag)); !s)
            return s;
    return (*writer)->commit(sampleProvenance(prompt), 0.5);
}

/// The bundle in `folder` is complete and self-consistent: every file the manifest names exists with its
/// shape, nothing else is there, and every map's first value is the tag that belongs to the manifest's prompt.
void expectCompleteBundle(const std::string& folder, const std::map<std::string, float>& tagOfPrompt)
{
    const nlohmann::json manifest = readJson(folder + "/maps.json");
    const std::string prompt = manifest.at("prompt");
    ASSERT_TRUE(tagOfPrompt.count(prompt)) << prompt;
    std::set<std::string> named {"maps.json"};
    for (const auto& entry : manifest.at("maps")) {
        const std::string file = entry.at("file");
        named.insert(file);
        auto array = readNpyFloat32(folder + "/" + file);
        ASSERT_TRUE(array) << array.message();
        EXPECT_EQ(array->shape, entry.at("shape").get<std::vector<int64_t>>());
        EXPECT_EQ(array->values.front(), tagOfPrompt.at(prompt)) << file << " belongs to another run";
    }
    std::set<std::string> present;
    for (const auto& entry : fs::directory_iterator(folder))
        present.insert(entry.path().filename().string());
    EXPECT_EQ(present, named);
}

} // namespace

TEST(ExportProvenance, SidecarNamesEveryField)
{
    TempDir dir;
    Provenance p = sampleProvenance("a = 0 ;");
    p.layer = 1;
    p.head = 3;
    p.kind = "D";
    AttentionMap window = makeMap(1, 3, MapKind::D, 2, 0.0f);
    window.rowBegin = 4;
    window.colBegin = 2;
    p.regionOf = window;
    p.region.clear(); // from the geometry
    p.lambda = 0.5;
    p.colorScale = "diverging";
    p.colorLow = -0.25;
    p.colorHigh = 0.75;
    const std::string data = dir.file("x.npy");
    ASSERT_TRUE(writeSidecar(data, p));
    const nlohmann::json json = readJson(data + ".json");
    EXPECT_EQ(json.at("attnscope_version"), attnscopeVersion());
    EXPECT_EQ(json.at("created").get<std::string>().back(), 'Z');
    EXPECT_EQ(json.at("request_id"), p.requestId);
    EXPECT_EQ(json.at("model").at("path"), p.modelPath);
    EXPECT_EQ(json.at("model").at("name"), p.modelName);
    EXPECT_EQ(json.at("model").at("format"), p.modelFormat);
    EXPECT_EQ(json.at("model").at("sha256"), p.weightsSha256);
    EXPECT_EQ(json.at("model").at("attention"), p.attention);
    EXPECT_EQ(json.at("model").at("position"), p.position);
    EXPECT_EQ(json.at("device"), p.device);
    EXPECT_EQ(json.at("dtype"), p.dtype);
    EXPECT_EQ(json.at("prompt"), p.prompt);
    EXPECT_FALSE(json.contains("prompt_base64"));
    EXPECT_EQ(json.at("tokens").get<std::vector<int64_t>>(), p.tokens);
    EXPECT_EQ(json.at("display").get<std::vector<std::string>>(), p.tokenDisplay);
    EXPECT_EQ(json.at("layer"), p.layer);
    EXPECT_EQ(json.at("head"), p.head);
    EXPECT_EQ(json.at("kind"), p.kind);
    EXPECT_EQ(json.at("region"), "window 4:6,2:4");
    EXPECT_EQ(json.at("first_query"), 4);
    EXPECT_EQ(json.at("first_key"), 2);
    EXPECT_EQ(json.at("shape").get<std::vector<int64_t>>(), (std::vector<int64_t> {2, 2}));
    EXPECT_EQ(json.at("block").get<std::vector<int64_t>>(), (std::vector<int64_t> {1, 1}));
    EXPECT_EQ(json.at("lambda"), p.lambda);
    EXPECT_EQ(json.at("lambda_per_layer").get<std::vector<double>>(), p.lambdaPerLayer);
    EXPECT_EQ(json.at("color_scale"), p.colorScale);
    EXPECT_EQ(json.at("color_range").at(0), p.colorLow);
    EXPECT_EQ(json.at("color_range").at(1), p.colorHigh);

    // Unknown numbers are null, not -1 or NaN (NaN is not JSON).
    const nlohmann::json blank = nlohmann::json::parse(provenanceJson(Provenance {}));
    EXPECT_TRUE(blank.at("layer").is_null());
    EXPECT_TRUE(blank.at("head").is_null());
    EXPECT_TRUE(blank.at("lambda").is_null());
    EXPECT_TRUE(blank.at("request_id").is_null());
    EXPECT_TRUE(blank.at("color_range").at(0).is_null());
}

TEST(ExportProvenance, TextThatIsNotUtf8RoundTrips)
{
    // Every byte value: the byte tokenizer accepts them all, so the export must carry them all.
    std::string prompt;
    for (int b = 0; b < 256; ++b)
        prompt.push_back(static_cast<char>(b));
    prompt += "\xc3\x28 \xe2\x82 end";
    Provenance p = sampleProvenance(prompt);
    p.modelPath = std::string("/models/\xff\xfe-model");
    p.tokenDisplay.back() = "\x80\x81"; // a vocabulary entry that is not UTF-8
    TempDir dir;
    ASSERT_TRUE(writeSidecar(dir.file("m.csv"), p));
    const nlohmann::json json = readJson(dir.file("m.csv.json")); // strict parser: throws on invalid UTF-8
    EXPECT_EQ(decodeBase64(json.at("prompt_base64")), prompt);
    EXPECT_EQ(decodeBase64(json.at("model").at("path_base64")), p.modelPath);
    const auto& exact = json.at("display_base64");
    ASSERT_EQ(exact.size(), p.tokenDisplay.size());
    for (size_t i = 0; i < p.tokenDisplay.size(); ++i) {
        const std::string exactBytes
            = exact[i].is_null() ? json.at("display")[i].get<std::string>() : decodeBase64(exact[i]);
        EXPECT_EQ(exactBytes, p.tokenDisplay[i]) << i;
    }
    EXPECT_TRUE(exact.back().is_string());
    // The readable field keeps every valid character and marks the rest with U+FFFD.
    const std::string shown = json.at("prompt");
    EXPECT_NE(shown.find("end"), std::string::npos);
    EXPECT_NE(shown.find("\xef\xbf\xbd"), std::string::npos);
    EXPECT_EQ(json.at("tokens").get<std::vector<int64_t>>(), p.tokens);

    // The same prompt in a bundle's maps.json.
    auto writer = MapsBundleWriter::begin(dir.file("bundle"), {});
    ASSERT_TRUE(writer) << writer.message();
    ASSERT_TRUE((*writer)->add(makeMap(0, 0, MapKind::A, 3, 1.0f)));
    ASSERT_TRUE((*writer)->commit(p));
    const nlohmann::json manifest = readJson(dir.file("bundle/maps.json"));
    EXPECT_EQ(decodeBase64(manifest.at("prompt_base64")), prompt);
    EXPECT_EQ(decodeBase64(manifest.at("model").at("path_base64")), p.modelPath);
}

TEST(MapsBundle, WritesNpyAndManifest)
{
    TempDir dir;
    const std::string out = dir.file("out");
    auto writer = MapsBundleWriter::begin(out, {});
    ASSERT_TRUE(writer) << writer.message();
    AttentionMap overview = makeMap(1, 0, MapKind::D, 2, 7.0f);
    overview.rowBlock = overview.colBlock = 3;
    ASSERT_TRUE((*writer)->add(makeMap(0, 1, MapKind::A, 4, 1.0f)));
    ASSERT_TRUE((*writer)->add(overview));
    EXPECT_FALSE(fs::exists(out)) << "nothing may appear before commit";
    ASSERT_TRUE((*writer)->commit(sampleProvenance("hi"), 1.5));
    writer->reset();
    const nlohmann::json manifest = readJson(out + "/maps.json");
    // The keys maps.json has always had (README, docs/export.md).
    for (const char* key : {"attnscope_version", "model", "prompt", "tokens", "display", "lambda", "device", "dtype",
             "region", "layout", "maps", "seconds"})
        EXPECT_TRUE(manifest.contains(key)) << key;
    EXPECT_EQ(manifest.at("lambda").get<std::vector<double>>(), (std::vector<double> {0.25, 0.5}));
    EXPECT_EQ(manifest.at("seconds"), 1.5);
    ASSERT_EQ(manifest.at("maps").size(), 2u);
    const auto& second = manifest.at("maps")[1];
    EXPECT_EQ(second.at("file"), "L1_H0_D.npy");
    EXPECT_EQ(second.at("block").get<std::vector<int64_t>>(), (std::vector<int64_t> {3, 3}));
    auto array = readNpyFloat32(out + "/L0_H1_A.npy");
    ASSERT_TRUE(array) << array.message();
    EXPECT_EQ(array->values, makeMap(0, 1, MapKind::A, 4, 1.0f).values);
    EXPECT_TRUE(leftovers(dir.path()).empty());
}

TEST(MapsBundle, FailureMidWriteKeepsTheOldBundle)
{
    TempDir dir;
    const std::string out = dir.file("out");
    ASSERT_TRUE(writeBundle(out, "old", 100.0f, false));
    {
        auto writer = MapsBundleWriter::begin(out, {/*overwrite=*/true});
        ASSERT_TRUE(writer) << writer.message();
        ASSERT_TRUE((*writer)->add(makeMap(0, 0, MapKind::A, 4, 200.0f)));
        // The next file cannot be renamed into place (a folder holds its name): a real write failure, even as root.
        ASSERT_TRUE(fs::create_directory(fs::path((*writer)->stagingFolder()) / "L0_H1_A.npy"));
        const Status failed = (*writer)->add(makeMap(0, 1, MapKind::A, 4, 200.0f));
        ASSERT_FALSE(failed);
        EXPECT_EQ(failed.code(), StatusCode::Io);
        EXPECT_NE(failed.message().find("L0_H1_A.npy"), std::string::npos) << failed.message();
        EXPECT_NE(failed.message().find(out), std::string::npos) << failed.message();
        expectCompleteBundle(out, {{"old", 100.0f}}); // still the old one while the writer lives
    }
    expectCompleteBundle(out, {{"old", 100.0f}});
    EXPECT_TRUE(leftovers(dir.path()).empty());
}

TEST(MapsBundle, ReplacesWithForceAndRefusesWithout)
{
    TempDir dir;
    const std::string out = dir.file("out");
    ASSERT_TRUE(writeBundle(out, "old", 100.0f, false, 4));
    const Status refused = writeBundle(out, "new", 200.0f, false);
    EXPECT_EQ(refused.code(), StatusCode::Refused);
    EXPECT_NE(refused.message().find("maps.json already exists"), std::string::npos) << refused.message();
    ASSERT_TRUE(writeBundle(out, "new", 200.0f, true, 2));
    expectCompleteBundle(out, {{"new", 200.0f}}); // 2 maps: none of the old 4 files is left over
    EXPECT_TRUE(leftovers(dir.path()).empty());
}

TEST(MapsBundle, SecondWriterWithoutOverwriteIsRefused)
{
    TempDir dir;
    const std::string out = dir.file("out");
    auto first = MapsBundleWriter::begin(out, {});
    auto second = MapsBundleWriter::begin(out, {});
    ASSERT_TRUE(first && second); // both pass the early check: nothing is there yet
    ASSERT_TRUE((*first)->add(makeMap(0, 0, MapKind::A, 4, 100.0f)));
    ASSERT_TRUE((*second)->add(makeMap(0, 0, MapKind::A, 4, 200.0f)));
    ASSERT_TRUE((*second)->add(makeMap(0, 1, MapKind::A, 4, 200.0f)));
    ASSERT_TRUE((*first)->commit(sampleProvenance("first")));
    const Status lost = (*second)->commit(sampleProvenance("second"));
    EXPECT_EQ(lost.code(), StatusCode::Refused) << lost.message();
    second->reset();
    expectCompleteBundle(out, {{"first", 100.0f}});
    EXPECT_TRUE(leftovers(dir.path()).empty());
}

TEST(MapsBundle, ConcurrentWritersNeverMix)
{
    TempDir dir;
    const std::string out = dir.file("out");
    std::map<std::string, float> tags;
    for (int w = 0; w < 6; ++w)
        tags["run " + std::to_string(w)] = 1000.0f * static_cast<float>(w + 1);
    for (const bool overwrite : {false, true}) {
        fs::remove_all(out);
        std::vector<Status> results(tags.size(), Status::ok());
        std::vector<std::thread> threads;
        int w = 0;
        for (const auto& [prompt, tag] : tags) {
            threads.emplace_back([&, prompt = prompt, tag = tag, w] {
                results[static_cast<size_t>(w)] = writeBundle(out, prompt, tag, overwrite, 2 + w % 3);
            });
            ++w;
        }
        for (auto& t : threads)
            t.join();
        const auto won = std::count_if(results.begin(), results.end(), [](const Status& s) { return s.isOk(); });
        // With overwrite they are serialised (each replaces the previous whole); without, exactly one creates it.
        EXPECT_EQ(won, overwrite ? static_cast<long>(tags.size()) : 1L);
        for (const Status& s : results) {
            if (!s) {
                EXPECT_EQ(s.code(), StatusCode::Refused) << s.message();
            }
        }
        expectCompleteBundle(out, tags);
        EXPECT_TRUE(leftovers(dir.path()).empty());
    }
}

TEST(MapsBundle, RefusesAFolderWithOtherFiles)
{
    TempDir dir;
    const std::string out = dir.file("out");
    fs::create_directory(out);
    attn::test::writeBytes(out + "/notes.txt", "mine");
    const Status refused = writeBundle(out, "x", 1.0f, true);
    EXPECT_EQ(refused.code(), StatusCode::Refused);
    EXPECT_NE(refused.message().find("notes.txt"), std::string::npos) << refused.message();
    EXPECT_EQ(readFile(out + "/notes.txt").value(), "mine");
    EXPECT_FALSE(MapsBundleWriter::begin("", {}));
    EXPECT_FALSE(MapsBundleWriter::begin("/", {}));
}

TEST(MapsBundle, NextWriterRemovesAKilledWritersStaging)
{
    TempDir dir;
    const std::string out = dir.file("out");
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        auto writer = MapsBundleWriter::begin(out, {});
        if (writer)
            (void)(*writer)->add(makeMap(0, 0, MapKind::A, 8, 1.0f));
        ::kill(::getpid(), SIGKILL); // no destructor runs, as with kill -9
        ::_exit(1);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status));
    ASSERT_EQ(leftovers(dir.path()).size(), 1u) << "the child should have left its staging folder";
    ASSERT_TRUE(writeBundle(out, "after", 5.0f, false));
    EXPECT_TRUE(leftovers(dir.path()).empty());
    expectCompleteBundle(out, {{"after", 5.0f}});
}

TEST(RegionCsv, FullMapIsMapCsv)
{
    const Provenance p = sampleProvenance("ab,\"c");
    const AttentionMap full = makeMap(0, 0, MapKind::A, static_cast<int64_t>(p.tokens.size()), 0.5f);
    EXPECT_EQ(regionCsv(full, p.tokenDisplay), mapCsv(full, p.tokenDisplay));
}

TEST(RegionCsv, WindowIsLabelledWithItsTokens)
{
    const Provenance p = sampleProvenance("abcdefgh");
    AttentionMap window = makeMap(0, 0, MapKind::A, 2, 0.0f);
    window.cols = 3;
    window.values.resize(6);
    window.rowBegin = 5;
    window.colBegin = 1;
    const std::string csv = regionCsv(window, p.tokenDisplay);
    const std::string expectedHeader = "query\\key," + csvEscape(p.tokenDisplay[1]) + "," + csvEscape(p.tokenDisplay[2])
        + "," + csvEscape(p.tokenDisplay[3]) + "\r\n";
    EXPECT_EQ(csv.substr(0, expectedHeader.size()), expectedHeader);
    const size_t secondRow = csv.find("\r\n", csv.find("\r\n") + 2) + 2;
    EXPECT_EQ(csv.substr(csv.find("\r\n") + 2, p.tokenDisplay[5].size()), p.tokenDisplay[5]);
    EXPECT_EQ(csv.substr(secondRow, p.tokenDisplay[6].size()), p.tokenDisplay[6]);
}

TEST(RegionCsv, OverviewIsLabelledWithItsBlocks)
{
    const Provenance p = sampleProvenance("abcdefg"); // 8 tokens with <bos>
    AttentionMap overview = makeMap(0, 0, MapKind::A, 3, 0.0f);
    overview.rowBlock = overview.colBlock = 3;
    const std::string csv = regionCsv(overview, p.tokenDisplay);
    const std::string header = csv.substr(0, csv.find("\r\n"));
    // Blocks [0, 3), [3, 6), [6, 8): the last one is clipped at the sequence end.
    const std::string expected = "query\\key,0..2 " + p.tokenDisplay[0] + ".." + p.tokenDisplay[2] + ",3..5 "
        + p.tokenDisplay[3] + ".." + p.tokenDisplay[5] + ",6..7 " + p.tokenDisplay[6] + ".." + p.tokenDisplay[7];
    EXPECT_EQ(header, expected);
    EXPECT_EQ(csv.substr(header.size() + 2, 6 + p.tokenDisplay[0].size()), "0..2 " + p.tokenDisplay[0] + ".");
    // Without display strings: indices only.
    EXPECT_EQ(regionCsv(overview, {}).substr(0, 20), "query\\key,0..2,3..5,");
}
