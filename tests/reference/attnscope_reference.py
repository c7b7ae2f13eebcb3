#!/usr/bin/env python3
"""Independent Python/PyTorch reference for attnscope models (golden-fixture generator backend).

Why this file exists
--------------------
attnscope's C++/LibTorch engine captures per-head attention maps of softmax, Differential (DIFF V1)
and CoPE transformers. To test it we need numbers that were NOT produced by the engine itself. This
module is a second, deliberately independent implementation written only from the specs:

* docs/model-format.md (the model directory / config.json / tensor-name contract),
* shared/docs/diff-attention.md section 1 (DIFF V1, shaped like the official naive module
  ``multihead_diffattn.py``: [T, 2H, d] views, repeat_kv, q * scaling, nan_to_num before the mask,
  softmax, A.view(H, 2, T, T), D = A[:, 0] - lambda * A[:, 1], subln RMSNorm(eps 1e-5), x (1 - lambda_init)),
* shared/docs/cope.md section 1 (the compact CoPE procedure) and section 2 (CoPE + RoPE).

It favours readability over speed and runs in float64 by default, so the fixtures it writes are exact
references (stored as float32). Nothing here is imported from, or was copied from, the C++ engine.

Public entry points: ``load_model(dir)``, ``forward(model, tokens)``, ``read_safetensors``,
``write_safetensors``, ``tensor_shapes(cfg)``, plus the building blocks (``rope_tables``,
``apply_rope``, ``cope_terms``, ``softmax_attention``, ``diff_attention``) used by check_reference.py.
"""

import json
import math
import os
import struct

import numpy as np
import torch

# ---------------------------------------------------------------------------------------------
# safetensors: tiny pure-Python reader / writer
# ---------------------------------------------------------------------------------------------

_NP_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64}


def read_safetensors(path):
    """Returns ({name: float64 torch tensor}, {name: stored dtype string})."""
    with open(path, "rb") as f:
        blob = f.read()
    (header_len,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + header_len].decode("utf-8"))
    base = 8 + header_len
    tensors, dtypes = {}, {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        raw = blob[base + begin:base + end]
        dt = info["dtype"]
        if dt == "BF16":
            bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            arr = bits.view(np.float32)
        elif dt in _NP_DTYPES:
            arr = np.frombuffer(raw, dtype=np.dtype(_NP_DTYPES[dt]).newbyteorder("<"))
        else:
            raise ValueError(f"{path}: unsupported dtype {dt} for {name}")
        tensors[name] = torch.from_numpy(arr.astype(np.float64).reshape(info["shape"]).copy())
        dtypes[name] = dt
    return tensors, dtypes


def to_storage_dtype(t, dtype):
    """Rounds a tensor to the storage dtype ("F32" | "F16" | "BF16"); returns it as float64 again."""
    torch_dt = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}[dtype]
    return t.to(torch_dt).to(torch.float64)


def write_safetensors(path, tensors, dtype="F32"):
    """Writes {name: tensor} with every tensor stored as dtype (F32, F16 or BF16), names sorted."""
    header, chunks, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        if dtype == "F32":
            raw = t.to(torch.float32).numpy().astype("<f4").tobytes()
        elif dtype == "F16":
            raw = t.to(torch.float16).numpy().astype("<f2").tobytes()
        elif dtype == "BF16":
            raw = t.to(torch.bfloat16).view(torch.int16).numpy().astype("<i2").tobytes()
        else:
            raise ValueError(dtype)
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in chunks:
            f.write(raw)


# ---------------------------------------------------------------------------------------------
# config.json (defaults per the contract; validation is the C++ side's job, we only fill defaults)
# ---------------------------------------------------------------------------------------------

