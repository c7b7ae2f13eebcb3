// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer target: a word tokenizer's vocab.txt (one token per line). A vocabulary that loads encodes and
// decodes a prompt made of its own first tokens.
#include "fuzz_util.h"

#include "attnscope/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    if (size == 0)
        return 0;
    // The first byte picks the options, the rest is the file.
    const bool lowercase = data[0] & 1;
    const bool addBos = data[0] & 2;
    attn::fuzz::MemoryFile file(data + 1, size - 1);
    auto tokenizer = attn::WordTokenizer::fromVocabFile(file.path(), lowercase, addBos);
    if (!tokenizer)
        return 0;
    std::string prompt;
    const auto& vocab = (*tokenizer)->vocab();
    for (std::size_t i = 0; i < vocab.size() && i < 8; ++i)
        prompt += vocab[i] + " ";
    auto encoding = (*tokenizer)->encodeChecked(prompt + "unknownword, x");
    if (encoding) {
        attn::fuzz::consume((*tokenizer)->decode(encoding->ids));
        for (int64_t id : encoding->ids)
            attn::fuzz::consume((*tokenizer)->display(id));
    }
    return 0;
}
