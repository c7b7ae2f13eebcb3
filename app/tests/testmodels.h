// SPDX-License-Identifier: GPL-3.0-or-later
// The small random models the window-level QtTests open: one DIFF + RoPE/CoPE model (every map kind) and one softmax
// + RoPE model of the same width, so Compare has two models to show.
#pragma once

#include "attnscope/config.h"
#include "attnscope/tokenizer.h"

#include <cstdint>

namespace attn::app::test {

inline ModelConfig diffCopeConfig(int64_t maxSeqLen)
{
    ModelConfig c;
    c.attention = AttentionKind::Diff;
    c.position = PositionKind::RopeCope;
    c.vocabSize = ByteTokenizer::kVocabSize;
    c.dModel = 32;
    c.nLayers = 2;
    c.nHeads = 2;
    c.nKvHeads = 2;
    c.headDim = 8;
    c.ffnHidden = 64;
    c.maxSeqLen = maxSeqLen;
    c.cope.npos = maxSeqLen + 1;
    return c;
}

inline ModelConfig softmaxRopeConfig(int64_t maxSeqLen)
{
    ModelConfig c = diffCopeConfig(maxSeqLen);
    c.attention = AttentionKind::Softmax;
    c.position = PositionKind::Rope;
    c.headDim = 16;
    return c;
}

} // namespace attn::app::test
