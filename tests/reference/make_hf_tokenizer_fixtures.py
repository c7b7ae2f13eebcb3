#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Builds tokenizer.json fixtures with the Hugging Face `tokenizers` library and records what it (and, where a
tokenizer_config.json is present, `transformers.AutoTokenizer`) makes of a corpus of awkward prompts.

Run:  /work/venv/bin/python tests/reference/make_hf_tokenizer_fixtures.py
Writes tests/data/hf-tokenizers/<name>/{tokenizer.json[, tokenizer_config.json], expected.json}.

Every tokenizer is trained here with the library's own trainers on the small corpus below (or assembled from its
Python classes), saved with tokenizer.save(), then loaded back from the file: the expected values are what the
library computes from exactly the file the C++ side reads. Nothing in expected.json is written by hand.

expected.json: {"cases": [{"text", "add_special_tokens", "ids", "spans", "decoded"}]}. Spans are [begin, end)
BYTE offsets into the UTF-8 prompt (the library reports character offsets for Python strings; they are converted
here). "decoded" is tokenizer.decode(ids, skip_special_tokens=True).
"""

import json
import os
import shutil
import sys

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from tokenizers import trainers

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "hf-tokenizers")

LLAMA3_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
    r"|\s+(?!\S)|\s+"
)
QWEN2_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
    r"|\s+(?!\S)|\s+"
)

# Training text: English prose, code and a little French, so that CJK and emoji stay out of the learned pieces
# (they exercise byte fallback, unk and byte-level splitting of multi-byte characters).
TRAIN = [
    "The quick brown fox jumps over the lazy dog. Hello world, hello there!",
    "It's what they'd said: we're here, you've seen it, I'm sure they'll come.",
    "def square(x):\n    return x ** 2  # the square\n\nfor i in range(10):\n\tprint(i, square(i))\n",
    "Numbers 12345 and 67, 2024-06-01, 3.14159 and 1,000,000 appear in text.",
    "Attention maps show where each head looks; differential attention cancels noise.",
    "Le café est chaud, la crème brûlée aussi. Naïve résumé façade.",
    "int main() { return 0; }  // C code\r\nline two\r\n",
    "    indented   text   with    spaces\n\n  and new lines\n",
] * 8

CORPUS = [
    "",
    "Hello world",
    "hello",
    "12345 67",
    "a\r\nb\r\n",
    " leading space",
    "multiple   spaces  here",
    "\n\n  x",
    "trailing   ",
    "   ",
    "non\u00a0breaking\u00a0space",
    "\u3000full width space",
    "漢字テスト 中文",
    "emoji 😀👍🏽!",
    "cafe\u0301 and caf\u00e9 e\u0301\u0323z",
    "\u0130stanbul \u212bngstr\u00f6m \ufb01ne \u2460",
    "a<|im_start|>b",
    "x <s> y</s>z",
    "<|endoftext|>",
    "a <mask> b<mask>c",
    "x[X]y x [X] y [X]",
    "def f(x):\n\treturn x**2  # square\n",
    "The quick brown fox's jumps, don't they? It'S OK.",
    "tab\tseparated\tvalues",
    "qxq zzz Qxq",
    "1,000,000 + 3.14 = 2024-06-01",
    "x\u200by",
]


def byte_spans(text, offsets):
    """Character offsets -> UTF-8 byte offsets into text."""
    starts = [0]
    for ch in text:
        starts.append(starts[-1] + len(ch.encode("utf-8")))
    return [[starts[b], starts[e]] for b, e in offsets]


def run_library(tok, with_config_dir=None):
    """The cases for one tokenizer: ids, byte spans and decoded text, from Tokenizer or AutoTokenizer."""
    auto = None
    if with_config_dir is not None:
        from transformers import AutoTokenizer

        auto = AutoTokenizer.from_pretrained(with_config_dir)
    cases = []
    for text in CORPUS:
        for special in (True, False):
            if auto is None:
                enc = tok.encode(text, add_special_tokens=special)
                ids, offsets = enc.ids, enc.offsets
                decoded = tok.decode(ids, skip_special_tokens=True)
            else:
                out = auto(text, add_special_tokens=special, return_offsets_mapping=True)
                ids, offsets = out["input_ids"], out["offset_mapping"]
                # The library's own decode over the same ids (transformers adds clean-up options of its own).
                decoded = auto.backend_tokenizer.decode(ids, skip_special_tokens=True)
            cases.append(
                {
                    "text": text,
                    "add_special_tokens": special,
                    "ids": list(ids),
                    "spans": byte_spans(text, offsets),
                    "decoded": decoded,
                }
            )
    return cases


def llama_v4_template(tok, config):
    """transformers 4's LlamaTokenizerFast.update_post_processor: the template comes from add_bos_token (default
    true) and add_eos_token (default false), whatever tokenizer.json says. transformers 5 rebuilds LlamaTokenizer
    from scratch instead, so this rule is applied here with the library's TemplateProcessing."""
    bos, eos = "<s>", "</s>"
    add_bos = config.get("add_bos_token", True)
    add_eos = config.get("add_eos_token", False)
    single = (f"{bos}:0 " if add_bos else "") + "$A:0" + (f" {eos}:0" if add_eos else "")
    pair = single + (f" {bos}:1" if add_bos else "") + " $B:1" + (f" {eos}:1" if add_eos else "")
    specials = ([(bos, tok.token_to_id(bos))] if add_bos else []) + ([(eos, tok.token_to_id(eos))] if add_eos else [])
    tok.post_processor = processors.TemplateProcessing(single=single, pair=pair, special_tokens=specials)


