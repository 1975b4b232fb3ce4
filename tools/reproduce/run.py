#!/usr/bin/env python3
"""Re-runs a paper's published tables and prints them beside the published numbers (tools/reproduce.sh).

    run.py SPEC.json --cformer BIN --out DIR --seeds N [--threads T] [--smoke] [--resume] [--dry-run]
           [--runs NAME,...] [--command STR]

SPEC.json (recipes/<paper>/reproduce.json) holds
  smoke:  {set: [...], registry: true}: --set options every run adds under --smoke (see below); registry:
          false leaves out the registry's smoke settings (a folder whose recipes are not its paper's default
          recipe, e.g. a second workload of a registered paper, gives all of its smoke settings itself)
  prepare: [{command: [ARGV...], smoke: false}]: data steps run once, in order, from the repository root
          before any training (a script that writes a data file the runs read); each one's output goes to
          DIR/prepare-I.log; a failure stops the reproduction with the command and the output's last lines.
          Under --smoke a step runs only when its smoke is true (the smoke runs use tiny generated data).
  runs:   {name, recipe, set: [...], eval_set: [...], init_from: {run, step}, eval_ckpt: {KEY: run},
           eval: false (train only), smoke: {set: [...]}}
          or, for a paper's own job on another run's checkpoint, {name, recipe, command: NAME, checkpoint: RUN,
           result: FILE, set: [...], smoke: {set: [...]}}: `cformer run NAME RECIPE --checkpoint CKPT --out
           DIR/runs/NAME-seedS --set train.seed=S ...` with CKPT the last checkpoint of RUN of the same seed index;
           the JSON file FILE it writes in its --out directory is what the table keys read (in place of eval.json).
          Each run is trained once per seed (`cformer train RECIPE --run-dir DIR/runs/NAME-seedS --set
          train.seed=S ...`, S = the recipe's train.seed + i for i < N) and its last checkpoint evaluated
          (`cformer eval --checkpoint CKPT --out .../eval.json`). init_from starts it from another run's
          checkpoint of the same seed index (`--init-from`); eval_ckpt passes another run's last
          checkpoint of the same seed index as an eval.* key (the ablation's checkpoint); "{out}" in a
          set value is DIR.
          --smoke trains every run with the paper's registry smoke settings (`cformer list papers`: a few
          steps, tiny data written under DIR/data, tiny evaluation), then the spec's smoke.set, then the
          run's own smoke.set, and init_from takes the other run's last checkpoint; the smoke sets of eval.* and
          data.* keys go to the evaluation too (a --set data.path is relative to the working directory).
  tables: {title, readme, rows: [{row, run, cells: [{column, key, published}]}]}
          key: a dotted path into eval.json ("ce", "slow.optimal_1"; an integer indexes a list: "curve.5"), or
          "train:KEY" for the last
          value of KEY in the run's metrics.jsonl ("train:loss", "train:elapsed_s"); published: the README's
          number, or null where the README publishes none.
  report: [{command: [ARGV...]}]: run after the tables are written, from the repository root ("{out}" in an
          argument is DIR); what each prints is shown and appended to results.md (a paper's own view of the
          same runs, e.g. per-seed text columns the numeric tables cannot hold).
--runs NAME,... reproduces only those runs (and every run they start from or are evaluated against, which
must be among them) and only the table rows of those runs; a table left without rows is left out.
Writes DIR/results.json (environment, every run's values and timings, each cell's mean / sd / min / max)
and DIR/results.md, prints the Markdown, and exits 1 when a run fails or a cell has no value.
The environment (commit, nproc, CPU model, BLAS kernel) is read by tools/reproduce.sh and passed in
DIR/environment.json. --dry-run prints the commands and runs (and writes) nothing.
--resume keeps what an interrupted reproduction into the same DIR finished: a training is reused when its log
(runs/NAME-seedS.train.log) starts with the same command (the binary's path aside) and it ended (the run's
train.done marker, or its eval.json); an evaluation when its eval.json exists and its log starts with the same
command; neither when a run it starts from or is evaluated against (init_from, eval_ckpt) was run again.
Anything else is run again, so a changed setting, seed or thread count retrains. Recipe files are not
compared: after editing a recipe, reproduce into a new DIR.
"""
import argparse
import glob
import json
import math
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import time


def fail(msg):
    print(f"reproduce: {msg}", file=sys.stderr)
    sys.exit(1)


