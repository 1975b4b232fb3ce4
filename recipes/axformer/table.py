"""AxFormer's per-seed search table, the report step of recipes/axformer/reproduce.json.

usage: python3 recipes/axformer/table.py DIR RUN [RUN...]

For each RUN (a search run of the spec: search, search-eps), reads DIR/runs/RUN-seed*/search.json (written by
`cformer run axformer-search`) and prints, as Markdown, one row per seed (removal order, test accuracy unpruned
vs pruned, counted FLOPs ratio, back-to-back wall-clock ratio, the hard-attention layers kept) and the mean +-
sample standard deviation over the seeds. tools/reproduce.sh appends it to DIR/results.md; a RUN with no
search.json (left out with --runs) is skipped.
"""
import glob
import json
import os
import re
import statistics
import sys

COLUMNS = [("unpruned_test_accuracy", "test acc unpruned", "{:.3f}"),
           ("pruned_test_accuracy", "test acc pruned", "{:.3f}"),
           ("flops_ratio", "FLOPs ratio (counted)", "{:.2f}x"),
           ("wallclock_ratio", "wall-clock ratio (measured)", "{:.2f}x")]


def table(out, run):
    files = glob.glob(os.path.join(out, "runs", f"{run}-seed*", "search.json"))
    seed_of = lambda p: int(re.search(r"-seed(\d+)$", os.path.dirname(p)).group(1))
    rows = []
    for path in sorted(files, key=seed_of):
        j = json.load(open(path))
        missing = [k for k, _, _ in COLUMNS + [("removal_order", 0, 0), ("hard_layers", 0, 0)] if k not in j]
        if missing:
            sys.exit(f"table.py: {path}: no {', '.join(missing)} (an unfinished search?)")
        rows.append(dict(seed=seed_of(path), removal_order=j["removal_order"], hard_layers=j["hard_layers"],
                         **{k: j[k] for k, _, _ in COLUMNS}))
    if not rows:
        return ""
    head = ["seed", "removal order"] + [c for _, c, _ in COLUMNS] + ["hard-attention layers kept"]
    lines = [f"## {run}: per seed", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [str(r["seed"]), ", ".join(r["removal_order"]) or "(none)"]
        cells += [f.format(r[k]) for k, _, f in COLUMNS] + [str(r["hard_layers"])]
        lines.append("| " + " | ".join(cells) + " |")
    cells = [f"mean +- std ({len(rows)} seed{'s' if len(rows) > 1 else ''})", ""]
    for k, _, f in COLUMNS:
        v = [r[k] for r in rows]
        sd = statistics.stdev(v) if len(v) > 1 else 0.0
        cells.append(f.format(statistics.mean(v)) + " +- " + f.format(sd).rstrip("x"))
    lines.append("| " + " | ".join(cells + [""]) + " |")
    return "\n".join(lines) + "\n"


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    print("\n".join(t for t in (table(sys.argv[1], run) for run in sys.argv[2:]) if t), end="")


if __name__ == "__main__":
    main()
