#!/usr/bin/env python3
"""Self-checks of attnscope_reference.py against the specs' golden numbers and invariants.

Why this file exists
--------------------
The golden fixtures in tests/data/reference are only worth something if the Python reference that
produced them is right. This script checks the reference, independently of the C++ engine, against:

* cope.md section 7: gates, positions (before/after the clamp), position logits B, attention rows and
  outputs for both scalings (appendix and code), to 1e-6, through the real softmax_attention layer;
  plus the gates -> 0 limit and the explicit e[p_ij] interpolation path;
* diff-attention.md section 7: lambda_init table, lambda (incl. lambda > 1), row sums of D = 1 - lambda,
  identical groups => D = (1 - lambda) A1, T = 1, (A1 - lambda A2) V = A1 V - lambda A2 V (and the
  flash-2 four-call form), naive vs flash GQA (equal for MHA, different for n_rep = 2), parameter
  counts 4,194,688 and 3,146,112;
* RoPE sanity (position 0 is the identity, pair norms preserved, frequency tables) and the
  safetensors reader/writer round trip in F32/F16/BF16.

Run: /usr/bin/python3 tests/reference/check_reference.py   (exit status 0 when everything passes)
"""

import math
import os
import sys
import tempfile

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attnscope_reference as ref  # noqa: E402

torch.set_default_dtype(torch.float64)
FAILURES = []
COUNT = [0]


def check(name, actual, expected, tol=1e-6):
    COUNT[0] += 1
    actual = torch.as_tensor(actual, dtype=torch.float64)
    expected = torch.as_tensor(expected, dtype=torch.float64)
    if actual.shape != expected.shape:
        FAILURES.append(f"{name}: shape {tuple(actual.shape)} != {tuple(expected.shape)}")
        print(f"FAIL {name}: shape mismatch")
        return
    nan_a, nan_e = torch.isnan(actual), torch.isnan(expected)
    err = (actual - expected).abs()
    err[nan_a & nan_e] = 0
    worst = float(err.max()) if err.numel() else 0.0
    ok = bool((nan_a == nan_e).all()) and worst <= tol
    print(f"{'ok  ' if ok else 'FAIL'} {name} (max err {worst:.2e})")
    if not ok:
        FAILURES.append(f"{name}: max err {worst:.3e} > {tol:.0e}\n actual={actual}\n expected={expected}")


def check_true(name, cond, detail=""):
    COUNT[0] += 1
    print(f"{'ok  ' if cond else 'FAIL'} {name} {detail}")
    if not cond:
        FAILURES.append(f"{name} {detail}")


def tril_nan(rows, T):
    """Lower-triangular table (list of row prefixes) -> [T, T] with NaN above the diagonal."""
    m = torch.full((T, T), float("nan"))
    for i, r in enumerate(rows):
        m[i, :len(r)] = torch.tensor(r)
    return m


# ------------------------------------------------------------------------------------------------
# CoPE golden vectors (cope.md section 7)
# ------------------------------------------------------------------------------------------------

Q7 = torch.tensor([[1.0, 0.5], [0.2, -1.0], [1.5, 0.3], [-0.7, 0.8], [0.4, 1.2]])
K7 = torch.tensor([[0.3, -0.2], [1.0, 0.4], [-0.5, 0.9], [0.8, 0.8], [0.1, -1.1]])
V7 = torch.tensor([[1.0, 0], [0, 1], [1, 1], [2, -1], [-1, 2]])
E7 = torch.tensor([[0.5, -0.3, 1.0], [0.2, 0.7, -0.4]])


def cope_layer_as_model(scaling):
    """Builds a one-head softmax+CoPE layer whose q, k, v are exactly Q7, K7, V7 (input h = I_5)."""
    cfg = ref.normalize_config({
        "format": "attnscope-model", "format_version": 1, "vocab_size": 259, "d_model": 5,
        "n_layers": 1, "n_heads": 1, "head_dim": 2, "ffn_hidden": 4, "max_seq_len": 5,
        "attention": "softmax", "position": "cope", "cope": {"npos": 3, "scaling": scaling},
        "tokenizer": {"type": "bytes"}})
    out_proj = torch.zeros(5, 2)
    out_proj[0, 0] = out_proj[1, 1] = 1.0
    w = {"layers.0.attn.q_proj.weight": Q7.t().clone(), "layers.0.attn.k_proj.weight": K7.t().clone(),
         "layers.0.attn.v_proj.weight": V7.t().clone(), "layers.0.attn.out_proj.weight": out_proj,
         "layers.0.attn.pos_emb": E7[None].clone()}
    return cfg, w


