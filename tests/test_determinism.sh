#!/usr/bin/env bash
# The same recipe and seed give bit-identical losses and gradient norms whatever train.threads is: a tiny
# Dualformer (the Searchformer encoder-decoder on randomized maze traces, whose GEMM shapes OpenBLAS
# split differently with 1 and 2 threads) and a tiny GPT, 50 steps each with 1, 2 and 3 threads.
source "$(dirname "$0")/harness.bash"
needs_hdf5 "${3:-.}"
cformer=$1
export OMP_WAIT_POLICY=passive

"$cformer" data mazes --size 7 --count 300 --seed 2 -o "$tmp/m.bin" >/dev/null || bad "data mazes"
cat >"$tmp/dualformer.yaml" <<EOF2
model:
  type: searchformer
  dim: 64
  layers: 1
  heads: 4
data:
  type: mazes
  path: $tmp/m.bin
  trace: random
  level_p: [0.4, 0.15, 0.15, 0.1, 0.2]
train:
  steps: 50
  batch_size: 8
  seed: 1
optim:
  type: adamw
  lr: 3.0e-3
  warmup: 5
log:
  every: 5
checkpoint:
  every: 0
EOF2
cat >"$tmp/gpt.yaml" <<EOF2
model:
  type: gpt
  vocab: 256
  seq: 64
  dim: 96
  layers: 2
  heads: 4
  hidden: 384
data:
  type: random_tokens
  size: 20000
train:
  steps: 50
  batch_size: 8
  seed: 3
optim:
  type: adamw
  lr: 1.0e-3
log:
  every: 5
checkpoint:
  every: 0
EOF2

# step, loss and grad_norm of every logged step, as written (17 significant digits)
trajectory() { grep -o '"step": [0-9]*, "loss": [^,]*, "lr": [^,]*, "grad_norm": [^,]*' "$1/metrics.jsonl"; }

for model in dualformer gpt; do
    for t in 1 2 3; do
        "$cformer" train "$tmp/$model.yaml" --run-dir "$tmp/$model-$t" --set train.threads=$t --quiet >"$tmp/log" 2>&1 ||
            bad "$model with $t threads: $(tail -3 "$tmp/log")"
    done
    [ "$(trajectory "$tmp/$model-1" | wc -l)" -eq 11 ] && ok || bad "$model: expected 11 logged steps"
    for t in 2 3; do
        if diff <(trajectory "$tmp/$model-1") <(trajectory "$tmp/$model-$t") >"$tmp/diff"; then ok; else
            bad "$model: 1 and $t threads differ:"; cat "$tmp/diff" >&2
        fi
    done
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
