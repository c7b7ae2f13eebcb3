#!/usr/bin/env python3
"""Generates the golden reference fixtures in tests/data/reference/ (tiny seeded attnscope models).

Why this file exists
--------------------
tests/test_reference_fixtures.cpp loads every fixture directory with the C++ engine, captures every
map of every (layer, head) and compares it with what the independent Python reference
(attnscope_reference.py, float64) computed. This script writes those directories:

    tests/data/reference/<name>/config.json          our model format (docs/model-format.md)
    tests/data/reference/<name>/model.safetensors    F32 weights (one fixture F16, one BF16)
    tests/data/reference/<name>/expected/tokens.json {"tokens": [...], "lambda": [...] or []}
    tests/data/reference/<name>/expected/L{l}_H{h}_{KIND}.npy   float32 [T, T], NaN where j > i
    tests/data/reference/<name>/expected/logits_last.npy        float32 [V], last position

Weights are drawn with torch.manual_seed(crc32(name)), rounded to the storage dtype, and the reference
runs on the ROUNDED values in float64, so the expected numbers are exact for the file's contents.
As a tolerance sanity check the reference is also run in float32 and the worst float32-vs-float64
difference per fixture is printed (the C++ test allows 1e-5 on maps, 1e-4 on logits).

Run from the repository root:  /usr/bin/python3 tests/reference/make_fixtures.py
(check_reference.py should pass first.)
"""

import json
import os
import shutil
import sys
import zlib

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import attnscope_reference as ref  # noqa: E402

OUT_DIR = os.path.normpath(os.path.join(HERE, "..", "data", "reference"))

BASE = {"format": "attnscope-model", "format_version": 1, "vocab_size": 259, "d_model": 32,
        "n_layers": 2, "head_dim": 8, "ffn_hidden": 48, "max_seq_len": 16,
        "tokenizer": {"type": "bytes", "add_bos": True}}

# name -> (config overrides, storage dtype, prompt text). T = 1 (BOS) + UTF-8 byte count, 9..12.
FIXTURES = {
    "softmax_none": ({"n_heads": 4, "attention": "softmax", "position": "none", "tie_embeddings": True},
                     "F32", "hello, w"),
    "softmax_learned": ({"n_heads": 4, "attention": "softmax", "position": "learned", "norm_eps": 1e-6},
                        "F16", "abc abc ab"),
    "softmax_rope_interleaved_linspace": (
        {"n_heads": 4, "attention": "softmax", "position": "rope",
         "rope": {"theta": 10000.0, "style": "interleaved", "freqs": "linspace"}}, "F32", "the cat sat"),
    "softmax_rope_rotatehalf_standard_gqa": (
        {"n_heads": 4, "n_kv_heads": 2, "attention": "softmax", "position": "rope",
         "rope": {"theta": 100.0, "style": "rotate_half", "freqs": "standard"}}, "F32", "café au l"),
    "softmax_cope_code": ({"n_heads": 4, "attention": "softmax", "position": "cope"}, "F32", "a.b.c.d.e"),
    "softmax_cope_appendix_sepkey": (
        {"n_heads": 4, "n_kv_heads": 2, "attention": "softmax", "position": "cope",
         "cope": {"npos": 5, "scaling": "appendix", "sep_key": True}}, "F32", "x = 1; y++;"),
    "softmax_ropecope": (
        {"n_heads": 4, "attention": "softmax", "position": "rope+cope",
         "cope": {"npos": 6, "scaling": "code", "rope_query": "rotated"}}, "F32", "one. two. "),
    "softmax_ropecope_unrotated": (
        {"n_heads": 4, "attention": "softmax", "position": "rope+cope", "rope": {"style": "rotate_half"},
         "cope": {"scaling": "appendix", "rope_query": "unrotated"}}, "F32", "print a 10"),
    "diff_rope": ({"n_heads": 2, "attention": "diff", "position": "rope"}, "BF16", "diff attn"),
    "diff_rope_gqa_flash": ({"n_heads": 2, "n_kv_heads": 1, "attention": "diff", "gqa": "flash",
                             "position": "rope"}, "F32", "group query"),
    "diff_rope_gqa_naive": ({"n_heads": 2, "n_kv_heads": 1, "attention": "diff", "gqa": "naive",
                             "position": "rope"}, "F32", "group query"),
    "diff_cope": ({"n_heads": 2, "attention": "diff", "position": "cope", "tie_embeddings": True,
                   "cope": {"npos": 6, "scaling": "code"}}, "F32", "count me!"),
    "diff_ropecope_sepkey": (
        {"n_heads": 2, "n_kv_heads": 1, "attention": "diff", "position": "rope+cope",
         "rope": {"theta": 500.0, "style": "rotate_half", "freqs": "standard"},
         "cope": {"npos": 17, "scaling": "appendix", "sep_key": True}}, "F32", "w 1 i 0 r 1"),
    "diff_none_lambda_gt1": ({"n_heads": 2, "attention": "diff", "position": "none",
                              "tie_embeddings": True}, "F32", "lambda > 1"),
}
# Scales chosen so maps are clearly non-uniform while a float32 run of this same reference stays within
# ~2e-6 of the float64 values on every map (5x margin under the C++ test's 1e-5): with std 0.3 the
# logits S and CoPE position logits B reach |x| ~ 10-20 and float32 drifts by up to 5e-5 there.
PROJ_STD = 0.15
POS_EMB_STD = 0.5
SAME_WEIGHTS = {"diff_rope_gqa_naive": "diff_rope_gqa_flash"}  # seeded from the other fixture's name
CLAMPED = ("softmax_cope_appendix_sepkey", "softmax_ropecope", "diff_cope")  # P must reach npos - 1


