#!/usr/bin/env bash
# EcoFormer scaling benchmark (Liu et al., "EcoFormer: Energy-Saving Attention with Linear Complexity",
# NeurIPS 2022): forward+backward time per step and the counted energy (Sec. 4's model: 3.7 pJ per mul,
# 0.9 pJ per add) of a one-layer model with softmax attention and with EcoFormer's binary-code attention,
# for N = 256 ... ~8192 tokens (square images of side 16, 23, 32, 45, 64, 91: N about doubles each time),
# all measured in one run. Prints one row per (attention, N) and the growth per doubling of N
# ((t2/t1)^(log 2 / log(N2/N1)): 2 is linear, 4 quadratic).
#   tools/bench-ecoformer.sh [build/bin/cformer] [WORKDIR]
set -euo pipefail
cformer=${1:-build/bin/cformer}
work=${2:-$(mktemp -d /tmp/cf_bench_eco_XXXXXX)}
here=$(cd "$(dirname "$0")/.." && pwd)
recipe=$here/recipes/ecoformer/bench-scaling.yaml
sides=${SIDES:-"16 23 32 45 64 91"}
mkdir -p "$work"
printf "%-10s %6s %12s %14s %14s %14s\n" attention N s_per_step attn_muls attn_adds attn_energy_pj
for att in softmax ecoformer; do
    prev_n=; prev_t=; prev_e=
    for s in $sides; do
        n=$((s * s)); run=$work/$att-$s
        "$cformer" train "$recipe" --run-dir "$run" --overwrite --quiet --set model.attention=$att \
            --set data.size=$s --set data.path="$work/data" >"$run.log" 2>&1 || { tail -3 "$run.log"; exit 1; }
        # steps 2..5 (step 1 holds the hash's anchor pass and warm-up)
        t=$(python3 -c "import json,sys; r=[json.loads(l) for l in open(sys.argv[1])]; e={x['step']:x['elapsed_s'] for x in r if 'elapsed_s' in x}; print((e[5]-e[1])/4)" "$run/metrics.jsonl")
        "$cformer" eval --checkpoint "$run/checkpoints/step-00000005.h5" --set data.path="$work/data" >"$run.eval.log" 2>&1 || { tail -3 "$run.eval.log"; exit 1; }
        read -r mu ad en < <(python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print(j['attn_muls'], j['attn_adds'], j['attn_energy_pj'])" "$run/eval.json")
        growth=""
        if [ -n "$prev_n" ]; then
            growth=$(python3 -c "import math,sys; n0,n1,t0,t1,e0,e1=map(float,sys.argv[1:]); k=math.log(2)/math.log(n1/n0); print('time x%.2f  energy x%.2f per doubling' % ((t1/t0)**k, (e1/e0)**k))" "$prev_n" "$n" "$prev_t" "$t" "$prev_e" "$en")
        fi
        printf "%-10s %6d %12.4f %14.4g %14.4g %14.4g   %s\n" "$att" "$n" "$t" "$mu" "$ad" "$en" "$growth"
        prev_n=$n; prev_t=$t; prev_e=$en
    done
done