def check_cope_golden():
    gates = [[0.535297], [0.545833, 0.464703], [0.568509, 0.758690, 0.415952],
             [0.434963, 0.433226, 0.680616, 0.514138], [0.478800, 0.650731, 0.650731, 0.711996, 0.288004]]
    pos_raw = [[0.535297], [1.010536, 0.464703], [1.743152, 1.174643, 0.415952],
               [2.062944, 1.627981, 1.194754, 0.514138], [2.780262, 2.301462, 1.650731, 1.000000, 0.288004]]
    z = [[0.60, 0.05, 0.80], [-0.10, -0.76, 0.60], [0.81, -0.24, 1.38], [-0.19, 0.77, -1.02], [0.44, 0.72, -0.08]]
    b_full = torch.tensor([[0.305587, 0.6, 0.6, 0.6, 0.6], [-0.745671, -0.406704, -0.1, -0.1, -0.1],
                           [0.963907, 0.042921, 0.373250, 0.81, 0.81], [-1.020000, -0.354085, 0.421390, 0.303573, -0.19],
                           [-0.080000, -0.080000, 0.199415, 0.720000, 0.520641]])
    s = (Q7 @ K7.t() / math.sqrt(2))[None]
    G, P, B = ref.cope_terms(s, Q7[None], E7, 3)
    check("cope/gates", G[0].tril(), torch.nan_to_num(tril_nan(gates, 5)))
    check("cope/positions clamped", P[0].tril(), torch.nan_to_num(tril_nan(pos_raw, 5)).clamp_max(2))
    check("cope/positions masked = 0", P[0].triu(1), torch.zeros(5, 5))
    E_wide = torch.cat([E7, torch.zeros(2, 7)], dim=1)  # npos 10: no clamp for these values
    _, P_raw, _ = ref.cope_terms(s, Q7[None], E_wide, 10)
    check("cope/positions before clamp", P_raw[0].tril(), torch.nan_to_num(tril_nan(pos_raw, 5)))
    check_true("cope/P[4,3] is exactly 1 (floor == ceil edge)", abs(float(P[0, 4, 3]) - 1.0) < 1e-12)
    check("cope/Z = q E", Q7 @ E7, torch.tensor(z))
    check("cope/pos logits B (masked entries = z_i[0])", B[0], b_full)

    # explicit path: interpolate e[p_ij] as a d-vector, dot with q_i
    Pf, Pc = torch.floor(P[0]).long(), torch.ceil(P[0]).long()
    Wt = P[0] - Pf
    e_p = E7.t()[Pc] * Wt[..., None] + E7.t()[Pf] * (1 - Wt[..., None])  # [5, 5, d]
    check("cope/explicit e[p_ij] path == gather path", (e_p * Q7[:, None, :]).sum(-1), B[0])

    # gates -> 0 limit: B constant along each row (= z_i[0]) so the softmax is plain causal attention
    G0, P0, B0 = ref.cope_terms(torch.full((1, 5, 5), float("-inf")), Q7[None], E7, 3)
    check("cope/gates->0: G = 0, P = 0", torch.cat([G0[0], P0[0]]), torch.zeros(10, 5))
    check("cope/gates->0: B = z_i[0]", B0[0], (Q7 @ E7)[:, :1].expand(5, 5))

    expected = {
        "appendix": ([[1], [0.496576, 0.503424], [0.444546, 0.422339, 0.133115],
                      [0.050512, 0.097617, 0.591011, 0.260860], [0.079987, 0.162223, 0.214517, 0.479056, 0.064217]],
                     [[1, 0], [0.496576, 0.503424], [0.577661, 0.555454], [1.163242, 0.427769], [1.188399, 0.026118]]),
        "code": ([[1], [0.521383, 0.478617], [0.384584, 0.478506, 0.136910],
                  [0.072644, 0.115511, 0.557251, 0.254594], [0.091653, 0.185883, 0.226489, 0.434262, 0.061712]],
                 [[1, 0], [0.521383, 0.478617], [0.521494, 0.615416], [1.139083, 0.418168], [1.124953, 0.101535]]),
    }
    for scaling, (rows, outputs) in expected.items():
        cfg, w = cope_layer_as_model(scaling)
        out, maps = ref.softmax_attention(torch.eye(5), cfg, w, 0)
        check(f"cope/{scaling}: attention rows (layer path)", maps[(0, "A")], tril_nan(rows, 5))
        check(f"cope/{scaling}: outputs", out[:, :2], torch.tensor(outputs))
        check(f"cope/{scaling}: G map", maps[(0, "G")], tril_nan(gates, 5))
        check(f"cope/{scaling}: P map", maps[(0, "P")], tril_nan(pos_raw, 5).clamp_max(2))
        check(f"cope/{scaling}: B map", maps[(0, "B")], torch.where(torch.isnan(tril_nan(pos_raw, 5)),
                                                                    torch.tensor(float("nan")), b_full))
        if scaling == "code":
            check("cope/code: logits row 4", maps[(0, "S")][4],
                  torch.tensor([-0.141421, 0.565685, 0.763262, 1.414214, -0.536948]))


