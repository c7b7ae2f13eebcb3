// SPDX-License-Identifier: GPL-3.0-or-later
// Builds small random models on disk for engine tests.
#pragma once

#include "attnscope/config.h"
#include "attnscope/init.h"
#include "attnscope/tokenizer.h"
#include "test_helpers.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace attn::test {

inline ModelConfig smallConfig(AttentionKind attention, PositionKind position)
{
    ModelConfig c;
    c.attention = attention;
    c.position = position;
    c.vocabSize = ByteTokenizer::kVocabSize;
    c.dModel = 32;
    c.nLayers = 2;
    c.nHeads = 2;
    c.nKvHeads = 2;
    c.headDim = attention == AttentionKind::Diff ? 8 : 16;
    c.ffnHidden = 64;
    c.maxSeqLen = 64;
    c.cope.npos = 65;
    return c;
}

/// Test-name suffix for (attention, position) parameterised suites, e.g. "diff_rope_cope".
inline std::string attentionPositionName(AttentionKind attention, PositionKind position)
{
    std::string name = toString(attention) + "_" + toString(position);
    std::replace(name.begin(), name.end(), '+', '_');
    return name;
}

/// Writes a random model to dir/name and returns its path (fails the test on error).
inline std::string writeModel(const TempDir& dir, const std::string& name, const ModelConfig& config, uint64_t seed = 1)
{
    const std::string path = dir.file(name);
    const Status s = initRandomModel(path, config, seed, /*overwrite=*/false);
    EXPECT_TRUE(s.isOk()) << s.message();
    return path;
}

} // namespace attn::test
