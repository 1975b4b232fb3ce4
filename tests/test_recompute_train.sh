#!/usr/bin/env bash
# train.recompute: a tiny GPT with dropout (pre-LN GELU, and post-LN SwiGLU RMSNorm), a tiny Searchformer
# (encoder-decoder: cross-attention blocks) and a tiny Llama (its own layer)
# train to bit-identical losses and gradient norms with none, attention and block; an unknown value is refused
# naming the key and the values allowed; `bench train` reports a lower arena high-water with block than none.
source "$(dirname "$0")/harness.bash"
needs_hdf5 "${3:-.}"
cformer=$1
export OMP_WAIT_POLICY=passive OMP_NUM_THREADS=1

# the sections both recipes share
shared_sections() { printf 'optim:\n  type: adamw\n  lr: 3.0e-3\nlog:\n  every: 1\ncheckpoint:\n  every: 0\n'; }
cat >"$tmp/gpt.yaml" <<EOF2
model:
  type: gpt
  vocab: 256
  seq: 32
  dim: 32
  layers: 2
  heads: 2
  hidden: 64
  dropout: 0.1
data:
  type: random_tokens
  size: 4000
train:
  steps: 4
  batch_size: 4
  seed: 5
EOF2
shared_sections >>"$tmp/gpt.yaml"
"$cformer" data mazes --size 5 --count 40 --seed 2 -o "$tmp/m.bin" >/dev/null || bad "data mazes"
cat >"$tmp/searchformer.yaml" <<EOF2
model:
  type: searchformer
  dim: 32
  layers: 1
  heads: 2
  dropout: 0.1
data:
  type: mazes
  path: $tmp/m.bin
train:
  steps: 3
  batch_size: 4
  seed: 1
EOF2
shared_sections >>"$tmp/searchformer.yaml"

# a Llama (its own layer: RMSNorm, RoPE, grouped-query attention, SwiGLU; no dropout)
cat >"$tmp/llama.yaml" <<EOF2
model:
  type: llama
  vocab: 256
  seq: 32
  dim: 32
  layers: 2
  heads: 2
  kv_heads: 1
  hidden: 64
  max_pos: 64
data:
  type: random_tokens
  size: 4000
train:
  steps: 4
  batch_size: 4
  seed: 3
EOF2
shared_sections >>"$tmp/llama.yaml"

# step, loss and grad_norm of every logged step, as written (17 significant digits)
trajectory() { grep -o '"step": [0-9]*, "loss": [^,]*, "lr": [^,]*, "grad_norm": [^,]*' "$1/metrics.jsonl"; }

# the GPT also post-LN with a SwiGLU MLP and RMSNorm: every op of the block's variants replays exactly
cp "$tmp/gpt.yaml" "$tmp/gpt-variant.yaml"
variant_sets=(--set model.prenorm=false --set model.mlp=swiglu --set model.norm=rms)
for model in gpt gpt-variant searchformer llama; do
    sets=()
    [ "$model" = gpt-variant ] && sets=("${variant_sets[@]}")
    for mode in none attention block; do
        "$cformer" train "$tmp/$model.yaml" --run-dir "$tmp/$model-$mode" --set train.recompute=$mode "${sets[@]}" \
            --quiet >"$tmp/log" 2>&1 || bad "$model with train.recompute=$mode: $(tail -3 "$tmp/log")"
    done
    [ "$(trajectory "$tmp/$model-none" | wc -l)" -ge 3 ] && ok || bad "$model: expected at least 3 logged steps"
    for mode in attention block; do
        if diff <(trajectory "$tmp/$model-none") <(trajectory "$tmp/$model-$mode") >"$tmp/diff"; then ok; else
            bad "$model: train.recompute none and $mode differ:"; cat "$tmp/diff" >&2
        fi
    done
done

# an unknown value: the file, the key and the allowed values
if "$cformer" recipe check "$tmp/gpt.yaml" --set train.recompute=blocks >"$tmp/out" 2>&1; then
    bad "train.recompute=blocks was accepted"
else
    check grep -q "train.recompute" "$tmp/out"
    check grep -q "choose from none, attention, block" "$tmp/out"
fi

# the arena high-water bench train reports falls with recomputation
hw() { "$cformer" bench train "$tmp/$2.yaml" --steps 2 --warmup 1 --set train.recompute=$1 2>&1 |
       sed -n 's/^step arena high-water \([0-9.]*\) MB (train.recompute: '"$1"').*/\1/p'; }
for model in gpt llama; do
    none=$(hw none $model) block=$(hw block $model)
    if [ -n "$none" ] && [ -n "$block" ] && awk -v a="$block" -v b="$none" 'BEGIN { exit !(a < b) }'; then ok; else
        bad "$model arena high-water: block '$block' MB, none '$none' MB"
    fi
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
