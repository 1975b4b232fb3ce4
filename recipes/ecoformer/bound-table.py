#!/usr/bin/env python3
"""Prints README.md's table "The contrast the binary kernel reaches" from the eval.json files of
`tools/reproduce.sh ecoformer --seeds 3 --out DIR` (DIR/runs) and of `recipes/ecoformer/bound-sweep.sh CFORMER DIR ARM...` (DIR/bound):
test accuracy and how concentrated the attention is (mean over both layers: attn_top5, attn_top16, attn_entropy,
attn_peak; see recipes/ecoformer/eval.c), mean +- sd over the seeds found, and the per-seed accuracies.

    python3 recipes/ecoformer/bound-table.py DIR
"""
import glob
import json
import math
import os
import statistics
import sys


def rows(d):
    yield "softmax, after 3 epochs", "inf", f"{d}/runs/softmax-seed*"
    yield "softmax, continued 2 epochs", "inf", f"{d}/runs/softmax-ft-seed*"
    for n in sorted({int(os.path.basename(p)[1:].split("-")[0]) for p in glob.glob(f"{d}/bound/s*-seed*")}, reverse=True):
        yield f"softmax, logits in [0, ln {2 * n + 1}], continued 2 epochs", str(2 * n + 1), f"{d}/bound/s{n}-seed*"
    yield "EcoFormer, KSH, 16 bits", "33", f"{d}/runs/ecoformer-seed*"
    yield "EcoFormer, random A, 16 bits", "33", f"{d}/runs/random-hash-seed*"
    for n in sorted({int(os.path.basename(p)[1:].split("-")[0]) for p in glob.glob(f"{d}/bound/b*-seed*")}):
        yield f"EcoFormer, KSH, {n} bits", str(2 * n + 1), f"{d}/bound/b{n}-seed*"


def cell(values, digits=3):
    v = [x for x in values if x is not None and math.isfinite(x)]
    if not v:
        return "-"
    if len(v) == 1:
        return f"{v[0]:.{digits}f}"
    return f"{statistics.mean(v):.{digits}f} +- {statistics.stdev(v):.{digits}f}"


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    d = sys.argv[1]
    print("| model | weight ratio bound R | test accuracy | per seed | top-5 mass | top-16 mass | top-16 mass, "
          "layers 0 / 1 | entropy | ln(max / median) |")
    print("|---|---|---|---|---|---|---|---|---|")
    uniform = None
    for name, bound, pattern in rows(d):
        evals = []
        for run in sorted(glob.glob(pattern)):
            path = os.path.join(run, "eval.json")
            if os.path.isdir(run) and os.path.exists(path):
                with open(path) as f:
                    evals.append(json.load(f))
        if not evals:
            continue
        get = lambda k: [e.get(k) for e in evals]
        uniform = uniform or evals[0].get("attn_entropy_uniform")
        caps = [e.get("attn_top16_cap") for e in evals if e.get("attn_top16_cap") is not None]
        top16 = cell(get("attn_top16")) + (f" (cap {caps[0]:.3f})" if caps else "")
        per_seed = " ".join(f"{a:.3f}".lstrip("0") for a in get("accuracy"))
        print(f"| {name} | {bound} | {cell(get('accuracy'))} | {per_seed} | {cell(get('attn_top5'))} | {top16} | "
              f"{cell(get('attn_top16_layer0'), 2)} / {cell(get('attn_top16_layer1'), 2)} | {cell(get('attn_entropy'), 2)} | "
              f"{cell(get('attn_peak'), 2)} |")
    if uniform:
        print(f"\nUniform attention: top-5 mass {5 / math.exp(uniform):.3f}, top-16 {16 / math.exp(uniform):.3f}, "
              f"entropy {uniform:.3f}, ln(max / median) 0.")


if __name__ == "__main__":
    main()