def sources(r):
    """The runs r starts from or reads a checkpoint of."""
    refs = [r.get("init_from", {}).get("run"), r.get("checkpoint")] + list(r.get("eval_ckpt", {}).values())
    return [x for x in refs if x]


def load_spec(path):
    try:
        with open(path) as f:
            spec = json.load(f)
    except (OSError, ValueError) as e:
        fail(f"{path}: {e}")
    def need(obj, keys, what):
        if not isinstance(obj, dict) or any(k not in obj for k in keys):
            fail(f"{path}: {what} needs the keys {', '.join(keys)}: {json.dumps(obj)}")

    need(spec, ("paper", "runs", "tables"), "the spec")
    if not isinstance(spec.get("smoke", {}).get("registry", True), bool):
        fail(f"{path}: smoke.registry must be true or false: {json.dumps(spec['smoke'])}")
    for kind in ("prepare", "report"):
        for p in spec.get(kind, []):
            need(p, ("command",), f"a {kind} step")
            if not isinstance(p["command"], list) or not p["command"] or not all(isinstance(a, str) for a in p["command"]):
                fail(f"{path}: a {kind} step's command must be a non-empty list of strings: {json.dumps(p)}")
    names = set()
    for r in spec["runs"]:
        need(r, ("name", "recipe"), "a run")
        if "command" in r:
            need(r, ("name", "recipe", "command", "checkpoint", "result"), "a run of a command")
        for ref in sources(r):
            if ref not in names:
                fail(f"{path}: run '{r['name']}' refers to '{ref}', which is not a run listed before it")
        names.add(r["name"])
    for t in spec["tables"]:
        need(t, ("title", "rows"), "a table")
        for row in t["rows"]:
            need(row, ("row", "run", "cells"), f"a row of '{t['title']}'")
            if row["run"] not in names:
                fail(f"{path}: table '{t['title']}' row '{row['row']}' names unknown run '{row['run']}'")
            for c in row["cells"]:
                need(c, ("column", "key"), f"a cell of '{row['row']}'")
    return spec


def select_runs(spec, names, path):
    """The spec restricted to the runs `names` (--runs): their table rows only, tables left empty dropped."""
    known = [r["name"] for r in spec["runs"]]
    for n in names:
        if n not in known:
            fail(f"--runs: {path} has no run '{n}' (its runs: {', '.join(known)})")
    runs = [r for r in spec["runs"] if r["name"] in names]
    for r in runs:
        for ref in sources(r):
            if ref not in names:
                fail(f"--runs: run '{r['name']}' needs run '{ref}'; add it to --runs")
    tables = []
    for t in spec["tables"]:
        rows = [row for row in t["rows"] if row["run"] in names]
        if rows:
            tables.append(dict(t, rows=rows))
    return dict(spec, runs=runs, tables=tables)


def prepare(args, spec):
    """Runs the spec's data steps (prepare) in order from the working directory (the repository root)."""
    for i, p in enumerate(spec.get("prepare", [])):
        if args.smoke and not p.get("smoke", False):
            continue
        if not args.dry_run and shutil.which(p["command"][0]) is None:
            fail(f"prepare step {i + 1}: '{p['command'][0]}' is not an executable file (from {os.getcwd()})")
        log = os.path.join(args.out, f"prepare-{i + 1}.log")
        run_logged(args, f"prepare: {shlex.join(p['command'])} ...", p["command"], log, dict(os.environ),
                   reusable=False)


def recipe_seed(recipe, set_items):
    """train.seed of a run: a train.seed= among its --set options, else the recipe file's (block style
    `train:` / `  seed: N` or flow style `train: {seed: N}`), else the trainer's default, 0. Read from the
    file rather than `cformer recipe check`, which builds the data (a dry run would simulate it)."""
    for kv in set_items:
        if kv.startswith("train.seed="):
            return int(kv.split("=", 1)[1])
    section = None
    try:
        with open(recipe) as f:
            for line in f:
                code = line.split("#")[0].rstrip()
                if not code.strip():
                    continue
                if not code[0].isspace():
                    section, _, rest = code.partition(":")
                    m = re.search(r"[{,]\s*seed:\s*(\d+)", rest) if section == "train" else None
                elif section == "train":
                    m = re.fullmatch(r"\s+seed:\s*(\d+)", code)
                else:
                    m = None
                if m:
                    return int(m.group(1))
    except OSError as e:
        fail(f"{recipe}: {e.strerror}")
    return 0


