#!/usr/bin/env python3
"""Generates the torch.save fixtures and expected values for the .pt reader (tests/test_pt_*.cpp).

Why this file exists
--------------------
attnscope reads torch.save files with its own restricted unpickler (core/src/pt/). Its tests need files
written by torch itself and the values torch reads back from them, so that nothing expected is typed in
by hand. This script, run with the oracle venv (torch 2.15, scripts/oracle-venv.sh), writes:

    tests/data/pt/<name>.pt              small files from torch.save, one feature each (below)
    tests/data/pt/<name>.expected.json   the file's object graph as torch.load returns it, encoded as
                                         tagged JSON (see encode()); tensors with dtype, shape, stride,
                                         offset, a storage group id and every value as float
    tests/data/pt/deflated.pt            nested.pt re-zipped with every entry deflated (read through libzip)
    tests/data/pt/legacy.pt              _use_new_zipfile_serialization=False: must be refused
    tests/data/pt/float8.pt              a float8 tensor (_rebuild_tensor_v3): must be refused by name
    tests/data/pt/cope-postnorm.expected.json
                                         for tests/data/ram-cope/cope-postnorm/cope-postnorm.pt (a real RAM
                                         checkpoint, written by torch 1.13): per state_dict entry its shape and
                                         float64 sum / abs-sum / index-weighted sum / first and last values,
                                         alias groups, cfg fields, tokenizer, optimizer and logger summaries

Run from the repository root:  /work/venv/bin/python tests/reference/make_pt_fixtures.py
"""

import argparse
import collections
import json
import math
import os
import sys
import types

import torch

OUT = "tests/data/pt"
COPE = "tests/data/ram-cope/cope-postnorm/cope-postnorm.pt"


def encode(value, storages):
    """Tagged JSON of a loaded value. `storages` maps storage data_ptr -> group id in first-use order."""
    if value is None:
        return {"type": "none"}
    if isinstance(value, bool):
        return {"type": "bool", "value": value}
    if isinstance(value, int):
        return {"type": "int", "value": value}
    if isinstance(value, float):
        return {"type": "float", "value": value if math.isfinite(value) else repr(value)}
    if isinstance(value, str):
        return {"type": "string", "value": value}
    if isinstance(value, torch.device):  # the reader maps torch.device to its string form
        return {"type": "string", "value": str(value)}
    if isinstance(value, (bytes, bytearray)):
        return {"type": "bytes", "hex": bytes(value).hex()}
    if isinstance(value, torch.Tensor):
        ptr = value.untyped_storage().data_ptr()
        group = storages.setdefault(ptr, len(storages))
        return {
            "type": "tensor",
            "dtype": str(value.dtype).replace("torch.", ""),
            "shape": list(value.shape),
            "stride": list(value.stride()),
            "offset": value.storage_offset(),
            "storage_group": group,
            "values": value.detach().float().contiguous().reshape(-1).tolist(),
        }
    if isinstance(value, dict):  # dict and OrderedDict
        return {"type": "dict", "items": [[encode(k, storages), encode(v, storages)] for k, v in value.items()]}
    if isinstance(value, list):
        return {"type": "list", "items": [encode(v, storages) for v in value]}
    if isinstance(value, tuple):
        return {"type": "tuple", "items": [encode(v, storages) for v in value]}
    cls = type(value)
    return {"type": "object", "class": cls.__module__ + "." + cls.__qualname__,
            "state": encode(dict(vars(value)), storages)}


def save_case(name, obj, **kwargs):
    path = os.path.join(OUT, name + ".pt")
    torch.save(obj, path, **kwargs)
    loaded = torch.load(path, weights_only=False)
    with open(os.path.join(OUT, name + ".expected.json"), "w") as f:
        json.dump({"generator": "torch " + torch.__version__ + " torch.save(" + ", ".join(
            f"{k}={v!r}" for k, v in kwargs.items()) + ")", "root": encode(loaded, {})}, f, indent=1)
        f.write("\n")


