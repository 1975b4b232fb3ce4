#!/usr/bin/env bash
# The training system end to end through the cformer command: train, kill (--stop-at) and resume
# bit-exactly, evaluate, generate with and without the KV cache, export and read back with an independent
# reader, inspect, recipe errors with file:line, a corrupt checkpoint, and every recipe in recipes/.
source "$(dirname "$0")/harness.bash"
needs_hdf5 "${3:-.}"
cformer=$1 src=$2

recipe=$src/recipes/gpt/village-bytes.yaml
sets=(--set model.dim=32 --set model.layers=1 --set model.seq=32 --set train.batch_size=4 --set log.every=2)
small=("${sets[@]}" --quiet)

# 1. a run of 12 steps vs a run killed after 5 and resumed: identical losses at every logged step
"$cformer" train "$recipe" --run-dir "$tmp/full" --steps 12 "${small[@]}" >/dev/null || bad "full run"
"$cformer" train "$recipe" --run-dir "$tmp/part" --steps 12 --stop-at 5 "${small[@]}" >/dev/null || bad "part run"
[ -f "$tmp/part/checkpoints/step-00000005.h5" ] && ok || bad "no checkpoint at the stop"
"$cformer" train "$recipe" --run-dir "$tmp/part" --steps 12 --resume latest "${small[@]}" >/dev/null || bad "resume"
losses() { grep -o '"step": [0-9]*, "loss": [-0-9.e]*' "$1" | sort -u; }
# the killed run also logs its last step and the first after the resume: compare the steps both logged
common() { grep -F -f <(losses "$tmp/full/metrics.jsonl" | cut -d, -f1 | sed "s/$/,/") <(losses "$1"); }
if [ -n "$(losses "$tmp/full/metrics.jsonl")" ] && diff <(losses "$tmp/full/metrics.jsonl") \
    <(common "$tmp/part/metrics.jsonl") >/dev/null; then ok; else
    bad "resumed losses differ"; diff <(losses "$tmp/full/metrics.jsonl") <(losses "$tmp/part/metrics.jsonl") >&2; fi
check grep -q '"lr"' "$tmp/full/metrics.jsonl"
check grep -q '"grad_norm"' "$tmp/full/metrics.jsonl"
check grep -q '"tokens_per_s"' "$tmp/full/metrics.jsonl"
check grep -q '"elapsed_s"' "$tmp/full/metrics.jsonl"
# the time the steps spent getting their batches and the batches the prefetch thread had not filled in time:
# totals, never decreasing, at most the elapsed time; and the summary line of a run that is not --quiet
/usr/bin/python3 - "$tmp/full/metrics.jsonl" <<'PY' && ok || bad "data_wait_s / data_stalls in metrics.jsonl"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"loss"' in l]
assert rows and all("data_wait_s" in r and "data_stalls" in r for r in rows), rows
for a, b in zip(rows, rows[1:]):
    assert a["data_wait_s"] <= b["data_wait_s"] and a["data_stalls"] <= b["data_stalls"], (a, b)
# (no lower bound on the stalls: whether the first batch is ready before the first step asks is a race)
assert all(0 <= r["data_wait_s"] <= r["elapsed_s"] and r["data_stalls"] >= 0 for r in rows), rows
PY
"$cformer" train "$recipe" --run-dir "$tmp/loud" --steps 3 "${sets[@]}" >"$tmp/loud.log" 2>&1 || bad "run without --quiet"
check grep -qE '^data loader: the steps spent [0-9.]+ s of [0-9.]+ s getting their batches .*; [0-9]+ of 3 batches were not ready' "$tmp/loud.log"
check test -f "$tmp/full/recipe.yaml"

ckpt=$tmp/full/checkpoints/step-00000012.h5
# 2. eval writes one JSON object with the metrics
"$cformer" eval "$recipe" --checkpoint "$ckpt" --out "$tmp/eval.json" "${sets[@]}" >/dev/null || bad "eval"
check grep -q '"ce"' "$tmp/eval.json"
check grep -q '"perplexity"' "$tmp/eval.json"

# 3. generation: the KV cache gives exactly what recomputation gives
g=(generate "$recipe" --checkpoint "$ckpt" --prompt "The miller" --tokens 40 --seed 7 --top-k 20 "${sets[@]}")
"$cformer" "${g[@]}" >"$tmp/g1" 2>&1 || bad "generate"
"$cformer" "${g[@]}" --no-cache >"$tmp/g2" 2>&1 || bad "generate --no-cache"
check cmp -s "$tmp/g1" "$tmp/g2"
check grep -q "^The miller" "$tmp/g1"

# 4. export + inspect
"$cformer" export "$ckpt" --format safetensors -o "$tmp/m.safetensors" >/dev/null || bad "export"
"$cformer" inspect "$ckpt" >"$tmp/inspect" || bad "inspect"
check grep -q "blocks.0.attn.qkv.weight" "$tmp/inspect"
check grep -q "step 12" "$tmp/inspect"
if /usr/bin/python3 -c "import numpy, h5py" 2>/dev/null; then
    /usr/bin/python3 - "$ckpt" "$tmp/m.safetensors" <<'PY' && ok || bad "safetensors/h5py read-back"
