#!/usr/bin/env bash
# tools/reproduce.sh --smoke for every paper: each published table's runs train a few steps on tiny data and
# are evaluated with tiny settings, and the table comes out -- results.json parses, it has the spec's tables,
# rows and columns with a value per seed, the mean / sd / min / max agree with the per-run values, the
# environment (commit, nproc, CPU model, BLAS kernel) is recorded, and results.md has a line per cell.
# Every registered paper has a reproduction spec and every published number of a spec is its README's; the
# full runs' plan (--dry-run) has the right seeds, fine-tuning source and ablation checkpoint; --runs reproduces
# a subset; a spec's prepare steps run first; a spec may give all its smoke settings itself (smoke.registry:
# false); bad arguments, a cell without a value, a non-boolean smoke.registry and a spec whose run refers to a
# later one are refused.
source "$(dirname "$0")/harness.bash"
needs_hdf5 "${3:-.}"
src=$2 build=${3:-.}
command -v python3 >/dev/null || { echo "skipped: no python3"; exit 77; }
export OMP_NUM_THREADS=1

# the results of one reproduction against its spec; $3 = the number of seeds
check_results() {
    python3 - "$1" "$2" "$3" "$(git -C "$src" rev-parse HEAD 2>/dev/null)" <<'PY'
import json, math, statistics, sys
out, spec, seeds, head = sys.argv[1], json.load(open(sys.argv[2])), int(sys.argv[3]), sys.argv[4]
r = json.load(open(out + "/results.json"))
md = open(out + "/results.md").read()
assert r["format"] == "cformer-reproduce" and r["paper"] == spec["paper"] and r["smoke"] is True, r["paper"]
assert not r["missing"], r["missing"]
env = r["environment"]
for k in ("commit", "nproc", "cpu_model", "blas", "blas_config", "date"):
    assert k in env, k
assert env["nproc"] >= 1 and env["cpu_model"], env
assert (env["commit"] or "").startswith(head) if head else env["commit"] is None, (env["commit"], head)
assert [t["title"] for t in r["tables"]] == [t["title"] for t in spec["tables"]]
for t, ts in zip(r["tables"], spec["tables"]):
    want = [(row["row"], c["column"], c.get("published")) for row in ts["rows"] for c in row["cells"]]
    assert [(x["row"], x["column"], x["published"]) for x in t["rows"]] == want, t["title"]
    assert "## " + t["title"] in md
    for x in t["rows"]:
        vals = [v["value"] for v in x["runs"]]
        assert len(vals) == seeds and all(isinstance(v, float) for v in vals), (x["row"], x["column"], vals)
        fin = [v for v in vals if math.isfinite(v)]
        assert x["n"] == len(fin)
        if fin:
            assert abs(x["mean"] - statistics.fmean(fin)) < 1e-9 and x["min"] == min(fin) and x["max"] == max(fin)
            assert (x["sd"] is None) == (len(fin) < 2)
            assert len(fin) < 2 or abs(x["sd"] - statistics.stdev(fin)) < 1e-9
        assert any(line.startswith(f"| {x['row']} | {x['column']} |") for line in md.splitlines()), x["row"]
seeds_seen = {v["seed"] for t in r["tables"] for x in t["rows"] for v in x["runs"]}
assert len(seeds_seen) >= seeds, seeds_seen
PY
}

# every published number of a spec is the one its README prints (0.37 as .370, 0.546 as .546, 99 as 99)
python3 - "$src" "$src"/recipes/*/reproduce.json <<'PY' && ok || bad "a spec's published number is not in its README"
import json, sys
for path in sys.argv[2:]:
    for t in json.load(open(path))["tables"]:
        text = open(sys.argv[1] + "/" + t["readme"]).read() if t.get("readme") else None
        for row in t["rows"]:
            for c in row["cells"]:
                v = c.get("published")
                if text is None or v is None:
                    continue
                forms = {f"{v:g}", f"{v:.3f}", f"{v:.3f}".lstrip("0"), f"{v:g}".lstrip("0")}
                if not any(f in text for f in forms):
                    sys.exit(f"{path}: {row['row']} / {c['column']}: {v} is not in {t['readme']}")
PY

# every paper of the registry has a reproduction
while IFS=$'\t' read -r name _; do
    [ -f "$src/recipes/$name/reproduce.json" ] && ok || bad "paper '$name' has no recipes/$name/reproduce.json"
done < <("$1" list papers)

# each paper's smoke reproduction (gpt with two seeds: the spread over seeds)
for spec in "$src"/recipes/*/reproduce.json; do
    paper=$(basename "$(dirname "$spec")")
    seeds=1
    [ "$paper" = gpt ] && seeds=2
    out=$tmp/$paper
    if "$src/tools/reproduce.sh" "$paper" --smoke --seeds $seeds --out "$out" --build "$build" \
        >"$tmp/$paper.log" 2>&1; then
        ok
        check_results "$out" "$spec" $seeds && ok || bad "$paper: results do not match the spec"
        if [ "$paper" = gpt ]; then check grep -q "^| village-bytes.yaml | perplexity | 1.43 | " "$out/results.md"; fi
    else
        bad "$paper: tools/reproduce.sh --smoke failed: $(tail -5 "$tmp/$paper.log")"
    fi
