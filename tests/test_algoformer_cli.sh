#!/usr/bin/env bash
# AlgoFormer through the cformer command: each recipe of recipes/algoformer/ (algoformer, standard-3,
# standard-10, looped) trained a few steps at a tiny size and evaluated; eval.json holds mse_by_n (k = 0 .. n
# examples), the least-squares reference (which falls to ~0 once k >= d on the noiseless linear task), and the curves at
# the eval.loops counts; `--set model.loops=...` at evaluation runs the looped models past their training loops
# and keeps the error finite; the recipe errors name their key.
source "$(dirname "$0")/harness.bash"
needs_hdf5 "${3:-.}"
cformer=$1 root=$2

small=(--set model.dim=16 --set model.heads=2 --set data.task=linear --set data.dim=3 --set data.n=6 --set data.n_start=2 --set data.n_every=1
       --set train.batch_size=4 --set train.steps=3 --set checkpoint.every=3 --set eval.every=3 --set eval.batches=1
       --set eval.batch_size=16 --set data.eval_items=40 --set train.threads=1)
for r in algoformer standard-3 standard-10 looped; do
    run="$tmp/run-$r"
    "$cformer" train "$root/recipes/algoformer/$r.yaml" --run-dir "$run" --quiet "${small[@]}" >"$run.log" 2>&1 ||
        { bad "$r: does not train: $(tail -3 "$run.log")"; continue; }
    ok
    # the curriculum: step 1 has n_start = 2 examples, step 3 has 2 + 2 * 2 = 6
    python3 - "$run/metrics.jsonl" <<'PY' && ok || bad "$r: curriculum in metrics.jsonl"
import json, sys
n = [json.loads(l)["n"] for l in open(sys.argv[1]) if '"n"' in l and "val_loss" not in l]
assert n[0] == 2 and n[-1] == 6, n
PY
    loops=()
    case $r in algoformer) loops=(--set model.loops=16) ;; looped) loops=(--set model.loops=20) ;; esac
    "$cformer" eval "$root/recipes/algoformer/$r.yaml" --checkpoint "$run/checkpoints/step-00000003.h5" --out "$run.json" \
        "${small[@]}" "${loops[@]}" >"$run.eval.log" 2>&1 || { bad "$r: eval: $(tail -3 "$run.eval.log")"; continue; }
    python3 - "$run.json" "$r" <<'PY' && ok || bad "$r: eval.json"
import json, math, sys
e, r = json.load(open(sys.argv[1])), sys.argv[2]
assert e["n"] == 6 and e["items"] == 40, e
for key in ("mse_by_n", "ls_mse_by_n"):
    assert len(e[key]) == 7 and all(math.isfinite(v) and v >= 0 for v in e[key]), (key, e[key])
assert e["mse_by_n"][6] == e["mse_at_n"] and e["mse_by_n"][0] == e["mse_at_0"], e
ls = e["ls_mse_by_n"]
assert 0.3 < ls[0] < 3 and ls[1] > ls[3] and max(ls[3:]) < 1e-6, ("least squares does not fall with N", ls)
want = {"algoformer": (16, ["12", "16"]), "looped": (20, ["12", "16"]), "standard-3": (0, []),
        "standard-10": (0, [])}[r]
assert e["loops"] == want[0], e
assert sorted(e["mse_by_n_at_loops"]) == want[1], e["mse_by_n_at_loops"]
for k, curve in e["mse_by_n_at_loops"].items():
    assert len(curve) == 7 and all(math.isfinite(v) for v in curve), (k, curve)
PY
done

# the same checkpoint scored at more loops than trained: finite, and the trained count reproduces the first score
"$cformer" eval "$root/recipes/algoformer/algoformer.yaml" --checkpoint "$tmp/run-algoformer/checkpoints/step-00000003.h5" \
    --out "$tmp/a8.json" "${small[@]}" >/dev/null 2>&1 && ok || bad "algoformer: eval at the trained loops"
python3 - "$tmp/a8.json" "$tmp/run-algoformer.json" <<'PY' && ok || bad "algoformer: loops 8 vs 16"
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert a["loops"] == 8 and b["loops"] == 16, (a["loops"], b["loops"])
assert a["mse_by_n_at_loops"]["16"] == b["mse_by_n"], "eval.loops=16 and model.loops=16 disagree"
PY

# errors name the key
expect_error() { # message, then the train arguments
    local want=$1
    shift
    out=$("$cformer" train "$root/recipes/algoformer/algoformer.yaml" --run-dir "$tmp/err" "${small[@]}" "$@" 2>&1) &&
        { bad "accepted: $*"; return; }
    echo "$out" | has -- "$want" && ok || bad "$*: message: $out"
}
expect_error "data.shuffle: icl_regression needs data.shuffle: false" --set data.shuffle=true
expect_error "model.window: 4 < model.loops 8 needs model.inject: true" --set model.inject=false
expect_error "model.window: 9 is more than model.loops 8" --set model.window=9
expect_error "data.task: unknown value 'quadratic'" --set data.task=quadratic
expect_error "data.n_start: 9 is more than data.n 6" --set data.n_start=9
expect_error "model.input_dim: 4, but the data's tokens have width 3" --set model.input_dim=4
expect_error "model.positions: 5, but the data's prompts have 13 tokens" --set model.positions=5
expect_error "model.window_loss: unknown value 'all'" --set model.window_loss=all
expect_error "eval.loops" --set "eval.loops=[0]"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