def write(name, tok, config=None, rewrite=None):
    """Saves tok (optionally rewriting its JSON), reloads it from the file, records the cases."""
    folder = os.path.join(ROOT, name)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    path = os.path.join(folder, "tokenizer.json")
    tok.save(path)
    if rewrite is not None:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        rewrite(data)
        with open(path, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False, indent=1)
    reloaded = Tokenizer.from_file(path)
    if config is not None:
        with open(os.path.join(folder, "tokenizer_config.json"), "w", encoding="utf-8") as f:
            json.dump(config, f, ensure_ascii=False, indent=1)
    if config is not None and config.get("tokenizer_class") == "LlamaTokenizerFast":
        llama_v4_template(reloaded, config)
        cases = run_library(reloaded)
    else:
        cases = run_library(reloaded, folder if config is not None else None)
    with open(os.path.join(folder, "expected.json"), "w", encoding="utf-8") as f:
        json.dump({"generator": "tests/reference/make_hf_tokenizer_fixtures.py", "cases": cases}, f,
                  ensure_ascii=False, indent=None, separators=(",", ":"))
    print(f"{name}: vocab {reloaded.get_vocab_size()}, {len(cases)} cases")


def string_merges(data):
    """The legacy merges layout: "a b" strings (what GPT-2's files hold)."""
    data["model"]["merges"] = [" ".join(m) if isinstance(m, list) else m for m in data["model"]["merges"]]


def pair_merges(data):
    data["model"]["merges"] = [m.split(" ") if isinstance(m, str) else m for m in data["model"]["merges"]]


def byte_level_bpe(vocab_size, pre, normalizer=None):
    tok = Tokenizer(models.BPE())
    if normalizer is not None:
        tok.normalizer = normalizer
    tok.pre_tokenizer = pre
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(TRAIN, trainer)
    tok.decoder = decoders.ByteLevel()
    return tok


def gpt2(add_prefix_space):
    tok = byte_level_bpe(600, pre_tokenizers.ByteLevel(add_prefix_space=add_prefix_space))
    tok.post_processor = processors.ByteLevel(trim_offsets=True, add_prefix_space=add_prefix_space)
    tok.add_special_tokens(["<|endoftext|>", "<|im_start|>", AddedToken("<mask>", lstrip=True, rstrip=True)])
    tok.add_tokens([AddedToken("[X]", single_word=True, normalized=False)])
    return tok


