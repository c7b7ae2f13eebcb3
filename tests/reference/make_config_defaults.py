#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Writes tests/data/config-defaults/transformers.json: the defaults of transformers' config classes for every
Hugging Face family attnscope imports (what a config.json that leaves a field out means). test_config_defaults.cpp
checks the Hugging Face rows of core/include/attnscope/config_defaults.h, and the importer's results, against it.

    $ATTNSCOPE_VENV/bin/python tests/reference/make_config_defaults.py
"""
import json
import pathlib

import transformers

FAMILIES = {
    "llama": transformers.LlamaConfig,
    "mistral": transformers.MistralConfig,
    "qwen2": transformers.Qwen2Config,
    "qwen3": transformers.Qwen3Config,
    "gemma": transformers.GemmaConfig,
    "gemma2": transformers.Gemma2Config,
    "diffllama": transformers.DiffLlamaConfig,
    "gpt2": transformers.GPT2Config,
}

# The fields attnscope's importer reads (core/src/hf/hf_config.cpp).
KEYS = [
    "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
    "num_key_value_heads", "head_dim", "max_position_embeddings", "rms_norm_eps", "tie_word_embeddings",
    "query_pre_attn_scalar", "attn_logit_softcapping", "final_logit_softcapping", "n_embd", "n_layer", "n_head",
    "n_positions", "layer_norm_epsilon",
]


def defaults(config_class):
    d = config_class().to_dict()
    out = {key: d[key] for key in KEYS if d.get(key) is not None}
    rope = d.get("rope_parameters") or {}
    theta = rope.get("rope_theta", d.get("rope_theta"))
    if theta is not None:
        out["rope_theta"] = theta
    return out


def probe(config_class):
    """What the class derives from hidden_size 64 and 4 heads: which sizes are rules and which fixed values."""
    c = config_class(hidden_size=64, num_attention_heads=4)
    head_dim = getattr(c, "head_dim", None)
    return {"num_key_value_heads": c.num_key_value_heads, "head_dim": head_dim if head_dim is not None else 64 // 4}


def main():
    table = {"transformers_version": transformers.__version__}
    table["families"] = {name: defaults(cls) for name, cls in FAMILIES.items()}
    # GPT-2 has neither field (n_head, n_embd; every head is n_embd / n_head wide).
    table["hidden_size_64_heads_4"] = {name: probe(cls) for name, cls in FAMILIES.items() if name != "gpt2"}
    out = pathlib.Path(__file__).resolve().parents[1] / "data" / "config-defaults" / "transformers.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
    print(out)


if __name__ == "__main__":
    main()