done

# --resume into a finished reproduction reruns nothing and gives the same table; a run whose training did not
# finish (no train.done, no eval.json) is trained and evaluated again, the others kept; a changed command
# (another --threads) retrains everything; --resume without --out is refused
gpt=$tmp/gpt
n_runs=$(grep -c "^  train " "$tmp/gpt.log")
if "$src/tools/reproduce.sh" gpt --smoke --seeds 2 --out "$gpt" --build "$build" --resume >"$tmp/resume1.log" 2>&1 &&
    [ "$(grep -c "^  train .* reused$" "$tmp/resume1.log")" = "$n_runs" ] && [ "$n_runs" -gt 1 ] &&
    ! grep -q "^  eval .*\.\.\.$" "$tmp/resume1.log"; then ok; else bad "resume of a finished run: $(cat "$tmp/resume1.log")"; fi
python3 - "$gpt/results.json" <<'PY' && ok || bad "resume: results.json after a full reuse"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["reused_runs"] == sum(len(s) for s in r["runs"]), r["reused_runs"]
assert all(x["reused"] for s in r["runs"] for x in s.values())
PY
first=$(find "$gpt/runs" -mindepth 1 -maxdepth 1 -type d -name "*-seed*" | sort | head -1)
rm -f "$first/eval.json" "$first.train.done"
"$src/tools/reproduce.sh" gpt --smoke --seeds 2 --out "$gpt" --build "$build" --resume >"$tmp/resume2.log" 2>&1
[ $? -eq 0 ] && [ "$(grep -c "^  train .* reused$" "$tmp/resume2.log")" = $((n_runs - 1)) ] &&
    grep -q "^  train $(basename "${first%-seed*}") seed ${first##*-seed} \.\.\.$" "$tmp/resume2.log" && ok ||
    bad "resume after an unfinished run: $(cat "$tmp/resume2.log")"
"$src/tools/reproduce.sh" gpt --smoke --seeds 1 --threads 1 --out "$gpt" --build "$build" --resume \
    >"$tmp/resume3.log" 2>&1
[ $? -eq 0 ] && ! grep -q "\.\.\. reused$" "$tmp/resume3.log" && ok || bad "resume with other settings: $(cat "$tmp/resume3.log")"
# a run fine-tuned from a run that is trained again is trained again too, though its own command is the same
python3 - "$src/recipes/gpt/reproduce.json" "$tmp/chain.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
a = [r for r in s["runs"] if r["name"] == "village-bpe"][0]
s["runs"] = [a, dict(a, name="tuned", init_from={"run": "village-bpe", "step": 1})]
s["tables"] = [{"title": "chain", "rows": [{"row": r, "run": r, "cells": [{"column": "ce", "key": "ce", "published": None}]}
                                           for r in ("village-bpe", "tuned")]}]
json.dump(s, open(sys.argv[2], "w"))
PY
chain() { (cd "$src" && python3 tools/reproduce/run.py "$tmp/chain.json" --cformer "$build/bin/cformer" \
    --out "$tmp/chain" --smoke "$@") >"$tmp/chain.log" 2>&1; }
chain && rm -f "$tmp/chain/runs/village-bpe-seed"*/eval.json "$tmp/chain/runs/village-bpe-seed"*.train.done &&
    chain --resume && ! grep -q "\.\.\. reused$" "$tmp/chain.log" && ok || bad "resume of a chain: $(cat "$tmp/chain.log")"
chain --resume && [ "$(grep -c "^  train .* reused$" "$tmp/chain.log")" = 2 ] && ok ||
    bad "resume of a finished chain: $(cat "$tmp/chain.log")"
out=$("$src/tools/reproduce.sh" gpt --resume 2>&1)
[ $? -eq 2 ] && grep -q -- "--resume needs --out" <<<"$out" && ok || bad "--resume without --out: $out"