def checkpoint(args, run_dir, step=None):
    """The run's checkpoint of `step` (None: its last one); with --dry-run, the path it will have."""
    if args.dry_run:
        return os.path.join(run_dir, "checkpoints", f"step-{step:08d}.h5" if step else "step-LAST.h5")
    if step is not None:
        path = os.path.join(run_dir, "checkpoints", f"step-{step:08d}.h5")
        if not os.path.exists(path):
            fail(f"{path}: missing (the run keeps checkpoint.keep checkpoints every checkpoint.every steps)")
        return path
    ckpts = sorted(glob.glob(os.path.join(run_dir, "checkpoints", "step-*.h5")))
    if not ckpts:
        fail(f"{run_dir}: no checkpoint was written")
    return ckpts[-1]


def same_command(log_path, cmd):
    """True when log_path's first line is "$ " + cmd, the binary's path (argv[0]) left out of the comparison."""
    try:
        with open(log_path) as log:
            first = log.readline()
    except OSError:
        return False
    if not first.startswith("$ "):
        return False
    try:
        logged = shlex.split(first[2:])
    except ValueError:
        return False
    return logged[1:] == cmd[1:]


def run_logged(args, label, cmd, log_path, env, done_paths=(), reusable=True):
    """Runs cmd (printing label) with its output in log_path; returns the wall seconds, or exits naming the
    log's tail. With --dry-run, prints the command instead. With --resume, a command whose log shows the same
    command and one of whose done_paths exists is not run again (returns None) unless reusable is False."""
    if args.dry_run:
        print(shlex.join(cmd))
        return 0.0
    if args.resume and reusable and any(os.path.exists(p) for p in done_paths) and same_command(log_path, cmd):
        print(label + " reused", flush=True)
        return None
    for p in done_paths:  # a rerun must not leave an older result that looks finished
        if os.path.exists(p):
            os.remove(p)
    print(label, flush=True)
    t0 = time.monotonic()
    with open(log_path, "w") as log:
        log.write("$ " + shlex.join(cmd) + "\n")
        log.flush()
        rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env).returncode
    if rc != 0:
        with open(log_path) as log:
            tail = "".join(log.readlines()[-5:])
        fail(f"exit {rc}: {shlex.join(cmd)}\n{tail}")
    return time.monotonic() - t0


def sets(items, out_dir):
    """--set options; "{out}" in a value is the output directory (where --smoke puts its small data)."""
    out = []
    for s in items:
        out += ["--set", s.replace("{out}", out_dir)]
    return out


def registry_smoke_sets(cformer, paper, data_dir):
    """The paper's smoke settings from the registry (`cformer list papers`: the sets its own smoke test
    trains with), SMOKE_DIR replaced by data_dir."""
    out = subprocess.run([cformer, "list", "papers"], capture_output=True, text=True)
    for line in out.stdout.splitlines():
        f = line.split("\t")
        if f[0] == paper and len(f) >= 7:
            return [] if f[6] == "-" else [kv.replace("SMOKE_DIR", data_dir) for kv in f[6].split()]
    fail(f"cformer list papers: no paper '{paper}' with smoke settings")


def run_command(args, r, seed, run_dir, common, done, env, reusable):
    """A paper's own job on the last checkpoint of run r["checkpoint"] of the same seed index: `cformer run
    COMMAND RECIPE --checkpoint CKPT --out RUN_DIR ...`; its JSON file r["result"] is the run's values."""
    ckpt = checkpoint(args, done[r["checkpoint"]]["run_dir"])
    marker, result = run_dir + ".run.done", os.path.join(run_dir, r["result"])
    cmd = [args.cformer, "run", r["command"], r["recipe"], "--checkpoint", ckpt, "--out", run_dir,
           "--set", f"train.seed={seed}"] + common
    run_s = run_logged(args, f"  run   {r['name']} seed {seed} ...", cmd, run_dir + ".run.log", env, (marker,),
                       reusable)
    if args.dry_run:
        return {"run_dir": run_dir, "reused": False}
    if run_s is not None:
        with open(marker, "w") as f:
            f.write("done\n")
    try:
        with open(result) as f:
            values = json.load(f)
    except (OSError, ValueError) as e:
        fail(f"{result}: {e} (the result `cformer run {r['command']}` should have written)")
    return {"seed": seed, "run_dir": run_dir, "checkpoint": ckpt, "train_s": None if run_s is None else round(run_s, 1),
            "eval_s": None, "reused": run_s is None, "eval": values, "train": {}}