import json, struct, sys
import numpy as np, h5py
ckpt, st = sys.argv[1], sys.argv[2]
raw = open(st, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
with h5py.File(ckpt, "r") as f:
    model = {k: f["model"][k][()] for k in f["model"]}
names = [k for k in header if k != "__metadata__"]
assert sorted(names) == sorted(model), (names, list(model))
for k in names:
    e = header[k]
    a, b = e["data_offsets"]
    t = np.frombuffer(raw[8 + n + a:8 + n + b], dtype="<f4").reshape(e["shape"])
    assert np.array_equal(t, model[k]), k
assert model["blocks.0.attn.qkv.weight"].shape == (96, 32)
PY
fi

# 5. recipe errors name the file, line and key, with a suggestion
sed 's/^  lr:/  lrr:/' "$recipe" >"$tmp/typo.yaml"
sed -i "s|\.\./data/village.txt|$src/recipes/data/village.txt|" "$tmp/typo.yaml"
out=$("$cformer" recipe check "$tmp/typo.yaml" 2>&1) && bad "typo accepted"
if echo "$out" | has "typo.yaml:[0-9]*: unknown key 'optim.lrr' (did you mean 'optim.lr'?)"; then ok; else bad "typo message: $out"; fi
out=$("$cformer" train "$recipe" --set train.steps=abc 2>&1) && bad "bad --set accepted"
if echo "$out" | has "train.steps: expected an integer"; then ok; else bad "--set message: $out"; fi
check "$cformer" recipe check "$recipe" >/dev/null

# 6. a corrupt checkpoint is refused by name and nothing is overwritten
head -c 3000 "$ckpt" >"$tmp/full/checkpoints/step-00000099.h5"
out=$("$cformer" train "$recipe" --run-dir "$tmp/full" --steps 14 --resume latest "${small[@]}" 2>&1) && bad "corrupt resume accepted"
if echo "$out" | has "step-00000099.h5"; then ok; else bad "corrupt message: $out"; fi
check test -f "$ckpt"

# 6b. a relative --set path is the working directory's, also when the checkpoint's recipe is read again from
#     elsewhere (the saved recipe holds it made absolute)
mkdir -p "$tmp/cwd" "$tmp/other"
cp "$src/recipes/data/village.txt" "$tmp/cwd/mytext.txt"
(cd "$tmp/cwd" && "$cformer" train "$recipe" --run-dir "$tmp/setpath" --steps 2 "${small[@]}" --set data.path=mytext.txt) \
    >/dev/null 2>&1 || bad "train with a relative --set data.path"
check grep -q "path: $tmp/cwd/mytext.txt" "$tmp/setpath/recipe.yaml"
(cd "$tmp/other" && "$cformer" eval --checkpoint "$tmp/setpath/checkpoints/step-00000002.h5" --out "$tmp/other/e.json") \
    >/dev/null 2>&1 || bad "eval of that checkpoint from another folder"

# 7. every recipe in recipes/ runs a few steps (tiny sizes where the recipe allows)
while IFS= read -r r; do
    head -5 "$r" | has '^# cformer-test: skip' && continue # too big for a CPU test; its own test runs it shrunk
    case "$r" in */bench/*) extra=(--steps 2) ;; *) extra=(--steps 2 --set log.every=1 --set train.batch_size=2) ;; esac
    if "$cformer" train "$r" --run-dir "$tmp/all/$(basename "$r" .yaml)" --quiet "${extra[@]}" >"$tmp/log" 2>&1; then ok; else
        bad "recipe $r: $(tail -3 "$tmp/log")"; fi
done < <(find "$src/recipes" -name '*.yaml' | sort)

# 8. bench train: the GEMM bound at the model's own shapes, recorded from the run (a second layer adds its GEMMs),
#    and the tokens_per_s line last, as scripts read it
bench_calls() { # LAYERS: runs the bench, prints the GEMM calls per step it reports (empty on failure)
    "$cformer" bench train "$src/recipes/bench/gpt-small.yaml" --steps 2 --warmup 1 --set model.dim=64 --set model.heads=2 \
        --set model.hidden=128 --set model.seq=32 --set train.batch_size=2 --set model.layers="$1" >"$tmp/bench$1.log" 2>&1 ||
        return 0
    sed -n "s/^GEMM bound at the model's shapes: [0-9]* shapes, \([0-9]*\) calls a step.*/\1/p" "$tmp/bench$1.log"
}
c1=$(bench_calls 1) c2=$(bench_calls 2)
[ -n "$c1" ] && [ -n "$c2" ] && [ "$c2" -gt "$c1" ] && ok || bad "GEMM bound calls: 1 layer '$c1', 2 layers '$c2': $(cat "$tmp/bench1.log")"
tail -1 "$tmp/bench2.log" | has '^tokens_per_s=[0-9.]* step_ms=[0-9.]* peak_rss_mb=[0-9]*$' && ok || bad "last line: $(tail -1 "$tmp/bench2.log")"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