# --dry-run: the full runs' commands, nothing run or written -- seeds from the recipes' train.seed, the
# fine-tuning from the same seed index's Searchformer step 1200, the ablation checkpoint of the same seed
plan=$("$src/tools/reproduce.sh" dualformer --dry-run --seeds 2 --threads 2 --out "$tmp/dry" --build "$build" 2>&1)
check test ! -e "$tmp/dry"
[ "$(grep -c " train " <<<"$plan")" = 8 ] && [ "$(grep -c " eval " <<<"$plan")" = 8 ] && ok || bad "dry run: $plan"
init=$tmp/dry/runs/searchformer-seed2/checkpoints/step-00001200.h5
check grep -q "dualformer-finetune.yaml .*--set train.seed=3 --set train.threads=2 --init-from $init" <<<"$plan"
check grep -q "solution-only-seed1/eval.json --set train.threads=2" <<<"$plan"
plan=$("$src/tools/reproduce.sh" neuroformer --dry-run --out "$tmp/dry" --build "$build" 2>&1)
check grep -q "sim-pretrain-seed0/eval.json --set eval.ablation_checkpoint=$tmp/dry/runs/sim-pretrain-shuffled-seed0/" \
    <<<"$plan"

# --runs: only those runs and their rows (the spec's data step first); a run needing one left out, or an unknown
# name, is refused
plan=$("$src/tools/reproduce.sh" autoformer --dry-run --runs co2-autoformer --out "$tmp/dry" --build "$build" 2>&1)
[ "$(head -1 <<<"$plan")" = recipes/autoformer/get-real-data.sh ] && [ "$(grep -c " train " <<<"$plan")" = 1 ] &&
    grep -q "train recipes/autoformer/autoformer.yaml --run-dir $tmp/dry/runs/co2-autoformer-seed1 .*data/co2.csv" \
    <<<"$plan" && ok || bad "--runs dry run: $plan"
out=$("$src/tools/reproduce.sh" autoformer --dry-run --runs co2-autoformer,nosuch --out "$tmp/dry" --build "$build" 2>&1)
[ $? -eq 1 ] && grep -q "has no run 'nosuch' (its runs: autoformer, transformer, co2-autoformer" <<<"$out" && ok ||
    bad "--runs unknown: $out"
out=$("$src/tools/reproduce.sh" dualformer --dry-run --runs dualformer-finetune --out "$tmp/dry" --build "$build" 2>&1)
[ $? -eq 1 ] && grep -q "needs run 'searchformer'; add it to --runs" <<<"$out" && ok || bad "--runs without a source: $out"
out=$("$src/tools/reproduce.sh" gpt --runs 'a b' 2>&1)
[ $? -eq 2 ] && grep -q -- "--runs must be run names" <<<"$out" && ok || bad "--runs 'a b': $out"

# prepare: the data steps run first, from the repository root, logged; under --smoke only those marked smoke;
# a failing one stops the reproduction naming its log; a malformed one is refused
python3 - "$src/recipes/gpt/reproduce.json" "$tmp" <<'PY'
import json, sys
s, tmp = json.load(open(sys.argv[1])), sys.argv[2]
s["runs"] = [r for r in s["runs"] if r["name"] == "village-bpe"]
s["tables"] = [{"title": "one", "rows": [{"row": "bpe", "run": "village-bpe", "cells": [{"column": "ce", "key": "ce"}]}]}]
s["prepare"] = [{"command": ["sh", "-c", f"pwd > {tmp}/prepared; echo prepared"], "smoke": True},
                {"command": ["sh", "-c", f"touch {tmp}/not-smoke"]}]
json.dump(s, open(tmp + "/prep.json", "w"))
s["prepare"] = [{"command": ["sh", "-c", "echo no data here; exit 3"], "smoke": True}]
json.dump(s, open(tmp + "/prep-fail.json", "w"))
s["prepare"] = [{"command": "get-data.sh"}]
json.dump(s, open(tmp + "/prep-bad.json", "w"))
s["prepare"] = [{"command": ["recipes/no-such-script.sh"], "smoke": True}]
json.dump(s, open(tmp + "/prep-missing.json", "w"))
PY
prep() { (cd "$src" && python3 tools/reproduce/run.py "$tmp/$1.json" --cformer "$build/bin/cformer" --out "$tmp/$1" --smoke); }
prep prep >"$tmp/prep.log" 2>&1 && [ "$(cat "$tmp/prepared")" = "$(cd "$src" && pwd -P)" ] && [ ! -e "$tmp/not-smoke" ] &&
    grep -q "^prepared$" "$tmp/prep/prepare-1.log" && [ "$(grep -c "^prepare: " "$tmp/prep.log")" = 1 ] &&
    [ "$(grep -n "^prepare: " "$tmp/prep.log" | cut -d: -f1)" -lt "$(grep -n "^  train " "$tmp/prep.log" | cut -d: -f1)" ] &&
    ok || bad "prepare: $(cat "$tmp/prep.log")"
out=$(prep prep-fail 2>&1)
[ $? -eq 1 ] && grep -q "exit 3: sh -c 'echo no data here; exit 3'" <<<"$out" && grep -q "^no data here$" <<<"$out" &&
    ! grep -q "^  train " <<<"$out" && ok || bad "failing prepare: $out"