def make_config(name):
    overrides = FIXTURES[name][0]
    cfg = dict(BASE)
    cfg.update(overrides)
    key_order = ["format", "format_version", "vocab_size", "d_model", "n_layers", "n_heads", "n_kv_heads",
                 "head_dim", "ffn_hidden", "norm_eps", "tie_embeddings", "max_seq_len", "attention", "gqa",
                 "position", "rope", "cope", "tokenizer"]
    return {k: cfg[k] for k in key_order if k in cfg}


def make_weights(name, cfg_norm):
    """Seeded random weights (float64) for every tensor the config needs."""
    torch.manual_seed(zlib.crc32(SAME_WEIGHTS.get(name, name).encode()))
    w = {}
    for tname, shape in sorted(ref.tensor_shapes(cfg_norm).items()):
        leaf = tname.split(".")[-2] if tname.endswith(".weight") else tname.split(".")[-1]
        r = torch.randn(*shape, dtype=torch.float64)
        if tname == "tok_embeddings.weight":
            w[tname] = r
        elif tname == "pos_embeddings.weight":
            w[tname] = 0.5 * r
        elif leaf in ("attention_norm", "ffn_norm", "norm", "subln"):
            w[tname] = 1.0 + 0.1 * r
        elif leaf.startswith("lambda_"):
            w[tname] = 0.1 * r
        elif leaf == "pos_emb":
            w[tname] = POS_EMB_STD * r
        else:  # projections, FFN, output, cope_key_proj weight and bias
            w[tname] = PROJ_STD * r
    if name == "diff_none_lambda_gt1":  # layer 1: exp(sum lq1*lk1) ~ exp(0.74) => lambda ~ 1.45
        for n in ("lambda_q1", "lambda_k1"):
            w[f"layers.1.attn.{n}"] = 0.3 + 0.3 * w[f"layers.1.attn.{n}"]
    return w


def save_npy(path, arr):
    np.save(path, np.ascontiguousarray(arr, dtype="<f4"), allow_pickle=False)


