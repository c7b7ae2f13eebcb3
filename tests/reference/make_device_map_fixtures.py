#!/usr/bin/env python3
"""Generates tests/data/device-map/cases.json: the device maps Hugging Face computes for from_pretrained(device_map=...)
on model shapes like real ones, the oracle of attnscope's planner (core/src/device_map.cpp, tests/test_device_map.cpp).

For every case this script builds a transformers model on the meta device (no weights are allocated), asks
transformers' own integration code what from_pretrained does for device_map="balanced" (get_balanced_memory, then
infer_auto_device_map with the model's _no_split_modules) or "sequential" (infer_auto_device_map on the budgets as they
are), with max_memory given per GPU, and writes
    sizes:   the bytes accelerate counted for each part (embed_tokens, every layer, norm, lm_head, and "other": buffers
             without weights such as rotary_emb's inv_freq, placed right after the norm)
    devices: the GPU index each part landed on (embed_tokens, layers[], norm, lm_head)
Cases that would spill to the CPU or disk are not written: attnscope refuses them instead.

Run from the repository root:
    "$(scripts/oracle-venv.sh | tail -1)/bin/python" tests/reference/make_device_map_fixtures.py
"""

import json
import os
import warnings

import torch
import transformers
from transformers.integrations.accelerate import (
    compute_module_sizes,
    get_balanced_memory,
    get_max_memory,
    infer_auto_device_map,
)

GIB = 1 << 30
MIB = 1 << 20

SHAPES = {
    # Llama-3-8B: untied head, GQA.
    "llama8b": dict(vocab_size=128256, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                    num_attention_heads=32, num_key_value_heads=8, tie_word_embeddings=False),
    # Llama-3.2-1B: tied head.
    "llama1b": dict(vocab_size=128256, hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
                    num_attention_heads=32, num_key_value_heads=8, tie_word_embeddings=True),
    # Small: a handful of layers where the embeddings outweigh a layer many times.
    "small": dict(vocab_size=32000, hidden_size=256, intermediate_size=688, num_hidden_layers=6,
                  num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=False),
}

CASES = [
    ("llama8b", torch.bfloat16, "balanced", [80 * GIB, 80 * GIB]),
    ("llama8b", torch.bfloat16, "balanced", [80 * GIB] * 4),
    ("llama8b", torch.bfloat16, "balanced", [4 * GIB, 6 * GIB, 40 * GIB]),
    ("llama8b", torch.float32, "balanced", [24 * GIB] * 3),
    ("llama8b", torch.bfloat16, "sequential", [5 * GIB, 6 * GIB, 40 * GIB]),
    ("llama8b", torch.bfloat16, "sequential", [9 * GIB, 9 * GIB]),
    ("llama1b", torch.bfloat16, "balanced", [40 * GIB, 40 * GIB]),
    ("llama1b", torch.bfloat16, "balanced", [40 * GIB] * 3),
    ("llama1b", torch.float32, "sequential", [2 * GIB, 2 * GIB, 8 * GIB]),
    ("small", torch.float32, "balanced", [GIB, GIB]),
    ("small", torch.float32, "balanced", [GIB] * 5),
    ("small", torch.float32, "sequential", [60 * MIB, 20 * MIB, GIB]),
]


def build(shape, dtype):
    config = transformers.LlamaConfig(**SHAPES[shape])
    with torch.device("meta"):
        model = transformers.LlamaForCausalLM(config)
    return model.to(dtype)


def device_of(name, device_map):
    """The device of a module under accelerate's (cleaned) map: its own entry or its closest ancestor's."""
    while True:
        if name in device_map:
            return device_map[name]
        if name == "":
            raise KeyError(name)
        name = name.rsplit(".", 1)[0] if "." in name else ""


def main():
    out = []
    for shape, dtype, strategy, budgets in CASES:
        model = build(shape, dtype)
        no_split = model._no_split_modules
        max_memory = {i: b for i, b in enumerate(budgets)}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Device i is not available": this machine has no GPU, the plan needs none
            if strategy == "balanced":
                inferred = get_balanced_memory(model, max_memory=dict(max_memory), no_split_module_classes=no_split)
            else:
                inferred = get_max_memory(dict(max_memory))
            inferred = {k: v for k, v in inferred.items() if isinstance(k, int)}
            device_map = infer_auto_device_map(model, max_memory=inferred, no_split_module_classes=no_split)
        placed = {device_of(n, device_map) for n in ["model.embed_tokens", "model.norm", "lm_head"]}
        placed |= {device_of(f"model.layers.{i}", device_map) for i in range(model.config.num_hidden_layers)}
        if any(not isinstance(d, int) for d in placed):
            raise SystemExit(f"{shape} {strategy} {budgets}: spills to {placed}; choose budgets that fit")
        sizes, _ = compute_module_sizes(model)
        n = model.config.num_hidden_layers
        parts = sizes["model.embed_tokens"] + sizes["model.norm"] + sizes.get("lm_head", 0)
        parts += sum(sizes[f"model.layers.{i}"] for i in range(n))
        out.append({
            "name": f"{shape}-{str(dtype).replace('torch.', '')}-{strategy}-{len(budgets)}",
            "strategy": strategy,
            "budgets": budgets,
            "tied": bool(model.config.tie_word_embeddings),
            "sizes": {
                "embed_tokens": sizes["model.embed_tokens"],
                "layers": [sizes[f"model.layers.{i}"] for i in range(n)],
                "norm": sizes["model.norm"],
                "lm_head": sizes.get("lm_head", 0),
                "other": sizes[""] - parts,
            },
            "devices": {
                "embed_tokens": device_of("model.embed_tokens", device_map),
                "layers": [device_of(f"model.layers.{i}", device_map) for i in range(n)],
                "norm": device_of("model.norm", device_map),
                "lm_head": device_of("lm_head", device_map),
            },
        })
    folder = os.path.join(os.path.dirname(__file__), "..", "data", "device-map")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "cases.json"), "w") as f:
        json.dump({"transformers": transformers.__version__, "cases": out}, f, indent=1)
        f.write("\n")
    print(f"wrote {len(out)} cases")


if __name__ == "__main__":
    main()