def normalize_config(raw):
    cfg = dict(raw)
    assert cfg["format"] == "attnscope-model" and cfg["format_version"] == 1
    cfg.setdefault("n_kv_heads", cfg["n_heads"])
    cfg.setdefault("norm_eps", 1e-5)
    cfg.setdefault("tie_embeddings", False)
    if cfg["attention"] == "diff":
        cfg.setdefault("gqa", "flash")
    if cfg["position"] in ("rope", "rope+cope"):
        rope = dict(cfg.get("rope", {}))
        rope.setdefault("theta", 10000.0)
        rope.setdefault("style", "interleaved")
        rope.setdefault("freqs", "linspace")
        cfg["rope"] = rope
    if cfg["position"] in ("cope", "rope+cope"):
        cope = dict(cfg.get("cope", {}))
        cope.setdefault("npos", cfg["max_seq_len"] + 1)
        cope.setdefault("scaling", "code")
        cope.setdefault("sep_key", False)
        cope.setdefault("rope_query", "rotated")
        cfg["cope"] = cope
    assert cfg["n_heads"] % cfg["n_kv_heads"] == 0
    return cfg


def lambda_init(depth):
    """DIFF lambda_init(depth) = 0.8 - 0.6 exp(-0.3 depth), depth 0-based (diff-attention.md 1.2)."""
    return 0.8 - 0.6 * math.exp(-0.3 * depth)


def tensor_shapes(cfg):
    """{tensor name: shape} that a model of this (normalized) config must store (the contract)."""
    D, V, F = cfg["d_model"], cfg["vocab_size"], cfg["ffn_hidden"]
    H, Hkv, d = cfg["n_heads"], cfg["n_kv_heads"], cfg["head_dim"]
    diff = cfg["attention"] == "diff"
    q_sub, kv_sub, vd = (2 * H, 2 * Hkv, 2 * d) if diff else (H, Hkv, d)
    shapes = {"tok_embeddings.weight": [V, D], "norm.weight": [D]}
    if not cfg["tie_embeddings"]:
        shapes["output.weight"] = [V, D]
    if cfg["position"] == "learned":
        shapes["pos_embeddings.weight"] = [cfg["max_seq_len"], D]
    for i in range(cfg["n_layers"]):
        p = f"layers.{i}."
        shapes[p + "attention_norm.weight"] = [D]
        shapes[p + "attn.q_proj.weight"] = [q_sub * d, D]
        shapes[p + "attn.k_proj.weight"] = [kv_sub * d, D]
        shapes[p + "attn.v_proj.weight"] = [Hkv * vd, D]
        shapes[p + "attn.out_proj.weight"] = [D, H * vd]
        if diff:
            for n in ("lambda_q1", "lambda_k1", "lambda_q2", "lambda_k2"):
                shapes[p + "attn." + n] = [d]
            shapes[p + "attn.subln.weight"] = [2 * d]
        if cfg["position"] in ("cope", "rope+cope"):
            shapes[p + "attn.pos_emb"] = [1, d, cfg["cope"]["npos"]]
            if cfg["cope"]["sep_key"]:
                shapes[p + "attn.cope_key_proj.weight"] = [kv_sub * d, D]
                shapes[p + "attn.cope_key_proj.bias"] = [kv_sub * d]
        shapes[p + "ffn_norm.weight"] = [D]
        shapes[p + "feed_forward.w1.weight"] = [F, D]
        shapes[p + "feed_forward.w3.weight"] = [F, D]
        shapes[p + "feed_forward.w2.weight"] = [D, F]
    return shapes


def load_model(model_dir, dtype=torch.float64):
    """Loads config.json + model.safetensors; weights are cast to dtype (float64 by default)."""
    with open(os.path.join(model_dir, "config.json"), encoding="utf-8") as f:
        cfg = normalize_config(json.load(f))
    tensors, _ = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    expected = tensor_shapes(cfg)
    assert set(tensors) == set(expected), sorted(set(tensors) ^ set(expected))
    for name, shape in expected.items():
        assert list(tensors[name].shape) == shape, (name, tensors[name].shape, shape)
    return {"config": cfg, "weights": {k: v.to(dtype) for k, v in tensors.items()}}