def generate(name):
    cfg = make_config(name)
    storage = FIXTURES[name][1]
    text = FIXTURES[name][2]
    tokens = [256] + list(text.encode("utf-8"))
    assert 9 <= len(tokens) <= 12, (name, len(tokens))
    cfg_norm = ref.normalize_config(cfg)
    weights = {k: ref.to_storage_dtype(v, storage) for k, v in make_weights(name, cfg_norm).items()}

    fdir = os.path.join(OUT_DIR, name)
    if os.path.isdir(fdir):
        shutil.rmtree(fdir)
    os.makedirs(os.path.join(fdir, "expected"))
    with open(os.path.join(fdir, "config.json"), "w", encoding="utf-8") as f:
        json.dump(cfg, f, indent=2, ensure_ascii=False)
        f.write("\n")
    ref.write_safetensors(os.path.join(fdir, "model.safetensors"), weights, storage)

    model = ref.load_model(fdir)  # read back through the reader: what the engine will see
    for k in weights:
        assert torch.equal(model["weights"][k], weights[k]), k
    res = ref.forward(model, tokens)
    kinds = ref.map_kinds(cfg_norm)
    T = len(tokens)
    H = cfg_norm["n_heads"]
    assert set(res["maps"]) == {(l, h, k) for l in range(2) for h in range(H) for k in kinds}
    for (l, h, k), m in res["maps"].items():
        assert m.shape == (T, T)
        assert np.array_equal(np.isnan(m), np.triu(np.ones((T, T), bool), 1)), (name, l, h, k)
        save_npy(os.path.join(fdir, "expected", f"L{l}_H{h}_{k}.npy"), m)
    save_npy(os.path.join(fdir, "expected", "logits_last.npy"), res["logits"][-1])

    # float32 run of the same reference: how far a correct float32 engine can be from these values
    m32 = ref.load_model(fdir, dtype=torch.float32)
    r32 = ref.forward(m32, tokens)
    map_err = max(float(np.nanmax(np.abs(r32["maps"][key] - res["maps"][key]))) for key in res["maps"])
    logit_err = float(np.abs(r32["logits"][-1] - res["logits"][-1]).max())
    lam_err = max([abs(a - b) for a, b in zip(r32["lambda"], res["lambda"])] or [0.0])

    info = {"tokens": tokens, "lambda": res["lambda"]}
    for lam in res["lambda"]:
        assert abs(1 - lam) > 0.1, (name, lam)  # keeps DN = D / (1 - lambda) well conditioned
    if name == "diff_none_lambda_gt1":
        assert res["lambda"][1] > 1 and res["lambda"][0] < 1, res["lambda"]
    if name in CLAMPED:
        npos = cfg_norm["cope"]["npos"]
        pmax = max(np.nanmax(m) for (l, h, k), m in res["maps"].items() if k.startswith("P"))
        assert pmax == npos - 1, (name, pmax, npos)
    with open(os.path.join(fdir, "expected", "tokens.json"), "w", encoding="utf-8") as f:
        json.dump(info, f)
        f.write("\n")
    return res, {"map_f32_err": map_err, "logit_f32_err": logit_err, "lambda_f32_err": lam_err}


def dir_size(path):
    return sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(path) for f in fs)


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    torch.set_num_threads(1)
    results, rows = {}, []
    for name in FIXTURES:
        results[name], errs = generate(name)
        rows.append((name, dir_size(os.path.join(OUT_DIR, name)), errs))
        print(f"{name:40s} {rows[-1][1]:8d} B  f32-vs-f64: maps {errs['map_f32_err']:.1e}"
              f" logits {errs['logit_f32_err']:.1e} lambda {errs['lambda_f32_err']:.1e}")
    # the GQA pair: same weights, same tokens, different semantics => different D maps
    flash, naive = results["diff_rope_gqa_flash"], results["diff_rope_gqa_naive"]
    gqa_diff = max(float(np.nanmax(np.abs(flash["maps"][k] - naive["maps"][k])))
                   for k in flash["maps"] if k[2] == "D")
    assert gqa_diff > 1e-3, gqa_diff
    for name, other in (("diff_rope_gqa_flash", "diff_rope_gqa_naive"), ("diff_rope_gqa_naive", "diff_rope_gqa_flash")):
        path = os.path.join(OUT_DIR, name, "expected", "tokens.json")
        with open(path, encoding="utf-8") as f:
            info = json.load(f)
        info["gqa_pair"] = {"other": other, "same_weights": True, "max_abs_D_diff": gqa_diff}
        with open(path, "w", encoding="utf-8") as f:
            json.dump(info, f)
            f.write("\n")
    total = dir_size(OUT_DIR)
    print(f"GQA flash vs naive: max |D diff| = {gqa_diff:.4f}")
    print(f"total size of {OUT_DIR}: {total} bytes")
    assert total < 3 * 1024 * 1024, total


if __name__ == "__main__":
    main()
