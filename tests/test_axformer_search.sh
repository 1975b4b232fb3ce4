#!/usr/bin/env bash
# AxFormer through the cformer command: the synlang generator (format, determinism, errors), every recipe of
# recipes/axformer/ (pretrain, finetune from the pre-trained checkpoint, search) run a few steps on a tiny set,
# and `cformer run axformer-search`: search.json holds the removal order and per-step accuracy, counted FLOPs
# and wall-clock, the FLOPs never grow along the steps, and the pruned checkpoint evaluates with its switches.
source "$(dirname "$0")/harness.bash"
needs_hdf5 "${3:-.}"
cformer=$1 root=$2
export OMP_NUM_THREADS=1

# 1. cformer data synlang
"$cformer" data synlang --help | has -- "-o DIR" && ok || bad "data synlang --help"
"$cformer" data synlang --train 5 >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "missing -o accepted"
"$cformer" data synlang -o "$tmp/x" --len 2 >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "--len 2 accepted"
gen="--corpus 64 --train 64 --val 32 --test 32 --len 15 --seed 4"
"$cformer" data synlang -o "$tmp/d" $gen >/dev/null || bad "data synlang"
"$cformer" data synlang -o "$tmp/d2" $gen >/dev/null && cmp -s "$tmp/d/train.tsv" "$tmp/d2/train.tsv" && ok ||
    bad "generation is not deterministic"
head -1 "$tmp/d/train.tsv" | has -P '^sentence\tlabel$' && ok || bad "train.tsv header"
[ "$(awk -F'\t' 'NR > 1 { n[$2]++ } END { print n[0] "/" n[1] }' "$tmp/d/train.tsv")" = "32/32" ] && ok || bad "labels not balanced"
[ "$(awk 'NR == 1 { print NF }' "$tmp/d/corpus.txt")" = 15 ] && ok || bad "corpus sentence length"
# a malformed split reaches the user as the reader's message: file, line, what is wrong (tests/test_synlang_read.c
# has every kind); the generator keeps existing files, so the broken one is read
cp -r "$tmp/d" "$tmp/broken"
sed -i '5s/\t[01]$/\t7/' "$tmp/broken/train.tsv"
out=$("$cformer" recipe check "$root/recipes/axformer/finetune.yaml" --set data.path="$tmp/broken" --set data.len=15 \
    --set model.dim=16 --set model.hidden=32 --set model.layers=2 --set model.heads=2 2>&1) && bad "a label 7 was accepted"
has "broken/train.tsv:5: label '7' is not 0 or 1" <<<"$out" && ok || bad "malformed train.tsv: $out"

# 2. the recipes, a few steps each; the fine-tuning starts from the pre-training checkpoint
S=(--set data.path="$tmp/d" --set data.len=15 --set model.dim=16 --set model.hidden=32 --set model.layers=2
   --set model.heads=2 --set train.batch_size=16 --set eval.batch_size=16 --set eval.every=2 --set eval.batches=1)
"$cformer" train "$root/recipes/axformer/pretrain.yaml" --run-dir "$tmp/pre" --steps 2 --quiet "${S[@]}" >/dev/null ||
    bad "pretrain"
"$cformer" train "$root/recipes/axformer/finetune.yaml" --run-dir "$tmp/ft" --steps 2 --quiet "${S[@]}" \
    --init-from "$tmp/pre/checkpoints/step-00000002.h5" >"$tmp/ft.log" || bad "finetune: $(cat "$tmp/ft.log")"
grep -q "cls.out.weight" "$tmp/ft.log" && ok || bad "the classifier was not reported as new: $(cat "$tmp/ft.log")"
ck="$tmp/ft/checkpoints/step-00000002.h5"

# 3. the search
"$cformer" run --help | has "axformer-search" && ok || bad "run --help does not list axformer-search"
"$cformer" list commands | has "axformer-search" && ok || bad "list commands"
"$cformer" run axformer-search >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "search without arguments accepted"
"$cformer" run no-such-command >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "unknown command accepted"
"$cformer" run axformer-search "$root/recipes/axformer/search.yaml" --checkpoint "$ck" --out "$tmp/s" "${S[@]}" \
    --set model.search.refit_steps=2 --set model.search.timing_reps=1 --set model.search.tolerance=10 \
    >"$tmp/s.log" 2>&1 || bad "search: $(tail -5 "$tmp/s.log")"