# ---------------------------------------------------------------------------------------------
# building blocks
# ---------------------------------------------------------------------------------------------

def rms_norm(x, weight, eps):
    """y = x * rsqrt(mean(x^2) + eps) (in x's dtype: the reference runs in float64), then * weight."""
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


def rope_tables(T, d, theta, freqs, dtype=torch.float64):
    """cos, sin of shape [T, d/2] for positions 0..T-1 (contract: linspace or standard frequencies)."""
    half = d // 2
    if freqs == "linspace":  # YOCO: angle_i = theta^-linspace(0, 1, d/2)_i, endpoint included
        angle = 1.0 / theta ** torch.linspace(0, 1, half, dtype=torch.float64)
    elif freqs == "standard":  # angle_i = theta^-(2i/d)
        angle = 1.0 / theta ** (torch.arange(0, half, dtype=torch.float64) * 2.0 / d)
    else:
        raise ValueError(freqs)
    pos = torch.arange(T, dtype=torch.float64)
    ang = pos[:, None] * angle[None, :]
    return torch.cos(ang).to(dtype), torch.sin(ang).to(dtype)


def apply_rope(x, cos, sin, style):
    """x: [T, n_heads, d]. interleaved pairs (2i, 2i+1); rotate_half pairs (i, i + d/2)."""
    c, s = cos[:, None, :], sin[:, None, :]
    if style == "interleaved":
        a, b = x[..., 0::2], x[..., 1::2]
        out = torch.empty_like(x)
        out[..., 0::2] = a * c - b * s
        out[..., 1::2] = b * c + a * s
        return out
    if style == "rotate_half":
        half = x.shape[-1] // 2
        a, b = x[..., :half], x[..., half:]
        return torch.cat([a * c - b * s, b * c + a * s], dim=-1)
    raise ValueError(style)


def repeat_kv(x, n_rep):
    """x: [n, T, d] -> [n * n_rep, T, d], head t becomes heads t*n_rep .. t*n_rep + n_rep - 1."""
    if n_rep == 1:
        return x
    n, T, d = x.shape
    return x[:, None, :, :].expand(n, n_rep, T, d).reshape(n * n_rep, T, d)


def causal_mask(T, dtype):
    """Additive mask [T, T]: 0 on and below the diagonal, -inf above (triu(full(-inf), 1))."""
    return torch.triu(torch.full((T, T), float("-inf"), dtype=dtype), diagonal=1)


def cope_terms(gate_logits, q_for_z, E, npos):
    """CoPE compact procedure (cope.md section 1), batched over heads.

    gate_logits: [n, T, T], already scaled (q.k/sqrt(d) or q.kc/sqrt(d)), unmasked.
    q_for_z: [n, T, d] UNSCALED query used for Z = q @ E. E: [d, npos].
    Returns G (masked gates exactly 0), P (after clamp_max(npos - 1)), B (position logits), all [n, T, T].
    """
    T = gate_logits.shape[-1]
    M = torch.tril(torch.ones(T, T, dtype=gate_logits.dtype))
    G = torch.sigmoid(gate_logits) * M
    P = torch.flip(torch.cumsum(torch.flip(G, [-1]), -1), [-1]).clamp_max(npos - 1)
    Z = q_for_z @ E  # [n, T, npos]
    Pf = torch.floor(P).long()
    Pc = torch.ceil(P).long()
    W = P - Pf.to(P.dtype)
    B = torch.gather(Z, -1, Pc) * W + torch.gather(Z, -1, Pf) * (1 - W)
    return G, P, B


def _masked(m):
    """Copy of a [..., T, T] map as float64 numpy with NaN in the masked (j > i) cells."""
    m = m.detach().to(torch.float64).clone()
    T = m.shape[-1]
    m[..., torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)] = float("nan")
    return m.numpy()


