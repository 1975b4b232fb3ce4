#!/usr/bin/env bash
# MASFormer's attention cost at a long context, both layouts measured in one run:
#     recipes/masformer/bench-8192.sh [build-dir] [steps] [seq] [span]      (defaults: build 2 8192 1024)
# Trains `steps` steps (after one warm-up) of recipes/masformer/bench-8192.yaml with every layer full, then
# with the paper's layout (layer 1 full, the other five block-local with the given span), and prints the
# forward+backward step time of each, the attention FLOPs of each (4 n^2 d per full layer, 4 n b d per block
# layer, per row, forward) and the two ratios masformer / all-full.
set -euo pipefail
build=${1:-build} steps=${2:-2} seq=${3:-8192} span=${4:-1024}
src=$(cd "$(dirname "$0")/../.." && pwd)
cformer=$build/bin/cformer recipe=$src/recipes/masformer/bench-8192.yaml
layers=6 dim=64
common=(--steps "$steps" --warmup 1 --set model.seq="$seq" --set model.local_span="$span")
step_ms() { "$cformer" bench train "$recipe" "${common[@]}" --set "model.full_layers=$1" | tail -1 | sed -n 's/.*step_ms=\([0-9.e+-]*\).*/\1/p'; }
echo "== seq $seq, block span $span, $layers layers, d $dim, batch 1 ($(nproc) cores)"
full_ms=$(step_ms "[1, 2, 3, 4, 5, 6]")
mas_ms=$(step_ms "[1]")
awk -v n="$seq" -v b="$span" -v L="$layers" -v d="$dim" -v tf="$full_ms" -v tm="$mas_ms" 'BEGIN {
    full = L * 4 * n * n * d; mas = 4 * n * n * d + (L - 1) * 4 * n * b * d
    printf "all-full:  step %.1f ms, attention %.3g FLOP per row (forward)\n", tf, full
    printf "masformer: step %.1f ms, attention %.3g FLOP per row (forward)\n", tm, mas
    printf "attention FLOPs masformer / all-full: %.3f\n", mas / full
    printf "step time masformer / all-full: %.3f\n", tm / tf
}'
