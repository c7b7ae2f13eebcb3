#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Joins `attnscope-cli bench --json` and `eager_reference.py --json` outputs into one Markdown table with the
ratios (eager / attnscope, naive / attnscope, attnscope / matmul floor). Usage: report.py ATTNSCOPE.json EAGER.json..."""
import json
import sys


def fmt(entry):
    if not isinstance(entry, dict):
        return "-"
    seconds = entry.get("seconds")
    if seconds is not None:
        return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"
    error = entry.get("error", "")
    return "OOM" if "out of memory" in error or "needs about" in error else "-"


def sec(entry):
    return entry.get("seconds") if isinstance(entry, dict) else None


def ratio(a, b):
    return f"{a / b:.1f}x" if a is not None and b else "-"


def main():
    ours = json.load(open(sys.argv[1]))
    eager = {}
    eager_meta = {}
    for path in sys.argv[2:]:
        doc = json.load(open(path))
        eager_meta = doc
        for row in doc["rows"]:
            eager[(row["model"], row["tokens"])] = row
    threads = f", {ours['cpu_threads']} CPU thread(s)" if "cpu_threads" in ours else ""
    if eager_meta:
        eager_threads = f", {eager_meta['cpu_threads']} CPU thread(s)" if "cpu_threads" in eager_meta else ""
        print(f"eager reference: PyTorch {eager_meta['torch']} on {eager_meta['device']} ({eager_meta['dtype']}{eager_threads})")
    print(f"attnscope on {ours['device']} ({ours['dtype']}, LibTorch {ours['torch']}{threads}); matmul "
          f"{ours['matmul_flops'] / 1e12:.2f} TFLOP/s; overview {ours['overview']}^2 max-pool; medians of {ours['repeats']}\n")
    print("| model | N | forward | 1 head overview | 1 layer overviews | all overviews | 256² window | every kind, every head "
          "| peak mem | naive 1 head | eager 1 head | eager all | eager/ours (all) | ours/floor (all) |")
    print("|" + "---|" * 14)
    for row in ours["rows"]:
        e = eager.get((row["model"].removesuffix("-stretched"), row["tokens"]), {})
        peak = row["overview_all"].get("peak_bytes")
        floor = row.get("floor_all_seconds")
        peak_text = f"{peak / 2**30:.2f} GiB" if peak else "?"
        print(f"| {row['model']} | {row['tokens']} | {fmt(row['forward'])} | {fmt(row['overview_head'])} | "
              f"{fmt(row['overview_layer'])} | {fmt(row['overview_all'])} | {fmt(row['window_256'])} | "
              f"{fmt(row.get('every_map'))} | {peak_text} | ", end="")
        print(f"{fmt(row['naive_head'])} | "
              f"{fmt(e.get('overview_head')) if e else '-'} | {fmt(e.get('overview_all')) if e else '-'} | "
              f"{ratio(sec(e.get('overview_all')), sec(row['overview_all'])) if e else '-'} | "
              f"{ratio(sec(row['overview_all']), floor) if floor and floor > 0 else '-'} |")


if __name__ == "__main__":
    main()
