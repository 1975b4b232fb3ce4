"""AxFormer's result table from the search.json files of recipes/axformer/reproduce.sh.

usage: python3 recipes/axformer/table.py DIR [COMMAND]

Reads DIR/seed-*/search/search.json (written by `cformer run axformer-search`), prints one row per seed
(removal order, test accuracy unpruned vs pruned, counted FLOPs ratio, back-to-back wall-clock ratio, the
hard-attention layers kept) and the mean +- sample standard deviation over the seeds, and writes the same to
DIR/results.md and DIR/results.json. COMMAND is printed as the line that produced the table.
"""
import glob
import json
import os
import statistics
import sys

COLUMNS = [("unpruned_test_accuracy", "test acc unpruned", "{:.3f}"),
           ("pruned_test_accuracy", "test acc pruned", "{:.3f}"),
           ("flops_ratio", "FLOPs ratio (counted)", "{:.2f}x"),
           ("wallclock_ratio", "wall-clock ratio (measured)", "{:.2f}x")]


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    out = sys.argv[1]
    files = sorted(glob.glob(os.path.join(out, "seed-*", "search", "search.json")),
                   key=lambda p: int(p.split("seed-")[-1].split(os.sep)[0]))
    if not files:
        sys.exit(f"table.py: no {out}/seed-*/search/search.json")
    rows = []
    for path in files:
        j = json.load(open(path))
        missing = [k for k, _, _ in COLUMNS if k not in j]
        if missing:
            sys.exit(f"table.py: {path}: no {', '.join(missing)} (an unfinished search?)")
        rows.append(dict(seed=path.split("seed-")[-1].split(os.sep)[0], removal_order=j["removal_order"],
                         hard_layers=j["hard_layers"], **{k: j[k] for k, _, _ in COLUMNS}))
    head = ["seed", "removal order"] + [c for _, c, _ in COLUMNS] + ["hard-attention layers kept"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["seed"], ", ".join(r["removal_order"]) or "(none)"]
        cells += [f.format(r[k]) for k, _, f in COLUMNS] + [str(r["hard_layers"])]
        lines.append("| " + " | ".join(cells) + " |")
    summary = {}
    for k, c, f in COLUMNS:
        v = [r[k] for r in rows]
        summary[k] = dict(mean=statistics.mean(v), std=statistics.stdev(v) if len(v) > 1 else 0.0,
                          min=min(v), max=max(v))
    cells = [f"mean +- std ({len(rows)} seeds)", ""]
    cells += [f.format(summary[k]["mean"]) + " +- " + f.format(summary[k]["std"]).rstrip("x") for k, _, f in COLUMNS]
    lines.append("| " + " | ".join(cells + [""]) + " |")
    text = "\n".join(lines) + "\n"
    if len(sys.argv) == 3:
        text = f"`{sys.argv[2]}`\n\n" + text
    print(text, end="")
    with open(os.path.join(out, "results.md.tmp"), "w") as f:
        f.write(text)
    os.replace(os.path.join(out, "results.md.tmp"), os.path.join(out, "results.md"))
    with open(os.path.join(out, "results.json.tmp"), "w") as f:
        json.dump(dict(seeds=rows, summary=summary), f, indent=1)
    os.replace(os.path.join(out, "results.json.tmp"), os.path.join(out, "results.json"))


if __name__ == "__main__":
    main()
