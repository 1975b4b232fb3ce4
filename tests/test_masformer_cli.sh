#!/usr/bin/env bash
# MASFormer through the cformer command: every recipe of recipes/masformer/ trained a few steps on a small
# markov_copy and evaluated (eval.json has loss_long_range, loss_local, bigram_entropy and the layout's
# attn_flops_frac, checked against the FLOP formula at the CI-sized rows); the continual-training variant (an all-full checkpoint at a short context loads into
# the MASFormer layout at a longer one with --init-from); the benchmark script; and the recipe errors,
# each naming its key.
source "$(dirname "$0")/harness.bash"
needs_hdf5 "${3:-.}"
cformer=$1 root=$2 rec=$2/recipes/masformer

small=(--set train.steps=2 --set checkpoint.every=2 --set eval.every=2 --set eval.batches=1
       --set data.eval_size=4 --set eval.batch_size=4 --set train.batch_size=2 --set model.seq=64
       --set data.span=8 --set data.source_end=16 --set data.insert_from=32 --set model.local_span=8)
# 1. each recipe: train, eval, the metrics and the FLOP fraction its layout implies (n 64, b 8, own+previous:
#    a local layer costs 2 b / n = 1/4 of a full one)
for r in all-full:1 all-sparse:0.25 masformer:0.5; do
    name=${r%%:*} frac=${r#*:}
    "$cformer" train "$rec/$name.yaml" --run-dir "$tmp/$name" --quiet "${small[@]}" >"$tmp/$name.log" 2>&1 ||
        { bad "$name: does not train: $(tail -3 "$tmp/$name.log")"; continue; }
    "$cformer" eval "$rec/$name.yaml" --checkpoint "$tmp/$name/checkpoints/step-00000002.h5" --out "$tmp/$name.json" \
        "${small[@]}" >"$tmp/$name.eval.log" 2>&1 || { bad "$name: eval: $(tail -3 "$tmp/$name.eval.log")"; continue; }
    python3 - "$tmp/$name.json" "$frac" <<'PY' && ok || bad "$name: eval.json"
import json, math, sys
e = json.load(open(sys.argv[1]))
assert abs(e["attn_flops_frac"] - float(sys.argv[2])) < 1e-12, e
assert e["long_range_tokens"] == 4 * 7 and e["tokens"] == 4 * 64, e
assert 0 < e["bigram_entropy"] < math.log(4) and e["loss_long_range"] > 0 and e["loss_local"] > 0, e
assert abs(e["loss"] - (7 * e["loss_long_range"] + 57 * e["loss_local"]) / 64) < 1e-9, e
PY
done

# 2. continual training: the short-context all-full checkpoint starts the long-context MASFormer run
"$cformer" train "$rec/continual-short.yaml" --run-dir "$tmp/short" --quiet --set train.steps=2 --set checkpoint.every=2 \
    --set train.batch_size=2 --set eval.every=2 --set eval.batches=1 --set data.eval_size=2 >"$tmp/short.log" 2>&1 ||
    bad "continual-short: $(tail -3 "$tmp/short.log")"
out=$("$cformer" train "$rec/continual.yaml" --run-dir "$tmp/long" --init-from "$tmp/short/checkpoints/step-00000002.h5" \
      --set train.steps=2 --set checkpoint.every=2 --set train.batch_size=2 --set eval.every=2 --set eval.batches=1 \
      --set data.eval_size=2 2>&1) || bad "continual: $out"
echo "$out" | has "init from" && ok || bad "continual did not load the short checkpoint: $out"

# 3. the benchmark script: both layouts timed, the ratios printed
out=$("$rec/bench-8192.sh" "$(dirname "$cformer")/.." 2 512 64 2>&1) || bad "bench-8192.sh: $out"
echo "$out" | has "attention FLOPs masformer / all-full" && echo "$out" | has "step time masformer / all-full" &&
    ok || bad "bench output: $out"

# 4. errors name the key
expect_error() { # key message --set...
    local key=$1 msg=$2
    shift 2
    out=$("$cformer" train "$rec/masformer.yaml" --run-dir "$tmp/err" "${small[@]}" "$@" 2>&1) && { bad "$key accepted: $*"; return; }
    echo "$out" | has "$key.*$msg" && ok || bad "$key message: $out"
}
expect_error model.full_layers "layer 7 does not exist" --set "model.full_layers=[2, 7]"
expect_error model.full_layers "listed twice" --set "model.full_layers=[2, 2]"
expect_error model.full_layers "out of range" --set "model.full_layers=[0]"
expect_error model.local_span "does not divide the data's rows of 64" --set model.local_span=6
expect_error model.local_attention "unknown value 'dilated'" --set model.local_attention=dilated
expect_error model.prenorm "pre-LN" --set model.prenorm=false
expect_error data.type "insert_from + span must be <= seq + 1" --set data.insert_from=60

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
