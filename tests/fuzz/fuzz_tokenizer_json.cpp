// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer target: tokenizer.json (normalizers, pre-tokenizers, BPE / WordPiece models, added tokens,
// post-processors, decoders). A tokenizer that loads encodes, decodes and displays a few prompts.
#include "fuzz_util.h"

#include "attnscope/hf_tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    const std::string text(reinterpret_cast<const char*>(data), size);
    auto tokenizer = attn::parseHfTokenizer(text, "");
    if (!tokenizer)
        return 0;
    for (const char* prompt :
        {"Hello, world! 123", " a  b\n\tc", "\xc3\xa9t\xc3\xa9 \xe2\x80\x94 \xf0\x9f\x98\x80", ""}) {
        auto encoding = (*tokenizer)->encodeChecked(prompt);
        if (!encoding)
            continue;
        attn::fuzz::consume((*tokenizer)->decode(encoding->ids));
        for (int64_t id : encoding->ids)
            attn::fuzz::consume((*tokenizer)->display(id));
    }
    return 0;
}
