#!/usr/bin/env bash
# The benchmark scripts run end to end on a tiny model (so they do not rot): tools/bench-recipes.sh prints a
# row with the GEMM-bound columns filled, tools/bench-shared-cores.sh a row per setting with alone and shared
# figures; both refuse a missing recipe by name. recipes/bench/gpt2-124m.yaml trains shrunk (its vocabulary
# kept); `bench train --profile` prints a row per op and the share outside ops; tools/gpu-check.sh says it
# needs a GPU (77) where there is none. The numbers themselves are benchmarks, not checked here.
source "$(dirname "$0")/harness.bash"
cformer=$1 src=$2 build=$3
sed -e 's/^  dim: 256/  dim: 32/' -e 's/^  heads: 4/  heads: 2/' -e 's/^  hidden: 1024/  hidden: 64/' -e 's/^  layers: 4/  layers: 1/' \
    -e 's/^  seq: 128/  seq: 16/' -e 's/^  batch_size: 8/  batch_size: 2/' "$src/recipes/bench/gpt-small.yaml" >"$tmp/tiny.yaml"
grep -q "dim: 32" "$tmp/tiny.yaml" && ok || bad "could not shrink recipes/bench/gpt-small.yaml"

out=$("$src/tools/bench-recipes.sh" --build "$build" --steps 1 --threads 1 "$tmp/tiny.yaml" "$tmp/tiny.yaml:model.layers=2" 2>&1)
rows=$(echo "$out" | grep -c "^| $tmp/tiny.yaml")
[ "$rows" -eq 2 ] && ok || bad "bench-recipes: $rows rows, want 2: $out"
echo "$out" | grep "^| $tmp/tiny.yaml:model.layers=2 |" | has -E '\| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \| [0-9]+% \|' && ok ||
    bad "bench-recipes: a column left empty: $out"
out=$("$src/tools/bench-recipes.sh" --build "$build" "$tmp/none.yaml" 2>&1)
echo "$out" | has "none.yaml.*failed" && ok || bad "bench-recipes on a missing recipe: $out"

out=$("$src/tools/bench-shared-cores.sh" --build "$build" --steps 1 --reps 1 "$tmp/tiny.yaml" default GOMP_SPINCOUNT=77 2>&1)
echo "$out" | has -E '^\| default \| [0-9]+ \([0-9. ]+\) \| [0-9]+, [0-9]+ \| [0-9.]+ \|$' && ok || bad "bench-shared-cores default row: $out"
echo "$out" | has '^| GOMP_SPINCOUNT=77 |' && ok || bad "bench-shared-cores setting row: $out"
out=$("$src/tools/bench-shared-cores.sh" --build "$build" "$tmp/none.yaml" 2>&1)
[ $? -ne 0 ] && echo "$out" | has "none.yaml: no such recipe" && ok || bad "bench-shared-cores on a missing recipe: $out"

out=$("$cformer" bench train "$src/recipes/bench/gpt2-124m.yaml" --steps 1 --warmup 1 --set model.dim=32 --set model.heads=2 \
      --set model.hidden=64 --set model.layers=1 --set model.seq=16 --set train.batch_size=2 2>&1)
echo "$out" | has "^tokens_per_s=" && ok || bad "gpt2-124m shrunk: $out"
# 3.2 M parameters (two 50257 x 32 tables) with their gradients and two moments: 51.6 MB
echo "$out" | has "parameters + gradients + optimizer state 5[0-9.]* MB" && ok ||
    bad "gpt2-124m shrunk: not the 50257-token vocabulary: $out"
# --profile: one line per op the model runs (forward, backward ms per step), then the totals
out=$("$cformer" bench train "$tmp/tiny.yaml" --steps 2 --warmup 1 --profile 2>&1)
echo "$out" | has "^per-op time over 2 steps" && ok || bad "bench --profile: no table: $out"
echo "$out" | has -E '^  linear +[0-9.]+ +[0-9.]+ +[0-9.]+% +[0-9]+$' && ok || bad "bench --profile: no linear row: $out"
echo "$out" | has -E '^  sdpa ' && echo "$out" | has -E '^  all ops ' && echo "$out" | has -E '^  outside ops ' && ok ||
    bad "bench --profile: rows missing: $out"
share=$(echo "$out" | sed -n 's/^  all ops  *[0-9.]*  *[0-9.]*  *\([0-9.]*\)%.*/\1/p')
awk -v s="${share:-0}" 'BEGIN { exit !(s > 10 && s <= 100) }' && ok || bad "bench --profile: ops take '$share'% of the step"
echo "$out" | tail -1 | has "^tokens_per_s=" && ok || bad "bench --profile: the summary line is not last: $out"

if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L >/dev/null 2>&1; then
    "$src/tools/gpu-check.sh" --out "$tmp/gpu" >"$tmp/gpu.log" 2>&1
    [ $? -eq 77 ] && has "no NVIDIA GPU" <"$tmp/gpu.log" && ok || bad "gpu-check without a GPU: $(cat "$tmp/gpu.log")"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
