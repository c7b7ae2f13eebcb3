#!/usr/bin/env python3
"""Generates tests/data/hf/<case>/: tiny RANDOM Hugging Face checkpoints written by transformers itself, and the maps
and logits transformers computes for them. The oracle is transformers, never attnscope's own reference.

For every case this script
  1. builds the model with transformers' own config and model classes (AutoConfig.for_model / from_config), draws
     random weights (seeded; larger than transformers' 0.02 init so that attention is not uniform), and writes the
     folder with save_pretrained (safetensors; one case sharded with max_shard_size, one in bf16). Some cases then
     rewrite config.json in the transformers 4 style (rope_theta + rope_scaling with the legacy "type" key), which
     transformers 5 still reads: attnscope must read both.
  2. writes a tiny byte-level BPE tokenizer.json trained by the `tokenizers` library (the same for every case).
  3. reloads the folder with from_pretrained(dtype=float32, attn_implementation="eager") -- the reference is what
     transformers reads from exactly these files -- runs the prompt with output_attentions=True and writes
        expected/tokens.json   {"text", "ids", "lambda": [per layer, diffllama only], "sub_heads": Hs}
        expected/L{l}.npy      float32 [heads, T, T]: transformers' attention probabilities (all sub-heads for
                               diffllama: A1 of differential head i is sub-head i, A2 is sub-head i + Hs/2)
        expected/logits_last.npy float32 [V]
tests/test_hf_models.cpp loads each folder with attnscope and compares (maps 1e-5, logits 1e-4).

Run from the repository root:  "$(scripts/oracle-venv.sh | tail -1)/bin/python" tests/reference/make_hf_fixtures.py
"""

import json
import os
import shutil
import zlib

import numpy as np
import torch
import transformers
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import AutoConfig, AutoModelForCausalLM

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.normpath(os.path.join(HERE, "..", "data", "hf"))
PROMPT = "The quick brown fox, 12345 times: jumps over the lazy dog!"
VOCAB = 320  # every model's vocab_size; the tokenizer uses fewer ids (an embedding padded as real models do)

SMALL = dict(hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=2, max_position_embeddings=64, vocab_size=VOCAB)

CASES = [
    # name, model_type, config overrides, options
    ("llama_gqa", "llama", {}, {}),
    ("llama3_tied_bf16", "llama",
     dict(tie_word_embeddings=True, rope_theta=500000.0,
          rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                            original_max_position_embeddings=16)),
     dict(dtype=torch.bfloat16)),
    ("llama_linear_bias_sharded", "llama",
     dict(attention_bias=True, mlp_bias=True, rope_scaling=dict(rope_type="linear", factor=2.0)),
     dict(max_shard_size="20KB")),
    ("llama_dynamic_v4", "llama",
     dict(max_position_embeddings=8, rope_scaling=dict(rope_type="dynamic", factor=2.0)),
     dict(v4_config=True)),
    ("llama_longrope", "llama",
     dict(max_position_embeddings=32,
          rope_scaling=dict(rope_type="longrope", original_max_position_embeddings=8,
                            short_factor=[1.0, 1.1, 1.3, 1.7], long_factor=[1.0, 2.0, 4.0, 8.0])),
     {}),
    ("qwen2_yarn_v4", "qwen2",
     dict(max_position_embeddings=131072, tie_word_embeddings=True,
          rope_scaling=dict(type="yarn", factor=4.0, original_max_position_embeddings=32768)),
     dict(v4_config=True)),
    ("qwen2_sliding", "qwen2", dict(use_sliding_window=True, sliding_window=4, max_window_layers=1), {}),
    ("qwen3_headdim", "qwen3", dict(head_dim=16), {}),
    ("mistral_sliding", "mistral", dict(sliding_window=5), {}),
    ("gemma_mqa", "gemma", dict(head_dim=16, num_key_value_heads=1), {}),
    ("gemma2_softcap", "gemma2",
     dict(head_dim=16, query_pre_attn_scalar=24, sliding_window=4, attn_logit_softcapping=5.0,
          final_logit_softcapping=3.0),
     {}),
    ("gpt2", "gpt2", dict(n_embd=32, n_layer=2, n_head=4, n_positions=64, n_inner=48, vocab_size=VOCAB), {}),
    ("gpt2_inverse_layer", "gpt2",
     dict(n_embd=32, n_layer=3, n_head=2, n_positions=64, vocab_size=VOCAB, scale_attn_by_inverse_layer_idx=True),
     dict(hub_names=True)),
    ("diffllama_gqa", "diffllama", dict(num_attention_heads=8, num_key_value_heads=4), {}),
    ("diffllama_llama3_tied", "diffllama",
     dict(num_attention_heads=4, num_key_value_heads=4, tie_word_embeddings=True, rope_theta=500000.0,
          rope_scaling=dict(rope_type="llama3", factor=32.0, low_freq_factor=1.0, high_freq_factor=4.0,
                            original_max_position_embeddings=16)),
     {}),
]

GPT2_KEYS = {"hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
             "max_position_embeddings"}