def make_small():
    g = torch.Generator().manual_seed(1234)
    base = torch.randn(4, 6, generator=g)
    # every dtype the reader supports, with values that survive the dtype
    dtypes = collections.OrderedDict()
    dtypes["f32"] = torch.randn(3, 4, generator=g)
    dtypes["f16"] = torch.randn(5, generator=g).half()
    dtypes["bf16"] = torch.randn(2, 3, generator=g).bfloat16()
    dtypes["f64"] = torch.randn(3, generator=g).double()
    dtypes["i64"] = torch.tensor([-(2 ** 40), -1, 0, 7, 2 ** 20], dtype=torch.int64)
    dtypes["i32"] = torch.tensor([-(2 ** 31), -5, 0, 2 ** 31 - 1], dtype=torch.int32)
    dtypes["i16"] = torch.tensor([-32768, -3, 32767], dtype=torch.int16)
    dtypes["i8"] = torch.tensor([-128, -1, 0, 127], dtype=torch.int8)
    dtypes["u8"] = torch.tensor([0, 1, 200, 255], dtype=torch.uint8)
    dtypes["bool"] = torch.tensor([True, False, True])
    save_case("dtypes", dtypes)

    # views: offsets, non-contiguous strides, shared storages, 0-dim and empty tensors
    views = {
        "base": base,
        "row2": base[2],  # offset 12
        "transposed": base.t(),  # stride (1, 6)
        "every_other": base[:, ::2],  # stride (6, 2)
        "corner": base[1:3, 2:5],  # offset 8, non-contiguous
        "expanded": torch.arange(3.0).expand(4, 3),  # stride (0, 1)
        "scalar": torch.tensor(2.5),
        "empty": torch.zeros(0, 3),
        "alias_of_base": base,
    }
    save_case("views", views)

    # a module's OrderedDict state_dict (with _metadata), tied weights
    torch.manual_seed(7)
    model = torch.nn.Sequential(torch.nn.Embedding(5, 4), torch.nn.LayerNorm(4), torch.nn.Linear(4, 5, bias=False))
    model[2].weight = model[0].weight
    save_case("state_dict", model.state_dict())

    nested = {
        "ints": [0, 1, -1, 255, 256, 65535, 65536, -(2 ** 31), 2 ** 31, 2 ** 62, -(2 ** 63)],
        "floats": (0.0, -1.5, 1e-300, 3.141592653589793),
        "text": ["", "ascii", "ünïcödé ✓", "x" * 300],
        "bytes": b"\x00\x01\xfe\xff",
        "flags": [True, False, None],
        "deep": {"a": {"b": {"c": [[1, [2, [3]]]]}}},
        "tensors": [torch.ones(2), (torch.zeros(1, dtype=torch.int64),)],
        7: "int key",
    }
    save_case("nested", nested)
    save_case("nested_p4", nested, pickle_protocol=4)
    save_case("nested_p5", nested, pickle_protocol=5)

    ns = argparse.Namespace(nlayers=3, hid_sz=48, nheads=4, block_size=16, pos_emb="cope", post_norm=False,
                            emb_tie=False, drop=0.1, device=torch.device("cpu"), cope_npos=None)
    save_case("namespace", ns)

    save_case("parameter", {"p": torch.nn.Parameter(torch.arange(4.0))})

    # torch never compresses, but a re-zipped file may: the same archive with every entry deflated
    import zipfile
    with zipfile.ZipFile(os.path.join(OUT, "nested.pt")) as src, \
            zipfile.ZipFile(os.path.join(OUT, "deflated.pt"), "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))

    torch.save({"w": torch.ones(2)}, os.path.join(OUT, "legacy.pt"), _use_new_zipfile_serialization=False)
    torch.save({"w": torch.zeros(2, dtype=torch.float8_e4m3fn)}, os.path.join(OUT, "float8.pt"))


def load_cope():
    # The checkpoint's logger pickles src.utils.logger.Metric; a placeholder class lets torch.load build it
    # without the RAM repository (fixture README, "Loading from Python").
    for name in ("src", "src.utils", "src.utils.logger"):
        sys.modules.setdefault(name, types.ModuleType(name))
    sys.modules["src.utils.logger"].Metric = type("Metric", (), {})
    return torch.load(COPE, map_location="cpu", weights_only=False)


def summary(t):
    v = t.detach().double().contiguous().reshape(-1)
    idx = torch.arange(1, v.numel() + 1, dtype=torch.float64)
    return {
        "shape": list(t.shape),
        "dtype": str(t.dtype).replace("torch.", ""),
        "sum": v.sum().item(),
        "abs_sum": v.abs().sum().item(),
        "weighted_sum": (v * idx).sum().item(),
        "first": v[:4].tolist(),
        "last": v[-1].item(),
    }


def make_cope():
    ck = load_cope()
    model = ck["model"]
    groups = {}
    for key, t in model.items():
        groups.setdefault(t.untyped_storage().data_ptr(), []).append(key)
    cfg = vars(ck["cfg"])
    opt = ck["optimizer"]
    metrics = ck["logger"]["metrics"]
    out = {
        "generator": "torch " + torch.__version__ + " torch.load of " + COPE,
        "top_keys": list(ck.keys()),
        "cfg": {k: (str(v) if isinstance(v, torch.device) else v) for k, v in cfg.items()},
        "model": [[key, summary(t)] for key, t in model.items()],
        "distinct_storages": len(groups),
        "alias_groups": [keys for keys in groups.values() if len(keys) > 1],
        "model_metadata_keys": list(getattr(model, "_metadata", {}).keys()),
        "ind2word": ck["tokenizer"]["ind2word"],
        "word2ind_size": len(ck["tokenizer"]["word2ind"]),
        "optimizer": {
            "state_count": len(opt["state"]),
            "state0_step": opt["state"][0]["step"].item(),
            "state0_exp_avg": summary(opt["state"][0]["exp_avg"]),
            "lr": opt["param_groups"][0]["lr"],
            "betas": list(opt["param_groups"][0]["betas"]),
        },
        "logger": {
            "epochs": len(ck["logger"]["log"]),
            "metric_count": len(metrics),
            "first_metric_name": next(iter(metrics.keys())),
            "first_metric_class": type(next(iter(metrics.values()))).__name__,
            "last_epoch": ck["logger"]["log"][-1],
        },
    }
    with open(os.path.join(OUT, "cope-postnorm.expected.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    if not os.path.isdir(OUT):
        sys.exit("run from the repository root")
    make_small()
    make_cope()
    print("wrote", sorted(os.listdir(OUT)))
