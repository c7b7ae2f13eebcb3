// SPDX-License-Identifier: GPL-3.0-or-later
#include "attnscope/fileio.h"

#include "test_helpers.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <vector>

using namespace attn;
using attn::test::TempDir;

namespace {

std::vector<std::string> listDirectory(const std::string& dir)
{
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(dir))
        names.push_back(entry.path().filename().string());
    return names;
}

} // namespace

TEST(FileIoAtomic, WritesAndLeavesNoTempFile)
{
    TempDir dir;
    const std::string path = dir.file("out.bin");
    const std::string bytes("hello\0world\xff", 12); // embedded NUL and high byte survive
    ASSERT_TRUE(writeFileAtomic(path, bytes));

    Result<std::string> read = readFile(path);
    ASSERT_TRUE(read) << read.message();
    EXPECT_EQ(*read, bytes);
    EXPECT_EQ(listDirectory(dir.path()), std::vector<std::string> {"out.bin"});
}

TEST(FileIoAtomic, OverwritesExistingFile)
{
    TempDir dir;
    const std::string path = dir.file("out.txt");
    attn::test::writeBytes(path, "a much longer old content that must disappear entirely");
    ASSERT_TRUE(writeFileAtomic(path, "new"));
    Result<std::string> read = readFile(path);
    ASSERT_TRUE(read) << read.message();
    EXPECT_EQ(*read, "new");
    EXPECT_EQ(listDirectory(dir.path()), std::vector<std::string> {"out.txt"});
}

TEST(FileIoAtomic, EmptyContent)
{
    TempDir dir;
    const std::string path = dir.file("empty");
    ASSERT_TRUE(writeFileAtomic(path, ""));
    EXPECT_TRUE(fileExists(path));
    Result<std::string> read = readFile(path);
    ASSERT_TRUE(read) << read.message();
    EXPECT_TRUE(read->empty());
}

TEST(FileIoAtomic, MissingDirectoryFailsWithPathAndReason)
{
    TempDir dir;
    const std::string path = dir.file("no/such/dir/out.bin");
    Status status = writeFileAtomic(path, "x");
    ASSERT_FALSE(status);
    EXPECT_NE(status.message().find(path), std::string::npos) << status.message();
    EXPECT_NE(status.message().find("No such file or directory"), std::string::npos) << status.message();
    EXPECT_FALSE(fileExists(path));
}

TEST(FileIoAtomic, RenameOverDirectoryFailsAndCleansUpTemp)
{
    TempDir dir;
    // The target is a non-empty directory, so the final rename fails after the temp file was written.
    const std::string path = dir.file("target");
    std::filesystem::create_directory(path);
    attn::test::writeBytes(path + "/keep", "x");
    Status status = writeFileAtomic(path, "data");
    ASSERT_FALSE(status);
    EXPECT_NE(status.message().find(path), std::string::npos) << status.message();
    EXPECT_EQ(listDirectory(dir.path()), std::vector<std::string> {"target"});
}

TEST(FileIoRead, MissingFileReportsPath)
{
    TempDir dir;
    const std::string path = dir.file("absent");
    Result<std::string> read = readFile(path);
    ASSERT_FALSE(read);
    EXPECT_NE(read.message().find(path), std::string::npos) << read.message();
    EXPECT_NE(read.message().find("No such file or directory"), std::string::npos) << read.message();
    EXPECT_FALSE(fileExists(path));
}

TEST(FileIoRead, DirectoryIsAnError)
{
    TempDir dir;
    EXPECT_FALSE(readFile(dir.path()));
}

TEST(FileIoRead, LargeBinaryFile)
{
    TempDir dir;
    const std::string path = dir.file("big.bin");
    std::string bytes(3 * (1 << 20) + 17, '\0');
    for (std::size_t i = 0; i < bytes.size(); ++i)
        bytes[i] = static_cast<char>((i * 131) & 0xFF);
    ASSERT_TRUE(writeFileAtomic(path, bytes));
    Result<std::string> read = readFile(path);
    ASSERT_TRUE(read) << read.message();
    EXPECT_TRUE(*read == bytes);
}

TEST(FileIoSha256, KnownVectors)
{
    TempDir dir;
    const std::string abc = dir.file("abc");
    attn::test::writeBytes(abc, "abc");
    Result<std::string> digest = sha256File(abc);
    ASSERT_TRUE(digest) << digest.message();
    EXPECT_EQ(*digest, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

    const std::string empty = dir.file("empty");
    attn::test::writeBytes(empty, "");
    digest = sha256File(empty);
    ASSERT_TRUE(digest) << digest.message();
    EXPECT_EQ(*digest, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(FileIoSha256, SpansSeveralChunks)
{
    TempDir dir;
    // FIPS 180-2 long test vector: one million 'a's (just under one 1 MiB chunk).
    const std::string million = dir.file("million");
    attn::test::writeBytes(million, std::string(1000000, 'a'));
    Result<std::string> digest = sha256File(million);
    ASSERT_TRUE(digest) << digest.message();
    EXPECT_EQ(*digest, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");

    // 2 MiB + 5 bytes: three reads, the last one partial. Reference digest from Python's hashlib.
    const std::string longer = dir.file("longer");
    attn::test::writeBytes(longer, std::string((1 << 20) * 2 + 5, 'a'));
    digest = sha256File(longer);
    ASSERT_TRUE(digest) << digest.message();
    EXPECT_EQ(*digest, "f077ad66a499663ea49bdb0067bb7d51745c75a651e17c458435756986bbc523");
}

TEST(FileIoSha256, MissingFile)
{
    TempDir dir;
    Result<std::string> digest = sha256File(dir.file("absent"));
    ASSERT_FALSE(digest);
    EXPECT_NE(digest.message().find("absent"), std::string::npos);
}
