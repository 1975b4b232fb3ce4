#!/usr/bin/env python3
"""Prints the table of recipes/dualformer/sensitivity.sh: for the recipe as it is (DIR/runs/dualformer-seedS, from
`tools/reproduce.sh dualformer --out DIR`) and for every arm it finds (DIR/sensitivity/ARM-seedS), the
1-Optimal-8 of each mode as mean +- sd over the seeds present, the per-seed values and the held-out loss.

    python3 recipes/dualformer/sensitivity-table.py DIR
"""
import json
import os
import re
import statistics
import sys


def runs(dir_, pattern):
    out = {}
    if not os.path.isdir(dir_):
        return out
    for name in os.listdir(dir_):
        m = re.fullmatch(pattern, name)
        path = os.path.join(dir_, name, "eval.json")
        if m and os.path.isfile(path):
            with open(path) as f:
                out.setdefault(m.group(1), {})[int(m.group(2))] = json.load(f)
    return out


def cell(values):
    if len(values) == 1:
        return "%.3f" % values[0]
    return "%.3f +- %.3f" % (statistics.mean(values), statistics.stdev(values))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__.strip())
    d = sys.argv[1]
    arms = runs(os.path.join(d, "runs"), r"(dualformer)-seed(\d+)")
    arms.update(runs(os.path.join(d, "sensitivity"), r"(.+)-seed(\d+)"))
    if not arms:
        sys.exit("sensitivity-table: no eval.json under %s/runs/dualformer-seed*/ or %s/sensitivity/*/" % (d, d))
    print("| arm | seeds | slow | fast | auto | per seed (slow / fast / auto) | held-out loss |")
    print("|---|---|---|---|---|---|---|")
    order = sorted(arms, key=lambda a: (a != "dualformer", a))
    for arm in order:
        by_seed = arms[arm]
        seeds = sorted(by_seed)
        modes = [[by_seed[s][m]["optimal_1"] for s in seeds] for m in ("slow", "fast", "auto")]
        per = ", ".join("%d: %s" % (s, " / ".join("%.3f" % by_seed[s][m]["optimal_1"] for m in ("slow", "fast", "auto")))
                        for s in seeds)
        loss = cell([by_seed[s]["loss"] for s in seeds])
        name = "recipe as it is (2400 steps)" if arm == "dualformer" else arm
        print("| %s | %s | %s | %s | %s | %s | %s |" % (name, ",".join(map(str, seeds)), cell(modes[0]), cell(modes[1]),
                                                        cell(modes[2]), per, loss))


if __name__ == "__main__":
    main()
