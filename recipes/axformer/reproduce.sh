#!/usr/bin/env bash
# AxFormer's experiment in one command (our CPU plan): per seed, pre-train the encoder (masked tokens), fine-tune it on
# the small labelled task until it over-fits, run `cformer run axformer-search` on it; then print the table
# (removal order, test accuracy unpruned vs pruned, counted FLOPs ratio, back-to-back wall-clock ratio, the
# hard-attention layers kept) per seed and as mean +- standard deviation over the seeds.
#
#   recipes/axformer/reproduce.sh [--seeds N] [--tolerance EPS] [--out DIR] [--build DIR] [--full] [--smoke]
#
# Seeds S = 1 .. N set train.seed of all three steps (the data, generated once in DIR/data, is the same for all).
# Default: the small CPU configuration below (a few minutes per seed on 2 shared cores); --full: the recipes as
# written (our CPU plan's d = 128 encoder); --smoke: a few steps of each on a tiny set (seconds; checks the table is
# produced, not its numbers). --tolerance EPS: the search's model.search.tolerance (default: the recipe's 0, the
# accuracy mode; EPS > 0 is our CPU plan's speed/size mode: each kept removal may raise the validation loss by EPS).
# DIR (default reproduce/axformer-search-DATE) gets seed-S/{pretrain,finetune,search}, results.md (the table) and
# results.json. Exit status: 0, 1 (a step failed), 2 (bad arguments).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
die() { echo "reproduce.sh: $*" >&2; exit 2; }
seeds=1 out="" build="$root/build" size=small tolerance=""
while [ $# -gt 0 ]; do
    case $1 in
        --seeds) [ $# -ge 2 ] || die "--seeds needs a value"; seeds=$2; shift ;;
        --out) [ $# -ge 2 ] || die "--out needs a directory"; out=$2; shift ;;
        --tolerance) [ $# -ge 2 ] || die "--tolerance needs a value"; tolerance=$2; shift ;;
        --build) [ $# -ge 2 ] || die "--build needs a directory"; build=$2; shift ;;
        --full) size=full ;;
        --smoke) size=smoke ;;
        -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unexpected argument '$1' (see --help)" ;;
    esac
    shift
done
[[ $seeds =~ ^[1-9][0-9]?$ ]] || die "--seeds must be an integer from 1 to 99, got '$seeds'"
[[ -z $tolerance || $tolerance =~ ^[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?$ ]] ||
    die "--tolerance must be a non-negative number, got '$tolerance'"
[ -n "$out" ] || out=$root/reproduce/axformer-search-$(date -u +%Y%m%d-%H%M%S)
case $out in /*) ;; *) out=$PWD/$out ;; esac
cformer=$build/bin/cformer
[ -x "$cformer" ] || die "no $cformer (build first: cmake -S . -B build && cmake --build build)"

# The small configuration: our CPU plan's 6-layer post-LN encoder with 4 heads at d = 64 (FFN 256) on rows of 32
# tokens and a 4000-sentence corpus; pre-training PRE steps, then the recipes' fine-tuning (to convergence) and
# search (re-fine-tuning after each granularity). Empty PRE: the recipe's own step count.
common=(--set data.path="$out/data")
pre=""
case $size in
    small) common+=(--set model.dim=64 --set model.hidden=256 --set data.len=31 --set data.generate.corpus=4000)
           pre=600 ;;
    full)  ;;
    smoke) common+=(--set model.dim=16 --set model.hidden=32 --set model.layers=2 --set model.heads=2 --set data.len=15
                    --set data.generate.corpus=64 --set data.generate.train=64 --set data.generate.val=32
                    --set data.generate.test=32 --set train.batch_size=16 --set eval.batch_size=16
                    --set eval.batches=1 --set train.steps=2 --set model.search.refit_steps=2)
           pre=2 ;;
esac
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
last() { ls "$1"/checkpoints/step-*.h5 | tail -1; }
mkdir -p "$out"
for ((s = 1; s <= seeds; s++)); do
    d=$out/seed-$s
    mkdir -p "$d"
    echo "seed $s: pre-training, fine-tuning, search -> $d" >&2
    "$cformer" train "$root/recipes/axformer/pretrain.yaml" --run-dir "$d/pretrain" --overwrite --quiet "${common[@]}" \
        --set train.seed=$s ${pre:+--set train.steps=$pre --set checkpoint.every=$pre --set eval.every=$pre} \
        >"$d/pretrain.log" 2>&1 || { tail -5 "$d/pretrain.log" >&2; exit 1; }
    "$cformer" train "$root/recipes/axformer/finetune.yaml" --run-dir "$d/finetune" --overwrite --quiet "${common[@]}" \
        --set train.seed=$s --init-from "$(last "$d/pretrain")" >"$d/finetune.log" 2>&1 ||
        { tail -5 "$d/finetune.log" >&2; exit 1; }
    "$cformer" run axformer-search "$root/recipes/axformer/search.yaml" --checkpoint "$(last "$d/finetune")" \
        --out "$d/search" "${common[@]}" --set train.seed=$s ${tolerance:+--set model.search.tolerance=$tolerance} \
        >"$d/search.log" 2>&1 ||
        { tail -5 "$d/search.log" >&2; exit 1; }
done
python3 "$root/recipes/axformer/table.py" "$out" \
    "recipes/axformer/reproduce.sh --seeds $seeds${tolerance:+ --tolerance $tolerance}$([ $size = small ] || echo " --$size")"