out=$(prep prep-bad 2>&1)
[ $? -eq 1 ] && grep -q "prep-bad.json: a prepare step's command must be a non-empty list of strings" <<<"$out" && ok ||
    bad "malformed prepare: $out"
out=$(prep prep-missing 2>&1)
[ $? -eq 1 ] && grep -q "prepare step 1: 'recipes/no-such-script.sh' is not an executable file" <<<"$out" && ok ||
    bad "missing prepare script: $out"

# bad arguments: exit 2, naming what is wrong
out=$("$src/tools/reproduce.sh" nosuchpaper --smoke 2>&1)
[ $? -eq 2 ] && grep -q "no reproduction for 'nosuchpaper' (known: .*gpt" <<<"$out" && ok || bad "unknown paper: $out"
out=$("$src/tools/reproduce.sh" gpt --seeds 0 2>&1)
[ $? -eq 2 ] && echo "$out" | has -- "--seeds must be an integer" && ok || bad "--seeds 0: $out"
out=$("$src/tools/reproduce.sh" gpt --threads x 2>&1)
[ $? -eq 2 ] && echo "$out" | has -- "--threads must be" && ok || bad "--threads x: $out"

# a cell whose key the evaluation does not write: the table is still written, the command fails naming it
python3 - "$src/recipes/gpt/reproduce.json" "$tmp/bad.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s["runs"] = [r for r in s["runs"] if r["name"] == "village-bpe"]
s["tables"][0]["rows"] = [{"row": "bpe", "run": "village-bpe", "cells": [
    {"column": "ce", "key": "ce", "published": 1.0}, {"column": "typo", "key": "perplexityy", "published": 2.0}]}]
json.dump(s, open(sys.argv[2], "w"))
PY
(cd "$src" && python3 tools/reproduce/run.py "$tmp/bad.json" --cformer "$build/bin/cformer" --out "$tmp/bad" --smoke) \
    >"$tmp/bad.log" 2>&1
rc=$?
if [ $rc -eq 1 ] && grep -q "no value for: .*bpe / typo (perplexityy)" "$tmp/bad.log"; then ok; else
    bad "missing cell (rc $rc): $(tail -3 "$tmp/bad.log")"; fi
check test -s "$tmp/bad/results.json"

# a spec whose run starts from a run listed after it is refused before anything runs
printf '%s' '{"paper": "gpt", "tables": [], "runs": [{"name": "a", "recipe": "r.yaml", "init_from": {"run": "b",
    "step": 1}}, {"name": "b", "recipe": "r.yaml"}]}' >"$tmp/order.json"
out=$(python3 "$src/tools/reproduce/run.py" "$tmp/order.json" --cformer "$1" --out "$tmp/order" 2>&1)
[ $? -eq 1 ] && grep -q "order.json: run 'a' refers to 'b', which is not a run listed before it" <<<"$out" &&
    [ ! -e "$tmp/order" ] && ok || bad "run order: $out"
# a run of a paper's command needs the run whose checkpoint it takes (listed before it) and its result file
printf '%s' '{"paper": "gpt", "tables": [], "runs": [{"name": "a", "recipe": "r.yaml"}, {"name": "s", "recipe": "r.yaml",
    "command": "x", "checkpoint": "a"}]}' >"$tmp/cmd.json"
out=$(python3 "$src/tools/reproduce/run.py" "$tmp/cmd.json" --cformer "$1" --out "$tmp/cmd" 2>&1)
[ $? -eq 1 ] && grep -q "cmd.json: a run of a command needs the keys name, recipe, command, checkpoint, result" <<<"$out" &&
    [ ! -e "$tmp/cmd" ] && ok || bad "command run without result: $out"
sed -i 's/"checkpoint": "a"}/"checkpoint": "z", "result": "r.json"}/' "$tmp/cmd.json"
out=$(python3 "$src/tools/reproduce/run.py" "$tmp/cmd.json" --cformer "$1" --out "$tmp/cmd" 2>&1)
[ $? -eq 1 ] && grep -q "run 's' refers to 'z', which is not a run listed before it" <<<"$out" && ok ||
    bad "command run on an unknown run: $out"

# smoke.registry (a folder that gives all its smoke settings itself) must be a boolean
printf '%s' '{"paper": "gpt", "smoke": {"registry": "no"}, "tables": [], "runs": []}' >"$tmp/reg.json"
out=$(python3 "$src/tools/reproduce/run.py" "$tmp/reg.json" --cformer "$1" --out "$tmp/reg" 2>&1)
[ $? -eq 1 ] && grep -q "reg.json: smoke.registry must be true or false" <<<"$out" && [ ! -e "$tmp/reg" ] && ok ||
    bad "smoke.registry: $out"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
