// SPDX-License-Identifier: GPL-3.0-or-later
// Which model paths attnscope-server opens: inside the allowed folders after every symlink is resolved.
#include "model_listing.h"
#include "path_guard.h"
#include "token_check.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace fs = std::filesystem;
using attn::StatusCode;
using attn::server::PathGuard;

namespace {

/// allowed/ (a model folder, a checkpoint, a symlink in, a symlink out) and outside/ (a model folder).
class PathGuardTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        base = fs::temp_directory_path() / ("attnscope-guard-" + std::to_string(::getpid()));
        fs::remove_all(base);
        fs::create_directories(base / "allowed" / "m1");
        fs::create_directories(base / "allowed" / "deep" / "m2");
        fs::create_directories(base / "outside" / "secret");
        std::ofstream(base / "allowed" / "m1" / "config.json") << "{}";
        std::ofstream(base / "allowed" / "deep" / "m2" / "config.json") << "{}";
        std::ofstream(base / "allowed" / "ckpt.pt") << "x";
        std::ofstream(base / "outside" / "secret" / "config.json") << "{}";
        fs::create_directory_symlink(base / "outside" / "secret", base / "allowed" / "escape");
        fs::create_directory_symlink(base / "allowed" / "m1", base / "allowed" / "alias");
        root = fs::canonical(base / "allowed").string();
    }
    void TearDown() override { fs::remove_all(base); }
    fs::path base;
    std::string root;
};

TEST_F(PathGuardTest, OpensPathsInsideByAbsoluteOrRelativePath)
{
    PathGuard guard({root});
    auto absolute = guard.resolve(root + "/m1");
    ASSERT_TRUE(absolute) << absolute.message();
    EXPECT_EQ(*absolute, root + "/m1");
    auto relative = guard.resolve("deep/m2");
    ASSERT_TRUE(relative) << relative.message();
    EXPECT_EQ(*relative, root + "/deep/m2");
    auto alias = guard.resolve("alias"); // a symlink that stays inside resolves to its target
    ASSERT_TRUE(alias) << alias.message();
    EXPECT_EQ(*alias, root + "/m1");
}

TEST_F(PathGuardTest, RefusesDotDotBeforeResolving)
{
    PathGuard guard({root});
    // m1/.. would resolve to the root itself (inside), and is still refused: '..' is never needed.
    for (const std::string& path :
        std::vector<std::string> {"m1/..", "../outside/secret", root + "/m1/../../outside/secret"}) {
        auto r = guard.resolve(path);
        ASSERT_FALSE(r) << path;
        EXPECT_EQ(r.status().code(), StatusCode::Invalid);
        EXPECT_NE(r.message().find("'..' is not allowed"), std::string::npos) << r.message();
    }
}

TEST_F(PathGuardTest, RefusesPathsOutsideAndSymlinksOut)
{
    PathGuard guard({root});
    auto outside = guard.resolve(fs::canonical(base / "outside" / "secret").string());
    ASSERT_FALSE(outside);
    EXPECT_EQ(outside.status().code(), StatusCode::Refused);
    EXPECT_NE(outside.message().find("outside the server's allowed folders"), std::string::npos);
    auto escape = guard.resolve("escape");
    ASSERT_FALSE(escape);
    EXPECT_EQ(escape.status().code(), StatusCode::Refused);
    EXPECT_NE(escape.message().find("symlink"), std::string::npos) << escape.message();
    // A sibling folder whose name starts with the root's is not inside it.
    fs::create_directories(base / "allowed2");
    EXPECT_FALSE(PathGuard::isInside(fs::canonical(base / "allowed2").string(), root));
    // Missing inside: invalid; missing outside: refused without saying whether it exists.
    EXPECT_EQ(guard.resolve("nope").status().code(), StatusCode::Invalid);
    EXPECT_EQ(guard.resolve("/nonexistent/x").status().code(), StatusCode::Refused);
}

TEST_F(PathGuardTest, ListingShowsWhatIsInsideOnly)
{
    PathGuard guard({root});
    std::vector<std::string> listed;
    for (const auto& entry : attn::server::listModels(guard))
        listed.push_back(entry.relativePath + ":" + entry.kind);
    // "escape" leads outside and is left out; "alias" stays inside.
    EXPECT_EQ(listed, (std::vector<std::string> {"alias:folder", "ckpt.pt:checkpoint", "deep/m2:folder", "m1:folder"}));
}

TEST(TokenCheck, AcceptsOnlyTheBearerToken)
{
    attn::server::TokenCheck check("s3cret-token");
    EXPECT_TRUE(check.required());
    EXPECT_TRUE(check.accepts("Bearer s3cret-token"));
    EXPECT_FALSE(check.accepts("Bearer s3cret-tokeN"));
    EXPECT_FALSE(check.accepts("Bearer s3cret-token2"));
    EXPECT_FALSE(check.accepts("s3cret-token"));
    EXPECT_FALSE(check.accepts(""));
    EXPECT_FALSE(check.accepts("Bearer "));
    attn::server::TokenCheck none("");
    EXPECT_FALSE(none.required());
    EXPECT_TRUE(none.accepts(""));
}

} // namespace
