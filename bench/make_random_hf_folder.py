#!/usr/bin/env python3
"""Writes a random Hugging Face folder of a real model's shape, for open-time / memory / first-maps measurements.

    python bench/make_random_hf_folder.py OUT_DIR [--shape llama-3.2-1b] [--dtype bf16] [--shard-gb 2]

The weights are random (normal, std 0.02, as transformers initialises) and written with the safetensors library in
transformers' own sharded layout (model-0000K-of-0000N.safetensors + model.safetensors.index.json); config.json is a
transformers LlamaConfig written by transformers itself, and tokenizer.json is a small byte-level BPE from the
`tokenizers` library (the ids it produces are valid in the 128256-token vocabulary). Nothing here is a model anyone
trained: it measures attnscope, not attention.
"""

import argparse
import json
import os

import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig

SHAPES = {
    # Llama-3.2-1B: 16 layers, hidden 2048, 32 / 8 heads of 64, intermediate 8192, vocab 128256, tied, llama3 rope.
    "llama-3.2-1b": dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32,
                         num_key_value_heads=8, head_dim=64, vocab_size=128256, max_position_embeddings=131072,
                         tie_word_embeddings=True, rms_norm_eps=1e-5, rope_theta=500000.0,
                         rope_scaling=dict(rope_type="llama3", factor=32.0, low_freq_factor=1.0,
                                           high_freq_factor=4.0, original_max_position_embeddings=8192)),
    "llama-16x32-2048": dict(hidden_size=2048, intermediate_size=5632, num_hidden_layers=16, num_attention_heads=32,
                             num_key_value_heads=8, vocab_size=32000, max_position_embeddings=65536),
}


def tensors_of(cfg):
    d, f, v = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    h, kv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = cfg.get("head_dim", d // h)
    yield "model.embed_tokens.weight", (v, d)
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        yield p + "input_layernorm.weight", (d,)
        yield p + "self_attn.q_proj.weight", (h * hd, d)
        yield p + "self_attn.k_proj.weight", (kv * hd, d)
        yield p + "self_attn.v_proj.weight", (kv * hd, d)
        yield p + "self_attn.o_proj.weight", (d, h * hd)
        yield p + "post_attention_layernorm.weight", (d,)
        yield p + "mlp.gate_proj.weight", (f, d)
        yield p + "mlp.up_proj.weight", (f, d)
        yield p + "mlp.down_proj.weight", (d, f)
    yield "model.norm.weight", (d,)
    if not cfg.get("tie_word_embeddings"):
        yield "lm_head.weight", (v, d)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--shape", default="llama-3.2-1b", choices=sorted(SHAPES))
    ap.add_argument("--dtype", default="bf16", choices=["bf16", "f16", "f32"])
    ap.add_argument("--shard-gb", type=float, default=2.0)
    a = ap.parse_args()
    cfg = SHAPES[a.shape]
    dtype = {"bf16": torch.bfloat16, "f16": torch.float16, "f32": torch.float32}[a.dtype]
    os.makedirs(a.out, exist_ok=True)
    LlamaConfig(**cfg, dtype={"bf16": "bfloat16", "f16": "float16", "f32": "float32"}[a.dtype]).save_pretrained(a.out)

    gen = torch.Generator().manual_seed(0)
    shards, current, size = [], {}, 0
    limit = int(a.shard_gb * (1 << 30))
    for name, shape in tensors_of(cfg):
        t = torch.ones(shape, dtype=dtype) if name.endswith("norm.weight") else \
            (torch.randn(shape, generator=gen) * 0.02).to(dtype)
        nbytes = t.numel() * t.element_size()
        if current and size + nbytes > limit:
            shards.append(current)
            current, size = {}, 0
        current[name] = t
        size += nbytes
    shards.append(current)
    weight_map, total = {}, 0
    for k, shard in enumerate(shards):
        fname = f"model-{k + 1:05d}-of-{len(shards):05d}.safetensors"
        save_file(shard, os.path.join(a.out, fname), metadata={"format": "pt"})
        for name, t in shard.items():
            weight_map[name] = fname
            total += t.numel() * t.element_size()
    with open(os.path.join(a.out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(["The quick brown fox jumps over the lazy dog."] * 8, trainer)
    tok.save(os.path.join(a.out, "tokenizer.json"))
    print(f"{a.out}: {len(shards)} shards, {total / (1 << 30):.2f} GiB of {a.dtype} weights")


if __name__ == "__main__":
    main()
