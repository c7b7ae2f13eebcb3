#!/usr/bin/env python3
"""Writes tests/data/state-dict/: plain torch.save state_dicts named as the unilm YOCO code names a Llama-style model
that holds the official DIFF module (interop.md 4.4: tok_embeddings, layers.{i}.attention.{q_proj,...,lambda_*,subln}
or {wq,wk,wv,wo}, attention_norm, ffn_norm, feed_forward.{w1,w2,w3}, norm, output), inside a fairseq-like checkpoint
({"args": argparse.Namespace, "model": OrderedDict} with the "decoder.model." prefix), plus the sidecar
FILE.pt.attnscope.json that gives attnscope the shape facts such a file lacks.

The weights are those of the reference fixtures in tests/data/reference/ (written by make_fixtures.py from the
independent float64 reference of the official code), so tests/test_state_dict.cpp can check the maps attnscope
computes from the .pt against the same expected maps. Written by torch.save itself.

Run from the repository root:  "$(scripts/oracle-venv.sh | tail -1)/bin/python" tests/reference/make_state_dict_fixtures.py
"""

import argparse
import collections
import json
import os
import re

import torch
from safetensors.torch import load_file

HERE = os.path.dirname(os.path.abspath(__file__))
REF = os.path.normpath(os.path.join(HERE, "..", "data", "reference"))
OUT = os.path.normpath(os.path.join(HERE, "..", "data", "state-dict"))
PREFIX = "decoder.model."
CASES = ["diff_rope", "diff_rope_gqa_flash", "softmax_rope_rotatehalf_standard_gqa"]


def yoco_name(name, softmax):
    name = re.sub(r"^(layers\.\d+\.)attn\.", r"\1attention.", name)
    if softmax:  # YOCO's own softmax attention: wq, wk, wv, wo
        name = re.sub(r"\.attention\.(q|k|v)_proj\.", r".attention.w\1.", name)
        name = name.replace(".attention.out_proj.", ".attention.wo.")
    return name


def main():
    os.makedirs(OUT, exist_ok=True)
    for case in CASES:
        with open(os.path.join(REF, case, "config.json")) as f:
            config = json.load(f)
        softmax = config["attention"] == "softmax"
        tensors = load_file(os.path.join(REF, case, "model.safetensors"))
        state = collections.OrderedDict((PREFIX + yoco_name(k, softmax), v) for k, v in sorted(tensors.items()))
        args = argparse.Namespace(arch="diff_transformer", decoder_layers=config["n_layers"])
        path = os.path.join(OUT, case + ".pt")
        torch.save({"args": args, "model": state, "optimizer_history": []}, path)
        config["state_dict"] = {"key": "model", "prefix": PREFIX, "names": "yoco"}
        with open(path + ".attnscope.json", "w") as f:
            json.dump(config, f, indent=2)
        print(case, len(state), "tensors")


if __name__ == "__main__":
    main()