def _linear(x, w, b=None):
    y = x @ w.t()
    return y if b is None else y + b


# ---------------------------------------------------------------------------------------------
# attention layers
# ---------------------------------------------------------------------------------------------

def _cope_setup(cfg, w, p, h, T, Hkv_sub, d, kv_index, rope):
    """Shared CoPE inputs: E [d, npos] and the separate gate keys kc (or None), treated like k.

    kc is split like k, gets the same RoPE as k for rope+cope, and uses k's GQA mapping; the gate
    logits q.kc/sqrt(d) use the same (rotated) query as attention. The contract says "gate logits ...
    (after RoPE for rope+cope)"; rotating kc keeps the gates relative-position-consistent, exactly as
    the shared-logits gates are (rotated q . rotated k)."""
    E = w[p + "attn.pos_emb"][0]
    kc = None
    if cfg["cope"]["sep_key"]:
        kc = _linear(h, w[p + "attn.cope_key_proj.weight"], w[p + "attn.cope_key_proj.bias"])
        kc = kc.view(T, Hkv_sub, d)
        if rope is not None:
            kc = apply_rope(kc, rope[0], rope[1], cfg["rope"]["style"])
        kc = kc.transpose(0, 1)[kv_index]  # same mapping as k, [Hq_sub, T, d]
    return E, kc


def softmax_attention(h, cfg, w, layer, rope=None):
    """Softmax attention of one layer. h: [T, D] (normed). Returns (out [T, D], {(head, kind): map})."""
    p = f"layers.{layer}."
    T = h.shape[0]
    H, Hkv, d = cfg["n_heads"], cfg["n_kv_heads"], cfg["head_dim"]
    n_rep = H // Hkv
    q = _linear(h, w[p + "attn.q_proj.weight"]).view(T, H, d)
    k = _linear(h, w[p + "attn.k_proj.weight"]).view(T, Hkv, d)
    v = _linear(h, w[p + "attn.v_proj.weight"]).view(T, Hkv, d)
    q_unrot = q
    if rope is not None:
        q = apply_rope(q, rope[0], rope[1], cfg["rope"]["style"])
        k = apply_rope(k, rope[0], rope[1], cfg["rope"]["style"])
    kv_index = torch.arange(H) // n_rep  # query head i uses kv head i / (H / Hkv)
    q, k, v, q_unrot = q.transpose(0, 1), k.transpose(0, 1)[kv_index], v.transpose(0, 1)[kv_index], q_unrot.transpose(0, 1)
    qk = q @ k.transpose(-1, -2)  # [H, T, T] raw q.k
    logits = qk / math.sqrt(d)
    maps = {}
    if cfg["position"] in ("cope", "rope+cope"):
        E, kc = _cope_setup(cfg, w, p, h, T, Hkv, d, kv_index, rope)
        gate_logits = logits if kc is None else (q @ kc.transpose(-1, -2)) / math.sqrt(d)
        q_z = q_unrot if (cfg["position"] == "rope+cope" and cfg["cope"]["rope_query"] == "unrotated") else q
        G, P, B = cope_terms(gate_logits, q_z, E, cfg["cope"]["npos"])
        logits = (qk + B) / math.sqrt(d) if cfg["cope"]["scaling"] == "code" else logits + B
        for head in range(H):
            maps[(head, "G")], maps[(head, "P")], maps[(head, "B")] = _masked(G[head]), _masked(P[head]), _masked(B[head])
    S = logits + causal_mask(T, logits.dtype)
    A = torch.softmax(S, dim=-1)
    out = (A @ v).transpose(0, 1).reshape(T, H * d)
    for head in range(H):
        maps[(head, "A")], maps[(head, "S")] = _masked(A[head]), _masked(S[head])
    return _linear(out, w[p + "attn.out_proj.weight"]), maps


