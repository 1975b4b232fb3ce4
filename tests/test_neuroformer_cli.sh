#!/usr/bin/env bash
# Neuroformer end to end through the cformer command: simulate a circuit (NWB-style file with the ground
# truth), train the small recipe a few steps, eval writes every metric key, spike generation (the KV cache
# gives what recomputation gives), fine-tuning with --init-from, the full recipe shrunk, the shuffled-past
# ablation, and a recipe whose data file is missing being simulated on first use.
source "$(dirname "$0")/harness.bash"
needs_hdf5 "${3:-.}"
cformer=$1 src=$2
rdir=$src/recipes/neuroformer

# 1. simulate: a small circuit with a stimulus
out=$("$cformer" data spikes --neurons 16 --hubs 2 --seconds 60 --seed 3 --stimulus -o "$tmp/sim.h5" 2>&1) || bad "simulate: $out"
check test -f "$tmp/sim.h5"
if echo "$out" | has "simulated 16 neurons for 60 s"; then ok; else bad "simulate output: $out"; fi
if /usr/bin/python3 -c "import numpy, h5py" 2>/dev/null; then
    /usr/bin/python3 - "$tmp/sim.h5" <<'PY' && ok || bad "simulated file layout"
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r") as f:
    w = f["simulation/weights"][()]
    assert w.shape == (16, 16) and (w != 0).sum() > 0 and np.all(np.diag(w) == 0)
    assert f["simulation/hubs"].shape == (2,)
    assert f["units/spike_times"].shape[0] == f["units/spike_times_index"][-1]
    assert "stimulus" in f["processing/behavior"]
PY
fi
"$cformer" simulate spikes --neurons 0 -o "$tmp/bad.h5" >/dev/null 2>&1 && bad "--neurons 0 accepted" || ok

# 2. train the small recipe a few steps on it
small=(--set "data.path=$tmp/sim.h5" --set model.dim=16 --set model.heads=2 --set train.batch_size=8 --set log.every=2)
"$cformer" train "$rdir/sim-pretrain.yaml" --run-dir "$tmp/run" --steps 6 "${small[@]}" --quiet >"$tmp/log" 2>&1 ||
    bad "train: $(tail -3 "$tmp/log")"
ckpt=$tmp/run/checkpoints/step-00000006.h5
check test -f "$ckpt"
check grep -q '"loss_id"' "$tmp/run/metrics.jsonl"
check grep -q '"loss_dt"' "$tmp/run/metrics.jsonl"

# 3. the ablation (past-window IDs shuffled in training), then eval writes every key, the ablation's AUC too
"$cformer" train "$rdir/sim-pretrain.yaml" --run-dir "$tmp/abl" --steps 2 "${small[@]}" --set data.shuffle_prev=true \
    --quiet >"$tmp/log" 2>&1 || bad "shuffle_prev: $(tail -3 "$tmp/log")"
ev=("${small[@]}" --set eval.max_windows=100 --set eval.free_seconds=1)
"$cformer" eval "$rdir/sim-pretrain.yaml" --checkpoint "$ckpt" --out "$tmp/eval.json" "${ev[@]}" \
    --set "eval.ablation_checkpoint=$tmp/abl/checkpoints/step-00000002.h5" >"$tmp/log" 2>&1 ||
    bad "eval: $(tail -3 "$tmp/log")"
for k in test_ce_id unigram_ce_id f1 f1_poisson psth_r conn_auc conn_direction_acc conn_auc_xcorr conn_auc_shuffled \
    conn_auc_relabelled conn_auc_uniform f1_free test_ce_dt; do
    if grep -q "\"$k\": [-0-9.]" "$tmp/eval.json"; then ok; else bad "eval.json lacks $k: $(cat "$tmp/eval.json")"; fi
done

# 4. generation: own past and true past; the KV cache gives what recomputation gives
g=(generate "$rdir/sim-pretrain.yaml" --checkpoint "$ckpt" --seconds 1 --seed 4 "${small[@]}")
"$cformer" "${g[@]}" -o "$tmp/gen1.h5" >"$tmp/g1" 2>&1 || bad "generate: $(tail -2 "$tmp/g1")"
"$cformer" "${g[@]}" -o "$tmp/gen2.h5" --no-cache >"$tmp/g2" 2>&1 || bad "generate --no-cache: $(tail -2 "$tmp/g2")"
check test -f "$tmp/gen1.h5"
if [ -n "$(head -1 "$tmp/g1")" ] && diff <(head -1 "$tmp/g1" | sed 's/ in [0-9.]* s$//') \
    <(head -1 "$tmp/g2" | sed 's/ in [0-9.]* s$//') >/dev/null; then ok; else bad "cache vs recompute: $(cat "$tmp/g1" "$tmp/g2")"; fi
check grep -q "generated 20 windows" "$tmp/g1"
"$cformer" "${g[@]}" -o "$tmp/gen3.h5" --true-past >"$tmp/g3" 2>&1 || bad "generate --true-past: $(tail -2 "$tmp/g3")"
check grep -q "true past" "$tmp/g3"
if /usr/bin/python3 -c "import numpy, h5py" 2>/dev/null; then
    /usr/bin/python3 - "$tmp/gen1.h5" "$tmp/gen2.h5" <<'PY' && ok || bad "generated files differ or are malformed"
import sys, h5py, numpy as np
a, b = (h5py.File(p, "r") for p in sys.argv[1:3])
for k in ("units/spike_times", "units/spike_times_index"):
    assert np.array_equal(a[k][()], b[k][()]), k
