#!/usr/bin/env bash
# Fine-tunes the 3 softmax checkpoints of `tools/reproduce.sh ecoformer --seeds 3 --out DIR` with a weaker or a
# stronger bound on the attention weights' ratio, and evaluates each (README.md, "The contrast the binary kernel
# reaches"; recipes/ecoformer/bound-table.py DIR prints its table):
#
#   recipes/ecoformer/bound-sweep.sh CFORMER DIR ARM...
#
# ARM: bN      EcoFormer (ecoformer.yaml, KSH hash) with N bits: weights h_i.h_j + N + 1 in [1, 2N + 1]
#      sN      softmax (softmax.yaml's continued arm) with its logits squashed into [0, ln(2N + 1)], the same
#              ratio bound as N bits (model.logit_bound)
# Softmax seed S (DIR/runs/softmax-seedS/checkpoints/step-00003000.h5, S = 1, 2, 3) starts the fine-tuning of
# seed S + 1 for bN (as reproduce.json's ecoformer run) and seed S for sN (as its softmax-ft run). Runs go to
# DIR/bound/ARM-seedT (T the fine-tuning seed); a run whose step-2000 checkpoint exists is not trained again; eval.json is always
# rewritten. One thread each (OMP_NUM_THREADS=1, nice); about 4-8 minutes a run on a shared core.
set -euo pipefail
[ $# -ge 3 ] || { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 2; }
cformer=$1 dir=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive
for arm in "$@"; do
    case $arm in
    b[0-9]*) recipe=$here/ecoformer.yaml set=(--set "model.bits=${arm#b}") off=1 ;;
    s[0-9]*) n=${arm#s}
             bound=$(python3 -c "import math; print(repr(math.log(2 * $n + 1)))")
             recipe=$here/softmax.yaml off=0
             set=(--set "model.logit_bound=$bound" --set train.steps=2000 --set optim.lr=5e-4 --set optim.warmup=80) ;;
    *) echo "bound-sweep: unknown arm '$arm' (bN or sN)" >&2; exit 2 ;;
    esac
    for s in 1 2 3; do
        init=$dir/runs/softmax-seed$s/checkpoints/step-00003000.h5
        [ -f "$init" ] || { echo "bound-sweep: missing $init" >&2; exit 1; }
        seed=$((s + off))
        run=$dir/bound/$arm-seed$seed
        mkdir -p "$dir/bound"
        if [ ! -f "$run/checkpoints/step-00002000.h5" ]; then
            echo "$ cformer train $recipe --run-dir $run --set train.seed=$seed --set train.threads=1 ${set[*]} --init-from $init"
            nice -n 5 "$cformer" train "$recipe" --run-dir "$run" --quiet --overwrite --set train.seed=$seed \
                --set train.threads=1 "${set[@]}" --init-from "$init"
        fi
        echo "$ cformer eval --checkpoint $run/checkpoints/step-00002000.h5 --out $run/eval.json"
        nice -n 5 "$cformer" eval --checkpoint "$run/checkpoints/step-00002000.h5" --out "$run/eval.json" \
            --set train.threads=1 >/dev/null
        python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(sys.argv[2], {k: round(v, 4) for k, v in d.items() if k == 'accuracy' or k.startswith('attn_top') or k.startswith('attn_entropy')})" "$run/eval.json" "$arm-seed$seed"
    done
done
