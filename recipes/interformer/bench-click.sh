#!/usr/bin/env bash
# InterFormer's real-time argument (Huang et al., ICCV 2023, Sec. 1 and 4.4): the backbone runs once per image and
# every click runs only the neck and head on the cached features. This measures, in ONE `cformer eval` run on the
# same images, the time of the backbone and of one click (neck + head, including reading the logits), and prints
# click / full forward (full = backbone + neck + head: what a model that re-encodes the image per click pays).
#
#   recipes/interformer/bench-click.sh [--size small|light] [--checkpoint CKPT] [--samples N] [--clicks N]
#                                      [--threads T] [--build DIR] [--out DIR]
#
#   --size small   recipes/interformer/interformer.yaml (64 x 64, ViT 64 wide, 4 layers); default
#   --size light   recipes/interformer/interformer-light.yaml (512 x 512, ViT-B): the paper's InterFormer-Light
#   --checkpoint   time this trained checkpoint (its recipe); without it, a 1-step model of the chosen size
#                  (the timing does not depend on the weights)
# Defaults: 20 samples x 10 clicks (light: 3 x 5), 1 thread, build/, a scratch --out.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
size=small ckpt="" samples="" clicks="" threads=1 build="$root/build" out=""
while [ $# -gt 0 ]; do
    case $1 in
        --size) size=$2; shift ;;
        --checkpoint) ckpt=$2; shift ;;
        --samples) samples=$2; shift ;;
        --clicks) clicks=$2; shift ;;
        --threads) threads=$2; shift ;;
        --build) build=$2; shift ;;
        --out) out=$2; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench-click: unknown argument '$1'" >&2; exit 2 ;;
    esac
    shift
done
cformer="$build/bin/cformer"
[ -x "$cformer" ] || { echo "bench-click: no $cformer (build first)" >&2; exit 2; }
case $size in
    small) recipe="$root/recipes/interformer/interformer.yaml"; side=64; : "${samples:=20}" "${clicks:=10}" ;;
    light) recipe="$root/recipes/interformer/interformer-light.yaml"; side=512; : "${samples:=3}" "${clicks:=5}" ;;
    *) echo "bench-click: --size small or light" >&2; exit 2 ;;
esac
[ -n "$out" ] || out=$(mktemp -d /tmp/interformer-bench.XXXXXX)
mkdir -p "$out"
export OMP_NUM_THREADS=$threads
if [ -z "$ckpt" ]; then
    "$cformer" train "$recipe" --run-dir "$out/run" --overwrite --quiet --steps 1 \
        --set train.batch_size=1 --set train.threads="$threads" --set data.path="$out/scenes" \
        --set data.generate.train=2 --set data.generate.val="$samples" --set data.generate.side=$side \
        --set eval.every=0 --set checkpoint.every=1 >"$out/train.log" 2>&1 || { tail -5 "$out/train.log" >&2; exit 1; }
    ckpt=$(ls "$out"/run/checkpoints/*.h5 | tail -n 1)
    sets=(--set data.path="$out/scenes")
else
    sets=()
fi
"$cformer" eval --checkpoint "$ckpt" --out "$out/eval.json" "${sets[@]}" --set train.threads="$threads" \
    --set eval.samples="$samples" --set eval.clicks="$clicks" >"$out/eval.log" 2>&1 || { tail -5 "$out/eval.log" >&2; exit 1; }
python3 - "$out/eval.json" "$size" "$samples" "$clicks" "$threads" <<'PY'
import json, sys
e = json.load(open(sys.argv[1]))
b, c = e["backbone_ms"], e["click_ms"]
print(f"| size | samples x clicks | threads | backbone (ms) | click: neck + head (ms) | full forward (ms) | click / full |")
print(f"|---|---|---|---|---|---|---|")
print(f"| {sys.argv[2]} | {sys.argv[3]} x {sys.argv[4]} | {sys.argv[5]} | {b:.2f} | {c:.2f} | {b + c:.2f} | {c / (b + c):.3f} |")
PY