def diff_lambda(w, layer, dtype=torch.float64):
    """lambda = exp(sum(lq1*lk1)) - exp(sum(lq2*lk2)) + lambda_init(layer)."""
    p = f"layers.{layer}.attn."
    l1 = torch.exp(torch.sum(w[p + "lambda_q1"] * w[p + "lambda_k1"]))
    l2 = torch.exp(torch.sum(w[p + "lambda_q2"] * w[p + "lambda_k2"]))
    return (l1 - l2 + lambda_init(layer)).to(dtype)


def diff_kv_index(H, Hkv, gqa):
    """Index into the 2Hkv k sub-heads for each of the 2H q sub-heads s = 2h + g."""
    n_rep = H // Hkv
    if gqa == "naive":  # repeat_kv over sub-heads: q sub-head t reads k sub-head t // n_rep
        return torch.arange(2 * H) // n_rep
    if gqa == "flash":  # explicit gathering (h, g) -> (h // n_rep, g)
        return torch.tensor([2 * (s // 2 // n_rep) + s % 2 for s in range(2 * H)])
    raise ValueError(gqa)


def diff_attention(h, cfg, w, layer, rope=None, return_internals=False):
    """DIFF V1 attention of one layer, shaped like multihead_diffattn.py. h: [T, D] (normed).

    Returns (out [T, D], {(head, kind): map}, lambda) and, with return_internals, a dict of
    intermediate tensors used by check_reference.py.
    """
    p = f"layers.{layer}."
    T = h.shape[0]
    H, Hkv, d = cfg["n_heads"], cfg["n_kv_heads"], cfg["head_dim"]
    n_rep = H // Hkv
    scaling = d ** -0.5
    gqa = cfg.get("gqa", "flash")
    q = _linear(h, w[p + "attn.q_proj.weight"]).view(T, 2 * H, d)
    k = _linear(h, w[p + "attn.k_proj.weight"]).view(T, 2 * Hkv, d)
    v = _linear(h, w[p + "attn.v_proj.weight"]).view(T, Hkv, 2 * d)
    q_unrot = q
    if rope is not None:  # RoPE on every sub-head, same tables
        q = apply_rope(q, rope[0], rope[1], cfg["rope"]["style"])
        k = apply_rope(k, rope[0], rope[1], cfg["rope"]["style"])
    kv_index = diff_kv_index(H, Hkv, gqa)
    q, q_unrot = q.transpose(0, 1), q_unrot.transpose(0, 1)  # [2H, T, d]
    k = k.transpose(0, 1)
    k = repeat_kv(k, n_rep) if gqa == "naive" else k[kv_index]  # [2H, T, d]
    v = repeat_kv(v.transpose(0, 1), n_rep)  # [H, T, 2d]: head h uses kv head h // n_rep
    q_unscaled = q
    q = q * scaling
    logits = q @ k.transpose(-1, -2)  # [2H, T, T] = q.k / sqrt(d)
    sub_maps = {}
    if cfg["position"] in ("cope", "rope+cope"):
        E, kc = _cope_setup(cfg, w, p, h, T, 2 * Hkv, d, kv_index, rope)
        gate_logits = logits if kc is None else q @ kc.transpose(-1, -2)
        q_z = q_unrot if (cfg["position"] == "rope+cope" and cfg["cope"]["rope_query"] == "unrotated") else q_unscaled
        G, P, B = cope_terms(gate_logits, q_z, E, cfg["cope"]["npos"])
        logits = logits + (B * scaling if cfg["cope"]["scaling"] == "code" else B)
        sub_maps.update(G=G, P=P, B=B)
    logits = torch.nan_to_num(logits)
    S = logits + causal_mask(T, logits.dtype)
    A = torch.softmax(S, dim=-1)  # the official module uses dtype=float32; here: the compute dtype
    lam = diff_lambda(w, layer, h.dtype)
    A = A.view(H, 2, T, T)
    D = A[:, 0] - lam * A[:, 1]
    O = D @ v  # [H, T, 2d]
    O = rms_norm(O, w[p + "attn.subln.weight"], 1e-5)
    O = O * (1 - lambda_init(layer))
    out = _linear(O.transpose(0, 1).reshape(T, H * 2 * d), w[p + "attn.out_proj.weight"])
    maps = {}
    for head in range(H):
        maps[(head, "A1")], maps[(head, "A2")] = _masked(A[head, 0]), _masked(A[head, 1])
        maps[(head, "LA2")], maps[(head, "D")] = _masked(lam * A[head, 1]), _masked(D[head])
        maps[(head, "DN")] = _masked(D[head] / (1 - lam))
        maps[(head, "S1")], maps[(head, "S2")] = _masked(S[2 * head]), _masked(S[2 * head + 1])
        for kind, t in sub_maps.items():
            maps[(head, kind + "1")], maps[(head, kind + "2")] = _masked(t[2 * head]), _masked(t[2 * head + 1])
    if return_internals:
        return out, maps, lam, {"A": A, "D": D, "v": v, "q": q, "k": k, "O_pre_norm": D @ v}
    return out, maps, lam


# ---------------------------------------------------------------------------------------------
# full forward pass
# ---------------------------------------------------------------------------------------------

def map_kinds(cfg):
    """Map kinds (with the logits kinds S/S1/S2) a model of this config has, in a stable order."""
    cope = cfg["position"] in ("cope", "rope+cope")
    if cfg["attention"] == "softmax":
        return (["G", "P", "B"] if cope else []) + ["A", "S"]
    kinds = ["A1", "A2", "LA2", "D", "DN", "S1", "S2"]
    return (["G1", "P1", "B1", "G2", "P2", "B2"] if cope else []) + kinds


def forward(model, tokens):
    """Runs tokens through the model. Returns {"maps": {(layer, head, kind): [T, T] float64 numpy,
    NaN masked}, "lambda": [per layer] (empty for softmax), "logits": [T, V] float64 numpy}."""
    cfg, w = model["config"], model["weights"]
    dtype = w["tok_embeddings.weight"].dtype
    T = len(tokens)
    assert 1 <= T <= cfg["max_seq_len"]
    ids = torch.tensor(tokens, dtype=torch.long)
    x = w["tok_embeddings.weight"][ids]
    if cfg["position"] == "learned":
        x = x + w["pos_embeddings.weight"][:T]
    rope = None
    if cfg["position"] in ("rope", "rope+cope"):
        rope = rope_tables(T, cfg["head_dim"], cfg["rope"]["theta"], cfg["rope"]["freqs"], dtype)
    maps, lambdas = {}, []
    eps = cfg["norm_eps"]
    for layer in range(cfg["n_layers"]):
        p = f"layers.{layer}."
        h = rms_norm(x, w[p + "attention_norm.weight"], eps)
        if cfg["attention"] == "diff":
            out, layer_maps, lam = diff_attention(h, cfg, w, layer, rope)
            lambdas.append(float(lam))
        else:
            out, layer_maps = softmax_attention(h, cfg, w, layer, rope)
        x = x + out
        h = rms_norm(x, w[p + "ffn_norm.weight"], eps)
        gate = torch.nn.functional.silu(_linear(h, w[p + "feed_forward.w1.weight"]))
        x = x + _linear(gate * _linear(h, w[p + "feed_forward.w3.weight"]), w[p + "feed_forward.w2.weight"])
        for (head, kind), m in layer_maps.items():
            maps[(layer, head, kind)] = m
    x = rms_norm(x, w["norm.weight"], eps)
    out_w = w["tok_embeddings.weight"] if cfg["tie_embeddings"] else w["output.weight"]
    logits = x @ out_w.t()
    return {"maps": maps, "lambda": lambdas, "logits": logits.detach().numpy()}