def report(args, spec):
    """The spec's report steps' output (Markdown), run from the working directory (the repository root)."""
    text = ""
    for p in spec.get("report", []):
        cmd = [a.replace("{out}", args.out) for a in p["command"]]
        if args.dry_run:
            print(shlex.join(cmd))
            continue
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            fail(f"report: exit {out.returncode}: {shlex.join(cmd)}\n{out.stdout[-1000:]}{out.stderr[-2000:]}")
        text += "\n" + out.stdout
    return text


def train_and_eval(args, spec, seed_index, env):
    """Trains and evaluates every run of the spec for one seed index; returns {run: {...}}."""
    done = {}
    base = []
    if args.smoke:
        if spec.get("smoke", {}).get("registry", True):
            base = registry_smoke_sets(args.cformer, spec["paper"], os.path.join(args.out, "data"))
        base += spec.get("smoke", {}).get("set", [])
    for r in spec["runs"]:
        smoke = r.get("smoke", {}) if args.smoke else {}
        smoke_sets = base + smoke.get("set", [])
        seed = recipe_seed(r["recipe"], r.get("set", []) + smoke_sets) + seed_index
        run_dir = os.path.join(args.out, "runs", f"{r['name']}-seed{seed}")
        common = sets(r.get("set", []) + smoke_sets, args.out)
        if args.threads:
            common += sets([f"train.threads={args.threads}"], args.out)
        # a run started from, or evaluated against, a run trained again now must be run again too
        reusable = all(done[d].get("reused", False) for d in sources(r))
        if "command" in r:
            done[r["name"]] = run_command(args, r, seed, run_dir, common, done, env, reusable)
            continue
        cmd = [args.cformer, "train", r["recipe"], "--run-dir", run_dir, "--quiet", "--overwrite",
               "--set", f"train.seed={seed}"] + common
        if "init_from" in r:
            src = done[r["init_from"]["run"]]["run_dir"]
            cmd += ["--init-from", checkpoint(args, src, None if args.smoke else r["init_from"]["step"])]
        eval_json = os.path.join(run_dir, "eval.json")
        train_done = run_dir + ".train.done"
        done_paths = (train_done, eval_json) if r.get("eval", True) else (train_done,)
        train_s = run_logged(args, f"  train {r['name']} seed {seed} ...", cmd, run_dir + ".train.log", env,
                             done_paths, reusable)
        if train_s is not None and not args.dry_run:
            with open(train_done, "w") as f:
                f.write("trained\n")
        ckpt = checkpoint(args, run_dir)
        ev_values, eval_s = {}, 0.0
        if r.get("eval", True):
            ev = sets(r.get("eval_set", []) + [kv for kv in smoke_sets if kv.startswith(("eval.", "data."))], args.out)
            if args.threads:
                ev += sets([f"train.threads={args.threads}"], args.out)
            for key, other in r.get("eval_ckpt", {}).items():
                ev += ["--set", f"{key}={checkpoint(args, done[other]['run_dir'])}"]
            cmd = [args.cformer, "eval", "--checkpoint", ckpt, "--out", eval_json] + ev
            eval_s = run_logged(args, f"  eval  {r['name']} seed {seed} ...", cmd, run_dir + ".eval.log", env,
                                (eval_json,) if train_s is None else (), reusable)
            if not args.dry_run:
                with open(eval_json) as f:
                    ev_values = json.load(f)
        if args.dry_run:
            done[r["name"]] = {"run_dir": run_dir, "reused": False}
            continue
        last = {}  # each key's value on the last line that has it (training and validation lines alternate)
        with open(os.path.join(run_dir, "metrics.jsonl")) as f:
            for line in f:
                if line.strip():
                    last.update(json.loads(line))
        done[r["name"]] = {"seed": seed, "run_dir": run_dir, "checkpoint": ckpt,
                           "train_s": None if train_s is None else round(train_s, 1),
                           "eval_s": None if eval_s is None else round(eval_s, 1),
                           "reused": train_s is None, "eval": ev_values, "train": last}
    return done


def lookup(run, key):
    src, path = ("train", key[6:]) if key.startswith("train:") else ("eval", key)
    v = run[src]
    for part in path.split("."):
        if isinstance(v, list) and re.fullmatch(r"\d+", part) and int(part) < len(v):
            v = v[int(part)]
        elif isinstance(v, dict) and part in v:
            v = v[part]
        else:
            return None
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def summarise(values):
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return {"n": 0, "mean": None, "sd": None, "min": None, "max": None}
    return {"n": len(finite), "mean": statistics.fmean(finite),
            "sd": statistics.stdev(finite) if len(finite) > 1 else None, "min": min(finite), "max": max(finite)}