python3 - "$tmp/s/search.json" <<'PY' && ok || bad "search.json: $(cat "$tmp/s/search.json")"
import json, sys
j = json.load(open(sys.argv[1]))
steps = j["steps"]
assert steps[0]["element"] == "unpruned" and len(j["removal_order"]) >= 1, j["removal_order"]
for k in ("val_loss", "val_accuracy", "test_accuracy", "flops_per_example", "ms_per_example"):
    assert all(k in s for s in steps), k
# with tolerance 10 every layer but the last goes first: the layer stage removes something and FLOPs only fall
f = [s["flops_per_example"] for s in steps]
assert all(b <= a for a, b in zip(f, f[1:])), f
assert j["flops_ratio"] >= 1, j["flops_ratio"]
assert steps[1]["stage"] == "layers", steps[1]
# the wall-clock ratio comes from the back-to-back timing of the unpruned and the pruned switches
assert j["ms_per_example_unpruned"] > 0 and j["ms_per_example_pruned"] > 0, j
assert abs(j["wallclock_ratio"] - j["ms_per_example_unpruned"] / j["ms_per_example_pruned"]) < 1e-9, j
PY
grep -q "refit" "$tmp/s/search.json" && ok || bad "no refit step"
"$cformer" eval --checkpoint "$tmp/s/pruned.h5" --out "$tmp/e.json" >/dev/null 2>&1 || bad "eval of pruned.h5"
python3 -c "
import json, sys
e = json.load(open('$tmp/e.json')); s = json.load(open('$tmp/s/search.json'))
assert e['layers_kept'] < 2 or e['blocks_kept'] < 4 or e['heads_kept'] < 4, e
assert abs(e['flops_per_example'] - s['steps'][-1]['flops_per_example']) < 1e-6 * e['flops_per_example'], (e, s['steps'][-1])
" && ok || bad "pruned checkpoint lost its switches: $(cat "$tmp/e.json")"

# 4. the reproduction (tools/reproduce.sh axformer, recipes/axformer/reproduce.json), its smoke size: pretrain ->
#    finetune -> search in both modes for two seeds; the tables of means, then the report step's per-seed tables
#    (removal order, hard-attention layers) with the mean over the seeds, the eps mode's tolerance reaching the search
"$root/tools/reproduce.sh" axformer --smoke --seeds 2 --out "$tmp/r" --build "$(dirname "$(dirname "$cformer")")" \
    >"$tmp/r.log" 2>&1 || bad "tools/reproduce.sh axformer --smoke: $(tail -5 "$tmp/r.log")"
python3 - "$tmp/r" <<'PY' && ok || bad "reproduce table: $(cat "$tmp/r.log")"
import json, statistics, sys
out = sys.argv[1]
r = json.load(open(out + "/results.json"))
md = open(out + "/results.md").read()
for run in ("search", "search-eps"):
    f = [json.load(open(f"{out}/runs/{run}-seed{s}/search.json"))["flops_ratio"] for s in (1, 2)]
    part = md.split(f"## {run}: per seed")[1].split("## ")[0]
    rows = [l for l in part.splitlines() if l.startswith("| ")]
    assert [l.split(" | ")[0] for l in rows[1:]] == ["| 1", "| 2", "| mean +- std (2 seeds)"], rows
    assert f"{statistics.mean(f):.2f}x +- {statistics.stdev(f):.2f}" in rows[-1], (rows[-1], f)
    assert "removal order" in rows[0] and "hard-attention layers kept" in rows[0], rows[0]
    cell = [x for t in r["tables"] for x in t["rows"] if x["key"] == "flops_ratio" and
            x["runs"] and f[0] == x["runs"][0]["value"]]
    assert cell, (run, f)
PY
grep -q "tolerance: 0.005" "$tmp"/r/runs/search-eps-seed1/refit-*/recipe.yaml && ok ||
    bad "the eps run's tolerance did not reach the search"
grep -q "tolerance: 0.0$" "$tmp"/r/runs/search-seed1/refit-*/recipe.yaml && ok || bad "the accuracy mode's tolerance is not 0"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
