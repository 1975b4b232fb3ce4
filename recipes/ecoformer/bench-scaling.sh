#!/usr/bin/env bash
# EcoFormer scaling benchmark (Liu et al., "EcoFormer: Energy-Saving Attention with Linear Complexity",
# NeurIPS 2022): forward+backward time per step and the counted energy (Sec. 4's model: 3.7 pJ per mul,
# 0.9 pJ per add) of a one-layer model with softmax attention and with EcoFormer's binary-code attention,
# for N = 256 ... ~8192 tokens (square images of side 16, 23, 32, 45, 64, 91: N about doubles each time),
# all measured in one run, on THREADS (default 1) threads. Prints one row per (attention, N) and the growth per doubling of N
# ((t2/t1)^(log 2 / log(N2/N1)): 2 is linear, 4 quadratic; n/a where the smaller time rounds to 0, at tiny N).
#   recipes/ecoformer/bench-scaling.sh [build/bin/cformer] [WORKDIR]
set -euo pipefail
cformer=${1:-build/bin/cformer}
work=${2:-$(mktemp -d /tmp/cf_bench_eco_XXXXXX)}
here=$(cd "$(dirname "$0")/../.." && pwd)
recipe=$here/recipes/ecoformer/bench-scaling.yaml
sides=${SIDES:-"16 23 32 45 64 91"}
mkdir -p "$work"
printf "%-10s %6s %10s %10s %12s %12s %14s\n" attention N wall_s cpu_s attn_muls attn_adds attn_energy_pj
for att in softmax ecoformer; do
    prev_n=; prev_t=; prev_c=; prev_e=
    for s in $sides; do
        n=$((s * s)); run=$work/$att-$s
        sets=(--set model.attention=$att --set data.size=$s --set data.path="$work/data" --set train.threads=${THREADS:-1})
        # forward+backward(+optimizer) time per step after 2 warm-up steps (the first holds the hash's anchor pass):
        # wall (step_ms of `cformer bench train`) and CPU seconds of all threads, from the difference between
        # a run of LONG and one of SHORT steps (robust to other jobs sharing the cores)
        wall=; cpu=()
        for steps in ${SHORT:-2} ${LONG:-12}; do
            /usr/bin/time -f "%U %S" -o "$run.time" "$cformer" bench train "$recipe" --steps $steps --warmup 2 "${sets[@]}" \
                >"$run.bench.log" 2>&1 || { tail -3 "$run.bench.log"; exit 1; }
            wall=$(sed -n 's/.*step_ms=\([0-9.]*\).*/\1/p' "$run.bench.log")
            cpu+=("$(tail -1 "$run.time")")
        done
        read -r t tc < <(python3 -c "import sys; w,a,b,c,d,s0,s1=sys.argv[1:]; print(float(w)/1000, (float(c)+float(d)-float(a)-float(b))/(int(s1)-int(s0)))" \
            "$wall" ${cpu[0]} ${cpu[1]} ${SHORT:-2} ${LONG:-12})
        # the counted energy: one step, then `cformer eval` of its checkpoint
        "$cformer" train "$recipe" --run-dir "$run" --overwrite --quiet --steps 1 "${sets[@]}" >"$run.log" 2>&1 ||
            { tail -3 "$run.log"; exit 1; }
        "$cformer" eval --checkpoint "$run/checkpoints/step-00000001.h5" --set data.path="$work/data" >"$run.eval.log" 2>&1 ||
            { tail -3 "$run.eval.log"; exit 1; }
        read -r mu ad en < <(python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print(j['attn_muls'], j['attn_adds'], j['attn_energy_pj'])" "$run/eval.json")
        growth=""
        if [ -n "$prev_n" ]; then
            growth=$(python3 -c "import math,sys; n0,n1,w0,w1,c0,c1,e0,e1=map(float,sys.argv[1:]); k=math.log(2)/math.log(n1/n0); g=lambda a,b: 'x%.2f' % ((b/a)**k) if a > 0 and b > 0 else 'n/a'; print('per doubling: wall %s cpu %s energy %s' % (g(w0,w1), g(c0,c1), g(e0,e1)))" "$prev_n" "$n" "$prev_t" "$t" "$prev_c" "$tc" "$prev_e" "$en")
        fi
        printf "%-10s %6d %10.4f %10.4f %12.4g %12.4g %14.4g   %s\n" "$att" "$n" "$t" "$tc" "$mu" "$ad" "$en" "$growth"
        prev_n=$n; prev_t=$t; prev_c=$tc; prev_e=$en
    done
done