def sentencepiece_bpe(normalizer, pre, decoder, byte_fallback, drop_bytes=()):
    """A Llama-2-style model: <unk> <s> </s>, the byte pieces <0x00>..<0xFF> (less drop_bytes), learned pieces."""
    trainer_tok = Tokenizer(models.BPE(unk_token="<unk>"))
    trainer_tok.normalizer = normalizers.Replace(" ", "▁")
    trainer_tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    trainer = trainers.BpeTrainer(vocab_size=500, special_tokens=["<unk>", "<s>", "</s>"], limit_alphabet=80,
                                  show_progress=False)
    trainer_tok.train_from_iterator(TRAIN, trainer)
    learned = json.loads(trainer_tok.to_str())["model"]
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    if byte_fallback:
        for b in range(256):
            if b not in drop_bytes:
                vocab[f"<0x{b:02X}>"] = len(vocab)
    for piece, _ in sorted(learned["vocab"].items(), key=lambda kv: kv[1]):
        if piece not in vocab:
            vocab[piece] = len(vocab)
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in learned["merges"]]
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="<unk>", fuse_unk=True,
                               byte_fallback=byte_fallback))
    if normalizer is not None:
        tok.normalizer = normalizer
    if pre is not None:
        tok.pre_tokenizer = pre
    tok.decoder = decoder
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B",
                                                       special_tokens=[("<s>", 1)])
    tok.add_special_tokens([AddedToken("<unk>", normalized=False), AddedToken("<s>", normalized=False),
                            AddedToken("</s>", normalized=False)])
    return tok


def llama2_decoder():
    return decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                              decoders.Strip(content=" ", left=1, right=0)])


def llama2_legacy():
    # The 4-byte lead bytes are missing, so emoji cannot fall back to bytes and become (fused) <unk>.
    return sentencepiece_bpe(normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")]), None,
                             llama2_decoder(), True, drop_bytes=range(0xF0, 0x100))


def llama2_metaspace():
    return sentencepiece_bpe(None, pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False),
                             decoders.Metaspace(replacement="▁", prepend_scheme="first", split=False), True)


def llama_config(add_bos, add_eos, cls="PreTrainedTokenizerFast"):
    # PreTrainedTokenizerFast: transformers 5.24's AutoTokenizer uses tokenizer.json's post_processor as is (the
    # flags do not change it). LlamaTokenizerFast: transformers 4's rule, see llama_v4_template.
    return {"tokenizer_class": cls, "add_bos_token": add_bos, "add_eos_token": add_eos,
            "bos_token": "<s>", "eos_token": {"__type": "AddedToken", "content": "</s>", "lstrip": False,
                                                 "normalized": False, "rstrip": False, "single_word": False},
            "unk_token": "<unk>", "legacy": True, "model_max_length": 4096}


def split_byte_level(regex, normalizer, vocab_size):
    pre = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(regex), behavior="isolated", invert=False),
                                   pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    return byte_level_bpe(vocab_size, pre, normalizer)


def llama3():
    tok = split_byte_level(LLAMA3_REGEX, None, 700)
    tok.add_special_tokens(["<|begin_of_text|>", "<|end_of_text|>", "<|im_start|>"])
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(add_prefix_space=True, trim_offsets=False, use_regex=True),
        processors.TemplateProcessing(single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|> $B",
                                      special_tokens=[("<|begin_of_text|>", tok.token_to_id("<|begin_of_text|>"))]),
    ])
    return tok


def llama3_rewrite(data):
    """Newer layout: [a, b] merges and ignore_merges; plus whole-word pieces that no merge builds, which only
    ignore_merges can emit."""
    pair_merges(data)
    model = data["model"]
    model["ignore_merges"] = True
    # The new pieces go right after the model's vocabulary; the added tokens (and the template's ids) move up.
    extra = ["qxq", "Ġzzz"]
    first = max(model["vocab"].values()) + 1
    for i, piece in enumerate(extra):
        model["vocab"][piece] = first + i
    for token in data["added_tokens"]:
        token["id"] += len(extra)
    for processor in data["post_processor"]["processors"]:
        for special in processor.get("special_tokens", {}).values():
            special["ids"] = [i + len(extra) for i in special["ids"]]


