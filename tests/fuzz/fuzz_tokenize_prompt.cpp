// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer target: arbitrary prompt bytes (any encoding, invalid UTF-8 included) through every kind of loaded
// tokenizer: the repository's tokenizer.json fixtures (byte-level BPE, SentencePiece-style BPE, WordPiece,
// normalizer chains), a bundled model's word vocabulary and the byte tokenizer. The first byte picks one.
#include "fuzz_util.h"

#include "attnscope/hf_tokenizer.h"
#include "attnscope/tokenizer.h"

#include <memory>
#include <vector>

namespace {

std::vector<std::unique_ptr<attn::Tokenizer>> loadAll()
{
    std::vector<std::unique_ptr<attn::Tokenizer>> all;
    const std::string hfRoot = ATTNSCOPE_TEST_DATA_DIR "/hf-tokenizers/";
    for (const char* name : {"gpt2", "llama2-legacy", "llama2-metaspace", "llama3", "qwen2", "wordpiece", "nfd",
             "normalizer-chain", "punctuation-digits", "split-contiguous", "metaspace-always-split"}) {
        auto tokenizer = attn::loadHfTokenizer(hfRoot + name);
        if (!tokenizer)
            std::abort(); // a fixture that no longer loads is a broken harness, not a finding
        all.push_back(std::move(*tokenizer));
    }
    attn::TokenizerConfig word;
    word.type = attn::TokenizerType::Word;
    word.vocabFile = "vocab.txt";
    auto counting = attn::makeTokenizer(word, ATTNSCOPE_MODELS_DIR "/counting-softmax-cope");
    if (!counting)
        std::abort();
    all.push_back(std::move(*counting));
    all.push_back(std::make_unique<attn::ByteTokenizer>(true));
    return all;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    static const std::vector<std::unique_ptr<attn::Tokenizer>> tokenizers = loadAll();
    if (size == 0)
        return 0;
    const attn::Tokenizer& tokenizer = *tokenizers[data[0] % tokenizers.size()];
    const std::string prompt(reinterpret_cast<const char*>(data + 1), size - 1);
    auto encoding = tokenizer.encodeChecked(prompt, (data[0] & 0x80) == 0);
    if (!encoding)
        return 0;
    if (encoding->spans.size() != encoding->ids.size())
        __builtin_trap();
    for (std::size_t i = 0; i < encoding->ids.size(); ++i) {
        const attn::TokenSpan span = encoding->spans[i];
        if (span.begin > span.end || span.end > prompt.size())
            __builtin_trap(); // a span must lie inside the prompt
        if (encoding->ids[i] < 0 || encoding->ids[i] >= tokenizer.vocabSize())
            __builtin_trap();
        attn::fuzz::consume(tokenizer.display(encoding->ids[i]));
    }
    attn::fuzz::consume(tokenizer.decode(encoding->ids));
    return 0;
}
