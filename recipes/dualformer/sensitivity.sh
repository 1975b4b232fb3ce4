#!/usr/bin/env bash
# Trains recipes/dualformer/dualformer.yaml with one setting changed and evaluates each run with the defaults of
# `cformer eval` (500 held-out tasks x 8 samples), to find which setting makes its result depend on the seed
# (README.md, "How much the result depends on the seed"; recipes/dualformer/sensitivity-table.py DIR prints the
# table beside the recipe as it is, read from `tools/reproduce.sh dualformer --seeds 3 --out DIR`'s runs):
#
#   recipes/dualformer/sensitivity.sh CFORMER DIR ARM SEED...
#
# ARM: stepsN     train.steps N (the cosine schedule stretched to it)
#      lrX        optim.lr X
#      warmupN    optim.warmup N
#      batchN     train.batch_size N
#      atN        no training: the recipe-as-is run's step-N checkpoint (DIR/runs/dualformer-seedS, saved
#                 every 400 steps from 1200), evaluated -- the learning curve of the table's own runs
#      dataN      data.seed N: the trace level (and random A* tie-breaks) drawn each time a task is used, while
#                 train.seed SEED still sets the initial weights and the order of the tasks
# Runs go to DIR/sensitivity/ARM-seedS; a run whose last checkpoint exists is not trained again; eval.json is
# always rewritten. One thread each (train.threads=1, nice), so two invocations can share 2 cores.
set -euo pipefail
[ $# -ge 4 ] || { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 2; }
cformer=$1 dir=$2 arm=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive
steps=2400
case $arm in
steps[0-9]*) steps=${arm#steps} set=(--set "train.steps=$steps") ;;
lr[0-9]*) set=(--set "optim.lr=${arm#lr}") ;;
warmup[0-9]*) set=(--set "optim.warmup=${arm#warmup}") ;;
batch[0-9]*) set=(--set "train.batch_size=${arm#batch}") ;;
data[0-9]*) set=(--set "data.seed=${arm#data}") ;;
at[0-9]*) steps=${arm#at} set=() ;;
*) echo "sensitivity: unknown arm '$arm' (stepsN, lrX, warmupN, batchN, dataN or atN)" >&2; exit 2 ;;
esac
for seed in "$@"; do
    run=$dir/sensitivity/$arm-seed$seed
    ckpt=$run/checkpoints/step-$(printf %08d "$steps").h5
    mkdir -p "$run"
    if [[ $arm == at* ]]; then
        ckpt=$dir/runs/dualformer-seed$seed/checkpoints/step-$(printf %08d "$steps").h5
        [ -f "$ckpt" ] || { echo "sensitivity: missing $ckpt" >&2; exit 1; }
    elif [ ! -f "$ckpt" ]; then
        echo "$ cformer train $here/dualformer.yaml --run-dir $run --set train.seed=$seed --set train.threads=1 ${set[*]}"
        nice -n 5 "$cformer" train "$here/dualformer.yaml" --run-dir "$run" --quiet --overwrite \
            --set "train.seed=$seed" --set train.threads=1 "${set[@]}"
    fi
    echo "$ cformer eval --checkpoint $ckpt --out $run/eval.json --set train.threads=1"
    nice -n 5 "$cformer" eval --checkpoint "$ckpt" --out "$run/eval.json" --set train.threads=1 >/dev/null
    python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(sys.argv[2], 'loss %.4f' % d['loss'], ' '.join('%s %.3f' % (m, d[m]['optimal_1']) for m in ('slow', 'fast', 'auto')))" "$run/eval.json" "$arm-seed$seed"
done
