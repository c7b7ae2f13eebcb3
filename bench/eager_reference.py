#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The way a researcher gets attention maps today: an eager PyTorch model that materialises every layer's full
N x N maps (as output_attentions=True does), then pools or slices them. Written from diff-attention.md and
cope.md, independent of attnscope's engine; same shapes as `attnscope-cli bench`, random weights (timing only).

Measures per N: the forward pass with one layer's maps kept (then one head's and one layer's overviews, and a
256 x 256 window, from those maps), the forward pass with every layer's maps kept (then every overview), and
peak memory. Where it runs out of memory it says so and stops growing N for that measurement.

    python3 bench/eager_reference.py --shape diff-3b --tokens 512,4096 --device cuda --dtype bf16 --json out.json
    python3 bench/eager_reference.py --config resources/models/counting-softmax-rope/config.json --tokens 512
"""
import argparse
import json
import math
import statistics
import time

import torch
import torch.nn.functional as F

SHAPES = {
    "diff-3b": dict(attention="diff", position="rope", n_heads=12),
    "softmax-3b": dict(attention="softmax", position="rope", n_heads=24),
    "cope-3b": dict(attention="softmax", position="cope", n_heads=24, npos=64),
}


def shape_from_args(args):
    if args.config:
        with open(args.config) as f:
            c = json.load(f)
        cope = c.get("cope", {})
        return dict(attention=c["attention"], position=c["position"], d_model=c["d_model"], n_layers=c["n_layers"],
                    n_heads=c["n_heads"], head_dim=c["head_dim"], ffn=c["ffn_hidden"], vocab=c["vocab_size"],
                    npos=cope.get("npos", 64) or 64)
    s = dict(SHAPES[args.shape])
    s.update(d_model=3072, n_layers=args.layers or 28, head_dim=128, ffn=8192, vocab=259)
    s.setdefault("npos", 64)
    return s


class Eager:
    def __init__(self, s, device, dtype):
        g = torch.Generator().manual_seed(1)
        self.s, self.device, self.dtype = s, device, dtype
        d, h, hd = s["d_model"], s["n_heads"], s["head_dim"]
        sub = 2 * h if s["attention"] == "diff" else h

        def w(*shape):
            return (torch.randn(*shape, generator=g) / math.sqrt(shape[-1])).to(device, dtype)

        self.emb = w(s["vocab"], d)
        self.layers = []
        for depth in range(s["n_layers"]):
            layer = dict(wq=w(sub * hd, d), wk=w(sub * hd, d), wv=w(h * hd * (2 if sub > h else 1), d),
                         wo=w(d, h * hd * (2 if sub > h else 1)), w1=w(s["ffn"], d), w3=w(s["ffn"], d),
                         w2=w(d, s["ffn"]))
            if s["attention"] == "diff":
                layer["lam"] = [torch.randn(hd, generator=g).mul(0.1).to(device) for _ in range(4)]
                layer["lambda_init"] = 0.8 - 0.6 * math.exp(-0.3 * depth)
            if "cope" in s["position"]:
                layer["pos_emb"] = torch.randn(hd, s["npos"], generator=g).to(device)  # CoPE keeps fp32
            self.layers.append(layer)

    def rope(self, x):  # rotate-half RoPE, base 10000
        n, hd = x.shape[-2], x.shape[-1]
        inv = 1.0 / (10000 ** (torch.arange(0, hd, 2, device=x.device).float() / hd))
        ang = torch.outer(torch.arange(n, device=x.device).float(), inv)
        cos, sin = torch.cat([ang.cos()] * 2, -1).to(x.dtype), torch.cat([ang.sin()] * 2, -1).to(x.dtype)
        x1, x2 = x[..., : hd // 2], x[..., hd // 2:]
        return x * cos + torch.cat([-x2, x1], -1) * sin

    def cope(self, logits, q, pos_emb):  # cope.md: gates, reverse cumsum, interpolated position logits
        gates = torch.sigmoid(logits.float()).masked_fill(torch.isinf(logits), 0.0)
        pos = gates.flip(-1).cumsum(-1).flip(-1).clamp(max=pos_emb.shape[-1] - 1)
        z = q.float() @ pos_emb
        lo = pos.floor().long()
        w = pos - lo
        return torch.gather(z, -1, pos.ceil().long()) * w + torch.gather(z, -1, lo) * (1 - w)

    def attention(self, x, layer):
        s, n = self.s, x.shape[0]
        h, hd = s["n_heads"], s["head_dim"]
        sub = 2 * h if s["attention"] == "diff" else h
        q = (x @ layer["wq"].T).view(n, sub, hd).transpose(0, 1)
        k = (x @ layer["wk"].T).view(n, sub, hd).transpose(0, 1)
        v = (x @ layer["wv"].T).view(n, h, -1).transpose(0, 1)
        if "rope" in s["position"]:
            q, k = self.rope(q), self.rope(k)
        mask = torch.ones(n, n, dtype=torch.bool, device=x.device).triu(1)
        logits = ((q / math.sqrt(hd)) @ k.transpose(-1, -2)).masked_fill(mask, float("-inf"))
        if "cope" in s["position"]:
            logits = logits.float() + self.cope(logits, q, layer["pos_emb"]) / math.sqrt(hd)
        attn = torch.softmax(logits.float(), -1).to(x.dtype)
        maps = {}
        if s["attention"] == "diff":
            lq1, lk1, lq2, lk2 = layer["lam"]
            lam = (torch.exp((lq1 * lk1).sum()) - torch.exp((lq2 * lk2).sum()) + layer["lambda_init"]).to(x.dtype)
            a1, a2 = attn[0::2], attn[1::2]
            d = a1 - lam * a2
            maps = dict(A1=a1, A2=a2, D=d)
            out = d @ v
            out = out * torch.rsqrt(out.float().pow(2).mean(-1, keepdim=True) + 1e-5).to(out.dtype)
            out = out * (1 - layer["lambda_init"])
        else:
            maps = dict(A=attn)
            out = attn @ v
        return out.transpose(0, 1).reshape(n, -1) @ layer["wo"].T, maps

    @torch.no_grad()
    def forward(self, tokens, keep_layers):
        x = self.emb[tokens]
        kept = {}
        for i, layer in enumerate(self.layers):
            def norm(t):
                return (t.float() * torch.rsqrt(t.float().pow(2).mean(-1, keepdim=True) + 1e-5)).to(t.dtype)
            a, maps = self.attention(norm(x), layer)
            if i in keep_layers:
                kept[i] = maps
            x = x + a
            hn = norm(x)
            x = x + (F.silu(hn @ layer["w1"].T) * (hn @ layer["w3"].T)) @ layer["w2"].T
        return x[-1] @ self.emb.T, kept


def overview(m, r):  # max-pool a full map [N, N] (masked cells excluded) to at most r x r
    b = math.ceil(m.shape[-1] / r)
    x = m.float().masked_fill(torch.ones_like(m, dtype=torch.bool).triu(1), float("-inf"))
    return F.max_pool2d(x.unsqueeze(0), b, b, ceil_mode=True)[0]


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, device, repeats):
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    fn()
    sync(device)
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync(device)
        samples.append(time.perf_counter() - t0)
    peak = torch.cuda.max_memory_allocated() if device.type == "cuda" else None
    return dict(seconds=statistics.median(samples), peak_bytes=peak)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shape", choices=sorted(SHAPES), default="diff-3b")
    p.add_argument("--config", help="a model's config.json (its shape; weights are random)")
    p.add_argument("--name", help="row label (default: the shape or the config's directory)")
    p.add_argument("--layers", type=int, default=0)
    p.add_argument("--tokens", default="512,4096,16384,65536")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--dtype", choices=["fp32", "bf16"], default="fp32")
    p.add_argument("--overview", type=int, default=1024)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json")
    args = p.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
    s = shape_from_args(args)
    # The same labels as `attnscope-cli bench`, so that report.py can pair the rows.
    name = args.name or (args.config.split("/")[-2] if args.config
                         else args.shape + (f"-L{args.layers}" if args.layers else ""))
    model = Eager(s, device, torch.bfloat16 if args.dtype == "bf16" else torch.float32)
    mid = s["n_layers"] // 2
    rows, stopped = [], set()
    print(f"eager PyTorch {torch.__version__} on {device} ({args.dtype}), medians of {args.repeats}", flush=True)
    for n in [int(t) for t in args.tokens.split(",")]:
        tokens = torch.randint(0, s["vocab"], (n,), generator=torch.Generator().manual_seed(7)).to(device)
        row = dict(model=name, tokens=n)

        def one_layer(what):
            _, kept = model.forward(tokens, {mid})
            maps = kept[mid]
            if what == "head":
                [overview(m[0], args.overview) for m in maps.values()]
            elif what == "layer":
                [overview(m[h], args.overview) for m in maps.values() for h in range(m.shape[0])]
            elif what == "window":
                w = min(256, n)
                [m[0, n - w:n, n // 2 - w // 2:n // 2 - w // 2 + w].float().cpu() for m in maps.values()]

        def every_layer():
            _, kept = model.forward(tokens, set(range(s["n_layers"])))
            [overview(m[h], args.overview) for maps in kept.values() for m in maps.values() for h in range(m.shape[0])]

        jobs = dict(forward=lambda: model.forward(tokens, set()), overview_head=lambda: one_layer("head"),
                    overview_layer=lambda: one_layer("layer"), window_256=lambda: one_layer("window"),
                    overview_all=every_layer)
        for key, fn in jobs.items():
            if key in stopped:
                row[key] = dict(seconds=None, error="out of memory at a shorter N")
                continue
            try:
                row[key] = timed(fn, device, args.repeats)
            except (torch.cuda.OutOfMemoryError if hasattr(torch.cuda, "OutOfMemoryError") else RuntimeError,
                    RuntimeError, MemoryError) as e:
                row[key] = dict(seconds=None, error="out of memory: " + str(e).split("\n")[0][:200])
                stopped.add(key)
                if device.type == "cuda":
                    torch.cuda.empty_cache()
        rows.append(row)
        cells = "  ".join(f"{k} {('%.3f s' % v['seconds']) if v.get('seconds') is not None else 'OOM'}"
                          for k, v in row.items() if isinstance(v, dict))
        print(f"{name:24s} {n:6d}  {cells}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(torch=torch.__version__, cpu_threads=torch.get_num_threads(), device=str(device), dtype=args.dtype,
                           rows=rows), f, indent=2)


if __name__ == "__main__":
    main()