# ------------------------------------------------------------------------------------------------
# DIFF invariants (diff-attention.md section 7)
# ------------------------------------------------------------------------------------------------

def diff_setup(H=2, Hkv=2, d=4, D=16, gqa="flash", seed=0):
    cfg = ref.normalize_config({
        "format": "attnscope-model", "format_version": 1, "vocab_size": 259, "d_model": D,
        "n_layers": 6, "n_heads": H, "n_kv_heads": Hkv, "head_dim": d, "ffn_hidden": 8, "max_seq_len": 16,
        "attention": "diff", "gqa": gqa, "position": "rope", "tokenizer": {"type": "bytes"}})
    g = torch.Generator().manual_seed(seed)
    w = {}
    for name, shape in ref.tensor_shapes(cfg).items():
        if ".attn." in name:
            std = 0.1 if "lambda" in name else 0.4
            w[name] = torch.randn(*shape, generator=g) * std + (1.0 if "subln" in name else 0.0)
    return cfg, w


def check_diff():
    table = {0: 0.2, 1: 0.355509067590969, 2: 0.470713018343584, 5: 0.666121903910942,
             11: 0.777870099559256, 23: 0.799395328742571, 27: 0.799817876517153}
    check("diff/lambda_init table", [ref.lambda_init(k) for k in table], list(table.values()), 1e-14)

    T = 7
    x = torch.randn(T, 16, generator=torch.Generator().manual_seed(42))
    p = "layers.0.attn."
    for Hkv in (2, 1):
        cfg, w = diff_setup(Hkv=Hkv)
        rope = ref.rope_tables(T, cfg["head_dim"], 10000.0, "linspace")
        out, maps, lam, it = ref.diff_attention(x, cfg, w, 0, rope, True)
        tag = f"diff/Hkv={Hkv}"
        lam_expect = math.exp(float((w[p + "lambda_q1"] * w[p + "lambda_k1"]).sum())) \
            - math.exp(float((w[p + "lambda_q2"] * w[p + "lambda_k2"]).sum())) + 0.2
        check(f"{tag}: lambda", float(lam), lam_expect, 1e-14)
        D, A, v = it["D"], it["A"], it["v"]
        check(f"{tag}: D row sums = 1 - lambda", D.sum(-1), torch.full((2, T), 1 - float(lam)))
        check(f"{tag}: A1, A2 row sums = 1", A.sum(-1), torch.ones(2, 2, T))
        check(f"{tag}: masked cells of A are 0", A.triu(1).abs().sum(), 0.0, 0.0)
        check(f"{tag}: (A1 - lam A2) V = A1 V - lam A2 V", D @ v, A[:, 0] @ v - lam * (A[:, 1] @ v), 1e-12)
        v1, v2 = v[..., :4], v[..., 4:]
        flash2 = torch.cat([A[:, 0] @ v1, A[:, 0] @ v2], -1) - lam * torch.cat([A[:, 1] @ v1, A[:, 1] @ v2], -1)
        check(f"{tag}: flash-2 four-call form", flash2, D @ v, 1e-12)
        check(f"{tag}: maps DN * (1 - lambda) = D", torch.tensor(maps[(1, "DN")]) * (1 - float(lam)),
              torch.tensor(maps[(1, "D")]), 1e-12)
        check(f"{tag}: maps LA2 = lambda A2", torch.tensor(maps[(1, "LA2")]),
              float(lam) * torch.tensor(maps[(1, "A2")]), 1e-12)
    # the depth only enters through lambda_init and the (1 - lambda_init) factor
    cfg, w = diff_setup()
    out0, _, lam0 = ref.diff_attention(x, cfg, w, 0)
    for depth in (1, 5):
        wd = {k.replace("layers.0.", f"layers.{depth}."): t for k, t in w.items() if k.startswith("layers.0.")}
        outd, _, lamd = ref.diff_attention(x, cfg, wd, depth)
        check(f"diff/depth {depth}: lambda shift", float(lamd) - float(lam0), ref.lambda_init(depth) - 0.2, 1e-14)

    # identical groups => D = (1 - lambda) A1 (MHA)
    cfg, w = diff_setup()
    for name in ("q_proj", "k_proj"):
        wt = w[p + name + ".weight"].view(-1, 2, 4, 16)  # [heads, group, d, D]
        wt[:, 1] = wt[:, 0]
    _, _, lam, it = ref.diff_attention(x, cfg, w, 0, None, True)
    check("diff/identical groups: D = (1 - lambda) A1", it["D"], (1 - lam) * it["A"][:, 0], 1e-12)

    # lambda > 1: lambda_q1 = lambda_k1 = c/sqrt(d) * 1, lambda_q2 = lambda_k2 = 0 => exp(c^2) - 1 + 0.2
    c = 0.9
    for n in ("lambda_q1", "lambda_k1"):
        w[p + n] = torch.full((4,), c / 2.0)
    for n in ("lambda_q2", "lambda_k2"):
        w[p + n] = torch.zeros(4)
    lam = float(ref.diff_lambda(w, 0))
    check("diff/lambda > 1 hand case", lam, math.exp(c * c) - 1 + 0.2, 1e-14)
    check_true("diff/lambda > 1 really", lam > 1, f"(lambda = {lam:.6f})")

    # T = 1: D = 1 - lambda; output = (1 - lambda_init) * RMSNorm(v) * gain * sign(1 - lambda) @ out_projᵀ
    for lam_case in ("normal", "gt1"):
        cfg, w = diff_setup()
        if lam_case == "gt1":
            for n in ("lambda_q1", "lambda_k1"):
                w[p + n] = torch.full((4,), c / 2.0)
        x1 = x[:1]
        out, maps, lam, it = ref.diff_attention(x1, cfg, w, 0, None, True)
        check(f"diff/T=1 ({lam_case}): D = 1 - lambda", it["D"], torch.full((2, 1, 1), 1 - float(lam)))
        v = (x1 @ w[p + "v_proj.weight"].t()).view(1, 2, 8).transpose(0, 1)
        rn = v * torch.rsqrt(v.pow(2).mean(-1, keepdim=True) + 1e-5)
        o = 0.8 * rn * w[p + "subln.weight"] * math.copysign(1.0, 1 - float(lam))
        # eps makes the sign identity approximate: |1 - lambda| scales the input of the norm
        check(f"diff/T=1 ({lam_case}): output ~ sign identity", out,
              o.transpose(0, 1).reshape(1, 16) @ w[p + "out_proj.weight"].t(), 1e-4)
        exact = 0.8 * ref.rms_norm((1 - float(lam)) * v, w[p + "subln.weight"], 1e-5)
        check(f"diff/T=1 ({lam_case}): output exact", out,
              exact.transpose(0, 1).reshape(1, 16) @ w[p + "out_proj.weight"].t(), 1e-12)

    # GQA: naive vs flash. MHA: identical. n_rep = 2: different.
    for Hkv, should_differ in ((2, False), (1, True)):
        cfg_f, w = diff_setup(Hkv=Hkv, gqa="flash")
        cfg_n = dict(cfg_f, gqa="naive")
        _, mf, _ = ref.diff_attention(x, cfg_f, w, 0)
        _, mn, _ = ref.diff_attention(x, cfg_n, w, 0)
        diff = max(float(torch.nan_to_num(torch.tensor(mf[(h, "D")] - mn[(h, "D")])).abs().max()) for h in range(2))
        check_true(f"diff/GQA naive vs flash, Hkv={Hkv}: {'differ' if should_differ else 'agree'}",
                   (diff > 1e-3) if should_differ else (diff < 1e-14), f"(max |dD| = {diff:.3e})")
    check_true("diff/flash index (h,g) -> (h//2, g), H=4 Hkv=2",
               ref.diff_kv_index(4, 2, "flash").tolist() == [0, 1, 0, 1, 2, 3, 2, 3])
    check_true("diff/naive index t -> t//2, H=4 Hkv=2",
               ref.diff_kv_index(4, 2, "naive").tolist() == [0, 0, 1, 1, 2, 2, 3, 3])

    # parameter counts (example.py, D = 1024, H = 8, d = 64)
    for Hkv, expected in ((8, 4194688), (4, 3146112)):
        cfg = ref.normalize_config({
            "format": "attnscope-model", "format_version": 1, "vocab_size": 259, "d_model": 1024,
            "n_layers": 1, "n_heads": 8, "n_kv_heads": Hkv, "head_dim": 64, "ffn_hidden": 8,
            "max_seq_len": 16, "attention": "diff", "position": "none", "tokenizer": {"type": "bytes"}})
        n = sum(math.prod(s) for k, s in ref.tensor_shapes(cfg).items() if ".attn." in k)
        check_true(f"diff/parameter count H=8 Hkv={Hkv}", n == expected, f"({n} vs {expected})")


