#!/usr/bin/env bash
# LMUFormer through the cformer command: the `kws` and `pseq` generators (help, errors, determinism, the
# .npy/.csv format), each recipe of recipes/lmuformer/ (lmuformer, spiking, lmu-only, psmnist) trained a few steps on a tiny
# set and evaluated with eval.streaming -- the frame-by-frame logits equal the batch logits and the carried
# state and arena bytes are the same after N and after 2N frames (tests/test_lmuformer_model.c checks the
# same with firing spiking neurons) -- and the recipe errors.
source "$(dirname "$0")/harness.bash"
needs_hdf5 "${3:-.}"
cformer=$1 root=$2

# 1. cformer data kws
"$cformer" data kws --help | has -- "--out DIR" && ok || bad "data kws --help"
"$cformer" data kws --train 5 >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "missing --out accepted"
out=$("$cformer" data kws --out "$tmp/k" --train -3 2>&1); [ $? -eq 2 ] && ok || bad "negative count accepted"
echo "$out" | has -- "--train" && ok || bad "count message: $out"
out=$("$cformer" data kws --out "$tmp/k" --train 30 --val 10 --test 10 --frames 16 --shift 2 --mels 8 --seed 3) ||
    bad "data kws: $out"
echo "$out" | has "30/10/10 items, 10 classes, 16 frames x 8 mels" && ok || bad "data kws output: $out"
head -c 10 "$tmp/k/train.npy" | od -c | has "N   U   M   P   Y" && ok || bad "train.npy is not NumPy"
head -1 "$tmp/k/train.csv" | has -x "index,label" && ok || bad "train.csv header"
[ "$(wc -l <"$tmp/k/train.csv")" -eq 31 ] && ok || bad "train.csv rows"
"$cformer" data kws --out "$tmp/k2" --train 30 --val 10 --test 10 --frames 16 --shift 2 --mels 8 --seed 3 >/dev/null &&
    cmp -s "$tmp/k/train.npy" "$tmp/k2/train.npy" && cmp -s "$tmp/k/test.csv" "$tmp/k2/test.csv" && ok ||
    bad "generation is not deterministic"

out=$("$cformer" data pseq --out "$tmp/p" --train 30 --val 10 --test 10 --pixels 16 --noise 0.1) || bad "data pseq: $out"
echo "$out" | has "30/10/10 items, 10 classes, 16 pixels" && ok || bad "data pseq output: $out"
"$cformer" data pseq --out "$tmp/p" --pixels 1 >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "1 pixel accepted"

# 2. every recipe, a few steps each, then the evaluation with streaming
small=(--set model.dim=8 --set model.memory=8 --set model.theta=16 --set train.steps=3
       --set train.batch_size=10 --set eval.every=3 --set eval.batches=1 --set eval.batch_size=10
       --set checkpoint.every=3 --set eval.streaming_items=3)
for r in lmuformer spiking lmu-only psmnist; do
    run="$tmp/run-$r" data="$tmp/k" steps=3
    [ $r = psmnist ] && data="$tmp/p"
    "$cformer" train "$root/recipes/lmuformer/$r.yaml" --run-dir "$run" --quiet "${small[@]}" --set data.path="$data" \
        --set train.steps=$steps --set checkpoint.every=$steps >"$run.log" 2>&1 ||
        { bad "$r: does not train: $(tail -3 "$run.log")"; continue; }
    ok
    "$cformer" eval "$root/recipes/lmuformer/$r.yaml" --checkpoint "$run/checkpoints/step-$(printf %08d $steps).h5" \
        --out "$run.json" "${small[@]}" --set data.path="$data" >"$run.eval.log" 2>&1 || { bad "$r: eval: $(tail -3 "$run.eval.log")"; continue; }
    python3 - "$run.json" "$r" <<'PY' && ok || bad "$r: eval.json"
import json, sys
e = json.load(open(sys.argv[1]))
assert 0 <= e["accuracy"] <= 1 and e["items"] == 10, e
assert "accuracy_at_16_frames" in e and e["accuracy_at_16_frames"] == e["accuracy"], e
assert e["stream_max_abs_diff"] < 1e-4, ("streaming differs from the batch", e)
assert e["stream_state_bytes_at_N"] == e["stream_state_bytes_at_2N"] > 0, e
assert e["stream_arena_bytes_at_N"] == e["stream_arena_bytes_at_2N"], e
assert e["stream_ms_per_frame"] > 0, e
PY
done

# 3. errors name the key
small+=(--set data.path="$tmp/k")
out=$("$cformer" train "$root/recipes/lmuformer/lmuformer.yaml" --run-dir "$tmp/e1" "${small[@]}" \
      --set model.causal=false 2>&1) && bad "streaming without causal accepted"
echo "$out" | has "eval.streaming: needs model.causal: true" && ok || bad "causal message: $out"
out=$("$cformer" train "$root/recipes/lmuformer/lmuformer.yaml" --run-dir "$tmp/e2" "${small[@]}" \
      --set model.variant=lif 2>&1) && bad "unknown variant accepted"
echo "$out" | has "model.variant: unknown value 'lif'" && ok || bad "variant message: $out"
sed -i '3s/.*/2,99999999/' "$tmp/k/val.csv"
out=$("$cformer" train "$root/recipes/lmuformer/lmuformer.yaml" --run-dir "$tmp/e3" "${small[@]}" 2>&1) &&
    bad "bad label accepted"
echo "$out" | has "val.csv:3" && ok || bad "label message: $out"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