assert a["units/spike_times_index"].shape == (16,)
PY
fi

# 5. fine-tuning from the checkpoint: the behaviour head is new, the rest is loaded; eval scores the decoding
"$cformer" train "$rdir/finetune-behavior.yaml" --run-dir "$tmp/ft" --steps 4 --init-from "$ckpt" "${small[@]}" \
    --set data.train_fraction=0.2 >"$tmp/log" 2>&1 || bad "finetune: $(tail -3 "$tmp/log")"
check grep -q "head_beh" "$tmp/log"
"$cformer" eval "$rdir/finetune-behavior.yaml" --checkpoint "$tmp/ft/checkpoints/step-00000004.h5" --out "$tmp/ft.json" \
    "${ev[@]}" --set eval.free_seconds=0 >"$tmp/log" 2>&1 || bad "finetune eval: $(tail -3 "$tmp/log")"
check grep -q '"beh_r": ' "$tmp/ft.json"
check grep -q '"beh_r2": ' "$tmp/ft.json"

# 6. the multimodal recipe (behaviour tokens + contrastive) and the official-size recipe, shrunk
"$cformer" train "$rdir/sim-multimodal.yaml" --run-dir "$tmp/mm" --steps 2 "${small[@]}" --set log.every=1 >"$tmp/log" 2>&1 ||
    bad "multimodal: $(tail -3 "$tmp/log")"
check grep -q '"loss_clip"' "$tmp/mm/metrics.jsonl"
full=(--set "data.path=$tmp/sim.h5" --set model.dim=16 --set model.heads=2 --set model.state_layers=1 --set model.hist_layers=1
    --set model.beh_layers=1 --set model.final_layers=1 --set model.frame_layers=0 --set data.block_size.id=24 --set data.block_size.prev_id=24
    --set train.batch_size=4 --set log.every=1)
"$cformer" train "$rdir/full.yaml" --run-dir "$tmp/full" --steps 2 "${full[@]}" --quiet >"$tmp/log" 2>&1 ||
    bad "full.yaml shrunk: $(tail -3 "$tmp/log")"

# 7. an ablation checkpoint of another model is refused with the key named, and the eval's weights are kept
out=$("$cformer" eval "$rdir/sim-pretrain.yaml" --checkpoint "$ckpt" --out "$tmp/eval2.json" "${ev[@]}" \
    --set "eval.ablation_checkpoint=$tmp/ft/checkpoints/step-00000004.h5" 2>&1) && bad "foreign ablation checkpoint accepted"
if echo "$out" | has "eval.ablation_checkpoint.*step-00000004.h5"; then ok; else bad "ablation message: $out"; fi

# 8. a missing data file with data.simulate.* keys is simulated on first use, beside the recipe
mkdir -p "$tmp/copy"
cp "$rdir/sim-pretrain.yaml" "$tmp/copy/r.yaml"
"$cformer" recipe check "$tmp/copy/r.yaml" --set data.simulate.seconds=30 --set data.simulate.neurons=8 \
    --set data.simulate.hubs=1 >"$tmp/log" 2>&1 || bad "simulate on first use: $(tail -3 "$tmp/log")"
check test -f "$tmp/copy/data/sim-n40-h3-1000s.sim.h5"
ls "$tmp/copy/data" | has tmp && bad "a temporary file was left behind" || ok

# 9. errors name what is wrong
out=$("$cformer" recipe check "$rdir/full.yaml" --set "data.path=$tmp/nope.h5" 2>&1) && bad "missing file accepted"
if echo "$out" | has "nope.h5"; then ok; else bad "missing file message: $out"; fi
out=$("$cformer" train "$rdir/finetune-behavior.yaml" --set "data.path=$tmp/sim.h5" --set model.predict=speed --quiet 2>&1) &&
    bad "unknown behaviour variable accepted"
if echo "$out" | has "no behaviour variable 'speed'"; then ok; else bad "predict message: $out"; fi
# one outlier row of a CSV is refused at its line, the message naming the recipe key that raises the bound
awk 'BEGIN { print "time,unit"; for (i = 1; i <= 3000; i++) printf "%.2f,%d\n", i * 0.01, i % 3 == 2 ? 16000000 : i % 3 }' \
    >"$tmp/outlier.csv"
out=$("$cformer" recipe check "$rdir/sim-pretrain.yaml" --set "data.path=$tmp/outlier.csv" 2>&1) && bad "unit 16000000 accepted"
echo "$out" | has "outlier.csv:3: column 2 (unit): unit id 16000000 exceeds data.max_units (100000); raise data.max_units" &&
    echo "$out" | has "or set data.remap_ids: true" && ok || bad "outlier unit message: $out"
"$cformer" recipe check "$rdir/sim-pretrain.yaml" --set "data.path=$tmp/outlier.csv" --set data.remap_ids=true >"$tmp/log" 2>&1 &&
    ok || bad "data.remap_ids: $(tail -3 "$tmp/log")"
out=$("$cformer" recipe check "$rdir/sim-pretrain.yaml" --set "data.path=$tmp/outlier.csv" --set data.remap_ids=true \
    --set data.max_seconds=10 2>&1) && bad "a 30 s recording accepted under data.max_seconds=10"
echo "$out" | has "outlier.csv:1001: column 1 (time): time 10.00 s exceeds data.max_seconds (10 s)" && ok ||
    bad "span message: $out"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