# ------------------------------------------------------------------------------------------------
# RoPE and safetensors
# ------------------------------------------------------------------------------------------------

def check_rope_and_io():
    T, d = 6, 8
    x = torch.randn(T, 3, d, generator=torch.Generator().manual_seed(3))
    for freqs in ("linspace", "standard"):
        cos, sin = ref.rope_tables(T, d, 100.0, freqs)
        for style in ("interleaved", "rotate_half"):
            y = ref.apply_rope(x, cos, sin, style)
            check(f"rope/{freqs}/{style}: position 0 is the identity", y[0], x[0], 1e-15)
            if style == "interleaved":
                na, nb = x[..., 0::2].hypot(x[..., 1::2]), y[..., 0::2].hypot(y[..., 1::2])
            else:
                na, nb = x[..., :4].hypot(x[..., 4:]), y[..., :4].hypot(y[..., 4:])
            check(f"rope/{freqs}/{style}: pair norms preserved", nb, na, 1e-12)
    cos, sin = ref.rope_tables(2, 8, 100.0, "linspace")
    check("rope/linspace angles = theta^-linspace(0,1,4)", torch.atan2(sin[1], cos[1]),
          [1.0, 100 ** (-1 / 3), 100 ** (-2 / 3), 0.01], 1e-14)
    cos, sin = ref.rope_tables(2, 8, 100.0, "standard")
    check("rope/standard angles = theta^-(2i/d)", torch.atan2(sin[1], cos[1]),
          [1.0, 100 ** -0.25, 100 ** -0.5, 100 ** -0.75], 1e-14)
    # rotate_half vs interleaved hand example: d = 4, position 1
    cos, sin = ref.rope_tables(2, 4, 10000.0, "standard")
    v = torch.tensor([[[1.0, 2.0, 3.0, 4.0]]]).expand(2, 1, 4)
    c0, s0, c1, s1 = math.cos(1), math.sin(1), math.cos(0.01), math.sin(0.01)
    check("rope/interleaved hand example", ref.apply_rope(v, cos, sin, "interleaved")[1, 0],
          [1 * c0 - 2 * s0, 2 * c0 + 1 * s0, 3 * c1 - 4 * s1, 4 * c1 + 3 * s1], 1e-14)
    check("rope/rotate_half hand example", ref.apply_rope(v, cos, sin, "rotate_half")[1, 0],
          [1 * c0 - 3 * s0, 2 * c1 - 4 * s1, 3 * c0 + 1 * s0, 4 * c1 + 2 * s1], 1e-14)

    t = {"a": torch.randn(3, 5), "b.c": torch.randn(7) * 100}
    with tempfile.TemporaryDirectory() as tmp:
        for dt in ("F32", "F16", "BF16"):
            path = os.path.join(tmp, f"m_{dt}.safetensors")
            ref.write_safetensors(path, t, dt)
            back, dtypes = ref.read_safetensors(path)
            check_true(f"safetensors/{dt}: dtypes", set(dtypes.values()) == {dt})
            for k in t:
                check(f"safetensors/{dt}: {k} round trip", back[k], ref.to_storage_dtype(t[k], dt), 0.0)
            with open(path, "rb") as f:
                n = int.from_bytes(f.read(8), "little")
            check_true(f"safetensors/{dt}: header length multiple of 8", n % 8 == 0)


if __name__ == "__main__":
    torch.manual_seed(0)
    check_cope_golden()
    check_diff()
    check_rope_and_io()
    print(f"\n{COUNT[0] - len(FAILURES)}/{COUNT[0]} checks passed")
    if FAILURES:
        print("\nFAILURES:\n" + "\n".join(FAILURES))
        sys.exit(1)