def make_tokenizer(path):
    """A byte-level BPE like GPT-2's, trained by the tokenizers library on a few sentences."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    corpus = ["The quick brown fox jumps over the lazy dog.", "A lazy dog sleeps; the fox runs 12 times.",
              "Attention is all you need, they said, 2017 and 2024.", "Differential attention cancels noise."] * 4
    tok.train_from_iterator(corpus, trainer)
    tok.save(path)
    return tok


def randomize(model, seed):
    """Seeded weights of a size that makes attention maps far from uniform."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2:
                fan_in = p.shape[-1] if "c_attn" not in name and "c_fc" not in name and "c_proj" not in name \
                    else p.shape[0]
                p.copy_(torch.randn(p.shape, generator=gen) * (1.5 / fan_in ** 0.5))
            elif "lambda" in name:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.3)
            elif "norm" in name or "ln_" in name:
                base = 0.0 if model.config.model_type.startswith("gemma") and "weight" in name else 1.0
                if name.endswith("bias"):
                    base = 0.0
                p.copy_(base + torch.randn(p.shape, generator=gen) * 0.2)
            else:  # biases
                p.copy_(torch.randn(p.shape, generator=gen) * 0.2)


def to_v4_config(path):
    """Rewrites config.json in the transformers 4 style: rope_theta + rope_scaling (legacy "type" key)."""
    with open(path) as f:
        cfg = json.load(f)
    params = cfg.pop("rope_parameters", None) or {}
    cfg["rope_theta"] = params.pop("rope_theta", 10000.0)
    rope_type = params.pop("rope_type", "default")
    if rope_type != "default":
        params["type"] = rope_type
        cfg["rope_scaling"] = params
    if "dtype" in cfg:
        cfg["torch_dtype"] = cfg.pop("dtype")
    with open(path, "w") as f:
        json.dump(cfg, f, indent=2)


def diff_lambdas(model):
    """lambda per layer as DiffLlama's forward computes it (fp32 sums, lambda_init by 0-based layer)."""
    out = []
    for i, layer in enumerate(model.model.layers):
        a = layer.self_attn
        l1 = torch.exp(torch.sum(a.lambda_q1 * a.lambda_k1, dim=-1, dtype=torch.float32))
        l2 = torch.exp(torch.sum(a.lambda_q2 * a.lambda_k2, dim=-1, dtype=torch.float32))
        out.append(float(l1 - l2 + a.lambda_init))
    return out


def build(name, model_type, overrides, options, tokenizer):
    folder = os.path.join(OUT, name)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(os.path.join(folder, "expected"))
    base = {} if model_type == "gpt2" else dict(SMALL)
    base.update(overrides)
    config = AutoConfig.for_model(model_type, **base)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, attn_implementation="eager")
    randomize(model, zlib.crc32(name.encode()))
    if options.get("dtype") is not None:
        model = model.to(options["dtype"])
    save_kwargs = {}
    if "max_shard_size" in options:
        save_kwargs["max_shard_size"] = options["max_shard_size"]
    model.save_pretrained(folder, **save_kwargs)
    if options.get("hub_names"):  # GPT-2 as the Hub's original files name it: no "transformer." prefix
        from safetensors.torch import load_file, save_file
        path = os.path.join(folder, "model.safetensors")
        tensors = {k.removeprefix("transformer."): v for k, v in load_file(path).items()}
        save_file(tensors, path, metadata={"format": "pt"})
    if options.get("v4_config"):
        to_v4_config(os.path.join(folder, "config.json"))
    shutil.copy(tokenizer["path"], os.path.join(folder, "tokenizer.json"))

    ref = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager")
    ref.eval()
    ids = tokenizer["ids"]
    with torch.no_grad():
        out = ref(torch.tensor([ids]), output_attentions=True)
    for layer, attn in enumerate(out.attentions):
        np.save(os.path.join(folder, "expected", f"L{layer}.npy"), attn[0].float().numpy().astype(np.float32))
    np.save(os.path.join(folder, "expected", "logits_last.npy"), out.logits[0, -1].float().numpy().astype(np.float32))
    meta = {"text": PROMPT, "ids": ids, "model_type": model_type}
    if model_type == "diffllama":
        meta["lambda"] = diff_lambdas(ref)
        meta["sub_heads"] = ref.config.num_attention_heads
    with open(os.path.join(folder, "expected", "tokens.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(f"{name}: {len(ids)} tokens, {len(out.attentions)} layers, heads {out.attentions[0].shape[1]}")


def main():
    os.makedirs(OUT, exist_ok=True)
    tok_path = os.path.join(OUT, "tokenizer.json")
    tok = make_tokenizer(tok_path)
    ids = tok.encode(PROMPT).ids
    assert max(ids) < VOCAB
    tokenizer = {"path": tok_path, "ids": ids}
    for name, model_type, overrides, options in CASES:
        build(name, model_type, overrides, options, tokenizer)
    os.remove(tok_path)
    with open(os.path.join(OUT, "README.md"), "w") as f:
        f.write("Generated by tests/reference/make_hf_fixtures.py with transformers " + transformers.__version__
                + " and torch " + torch.__version__ + ". Do not edit by hand; rerun the script.\n")


if __name__ == "__main__":
    main()