def fmt(v):
    if v is None:
        return "--"
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    if abs(v) >= 100 or v == int(v):
        return f"{v:.1f}" if v != int(v) else f"{int(v)}"
    return f"{v:.3f}" if abs(v) >= 0.001 or v == 0 else f"{v:.3g}"


def fmt_published(v):
    """A published number as the README writes it (0.37, 204.5, 6080)."""
    return "--" if v is None else f"{v:g}"


def build_tables(spec, per_seed):
    tables, missing = [], []
    for t in spec["tables"]:
        rows = []
        for row in t["rows"]:
            for cell in row["cells"]:
                runs = [s[row["run"]] for s in per_seed]
                values = [lookup(r, cell["key"]) for r in runs]
                if any(v is None for v in values):
                    missing.append(f"{t['title']}: {row['row']} / {cell['column']} ({cell['key']})")
                rows.append({"row": row["row"], "column": cell["column"], "key": cell["key"],
                             "published": cell.get("published"),
                             "runs": [{"seed": r["seed"], "value": v} for r, v in zip(runs, values)],
                             **summarise(values)})
        tables.append({"title": t["title"], "readme": t.get("readme"), "rows": rows})
    return tables, missing


def markdown(result):
    env = result["environment"]
    out = [f"# Reproduction: {result['paper']}", "",
           f"`{result['command']}`", "",
           "| | |", "|---|---|"]
    for k in ("date", "commit", "nproc", "cpu_model", "blas", "blas_config", "threads", "omp_wait_policy",
              "seeds", "smoke", "wall_s", "reused_runs"):
        v = result.get(k, env.get(k))
        out.append(f"| {k} | {v} |")
    for t in result["tables"]:
        out += ["", f"## {t['title']}", ""]
        if t.get("readme"):
            out += [f"Published in `{t['readme']}`.", ""]
        out += ["| row | column | published | mean | sd | min | max | per run (seed: value) |",
                "|---|---|---|---|---|---|---|---|"]
        for r in t["rows"]:
            per = ", ".join(f"{x['seed']}: {fmt(x['value'])}" for x in r["runs"])
            cells = [r["row"], r["column"], fmt_published(r["published"])]
            cells += [fmt(r[k]) for k in ("mean", "sd", "min", "max")]
            out.append("| " + " | ".join(cells + [per]) + " |")
    return "\n".join(out) + "\n"


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("spec")
    ap.add_argument("--cformer", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--dry-run", action="store_true")
    ap.add_argument("--runs", default="")
    ap.add_argument("--command", default="")
    args = ap.parse_args()
    if args.seeds < 1:
        fail("--seeds must be at least 1")
    spec = load_spec(args.spec)
    if args.runs:
        spec = select_runs(spec, [n for n in args.runs.split(",") if n], args.spec)
    for sub in ("runs", "data"):
        if not args.dry_run:
            os.makedirs(os.path.join(args.out, sub), exist_ok=True)
    try:
        with open(os.path.join(args.out, "environment.json")) as f:
            env_info = json.load(f)
    except (OSError, ValueError):
        env_info = {}
    env = dict(os.environ)
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)
    t0 = time.monotonic()
    prepare(args, spec)
    per_seed = []
    for i in range(args.seeds):
        print(f"{'# ' if args.dry_run else ''}seed index {i + 1} of {args.seeds}", flush=True)
        per_seed.append(train_and_eval(args, spec, i, env))
    if args.dry_run:
        report(args, spec)
        return
    tables, missing = build_tables(spec, per_seed)
    result = {"format": "cformer-reproduce", "version": 1, "paper": spec["paper"], "command": args.command,
              "seeds": args.seeds, "smoke": args.smoke, "wall_s": round(time.monotonic() - t0, 1),
              "reused_runs": sum(r["reused"] for s in per_seed for r in s.values()),
              "environment": env_info, "tables": tables,
              "runs": [{name: {k: v for k, v in r.items() if k != "eval"}
                        for name, r in s.items()} for s in per_seed],
              "missing": missing}
    md = markdown(result)
    if not missing:
        md += report(args, spec)
    write_atomic(os.path.join(args.out, "results.json"), json.dumps(result, indent=1) + "\n")
    write_atomic(os.path.join(args.out, "results.md"), md)
    print(md)
    print(f"written: {args.out}/results.md, {args.out}/results.json")
    if missing:
        fail("no value for: " + "; ".join(missing))


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `--dry-run | head` ends quietly
    main()