def qwen2():
    tok = split_byte_level(QWEN2_REGEX, normalizers.NFC(), 700)
    tok.post_processor = processors.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    tok.add_special_tokens(["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
    return tok


def wordpiece():
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=12))
    tok.normalizer = normalizers.Sequence([normalizers.NFC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Whitespace(),
                                                 pre_tokenizers.Digits(individual_digits=True)])
    trainer = trainers.WordPieceTrainer(vocab_size=400, special_tokens=["[UNK]", "[CLS]", "[SEP]", "[PAD]"],
                                        limit_alphabet=60, show_progress=False)
    tok.train_from_iterator(TRAIN, trainer)
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]",
                                                       special_tokens=[("[CLS]", 1), ("[SEP]", 2)])
    tok.decoder = decoders.WordPiece()
    return tok


def char_bpe(normalizer, pre):
    """A small character-level BPE (no byte level, <unk> for unseen characters) to show pre-tokenizer splits."""
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<unk>"], show_progress=False,
                                  initial_alphabet=[" ", "\n", "\t", "\r", "▁"])
    tok.train_from_iterator(TRAIN, trainer)
    tok.pre_tokenizer = pre
    if normalizer is not None:
        tok.normalizer = normalizer
    return tok


def main():
    os.makedirs(ROOT, exist_ok=True)
    write("gpt2", gpt2(False), rewrite=string_merges)
    write("gpt2-prefix-space", gpt2(True), rewrite=string_merges)
    write("llama2-legacy", llama2_legacy(), config=llama_config(True, False))
    write("llama2-legacy-eos", llama2_legacy(), config=llama_config(True, True, "LlamaTokenizerFast"))
    write("llama2-legacy-nobos", llama2_legacy(), config=llama_config(False, False, "LlamaTokenizerFast"))
    write("llama2-legacy-fast-nobos", llama2_legacy(), config=llama_config(False, True))
    write("llama2-legacy-raw", llama2_legacy())
    write("llama2-metaspace", llama2_metaspace(), config=llama_config(True, False))
    write("llama3", llama3(), rewrite=llama3_rewrite,
          config={"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<|begin_of_text|>",
                  "eos_token": "<|end_of_text|>", "model_max_length": 131072})
    write("qwen2", qwen2(), config={"tokenizer_class": "Qwen2Tokenizer", "bos_token": None,
                                    "eos_token": "<|endoftext|>", "add_prefix_space": False})
    write("wordpiece", wordpiece())
    bh = {
        "split-removed": pre_tokenizers.Split(Regex(r"\s+"), behavior="removed"),
        "split-merged-previous": pre_tokenizers.Split(Regex(r"[,.!?]"), behavior="merged_with_previous"),
        "split-merged-next": pre_tokenizers.Split(" ", behavior="merged_with_next"),
        "split-contiguous": pre_tokenizers.Split(Regex(r"\p{N}"), behavior="contiguous"),
        "split-invert": pre_tokenizers.Split(Regex(r"\p{L}+"), behavior="removed", invert=True),
        "metaspace-always-split": pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True),
        "punctuation-digits": pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(),
                                                       pre_tokenizers.Punctuation(),
                                                       pre_tokenizers.Digits(individual_digits=False)]),
    }
    for name, pre in bh.items():
        write(name, char_bpe(None, pre))
    write("normalizer-chain", char_bpe(
        normalizers.Sequence([normalizers.NFKC(), normalizers.Strip(), normalizers.Replace(Regex(" {2,}"), " "),
                              normalizers.Lowercase()]),
        pre_tokenizers.Whitespace()))
    write("nfd", char_bpe(normalizers.NFD(), pre_tokenizers.WhitespaceSplit()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
