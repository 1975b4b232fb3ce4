#!/usr/bin/env bash
# Auto-Correlation's cost against full attention's as the series grows (Wu et al., NeurIPS 2021, Sec. 3.2:
# O(L log L) against O(L^2)): one layer of each, width 32 with 4 heads (autoformer.yaml's), forward+backward
# at batch 1, at every length of LENGTHS, measured in ONE `cformer eval` run (eval.bench_lengths, bench.c).
# Prints ms per pass, the growth exponent between neighbouring lengths, log(t2/t1)/log(L2/L1) -- about 1 (a
# little more: the log L) for L log L, 2 for L^2 -- and over the whole range (steadier on a shared machine).
#   recipes/autoformer/bench-autocorr.sh [build/bin/cformer] [WORKDIR]     (LENGTHS="192 384 768 1536 3072", at most 5)
set -euo pipefail
cformer=${1:-build/bin/cformer}
work=${2:-$(mktemp -d /tmp/cf_bench_autocorr_XXXXXX)}
here=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$work"
lengths=${LENGTHS:-"192 384 768 1536 3072"}
list=$(echo $lengths | tr ' ' ',')
sets=(--set data.path="$work/synth.csv" --set data.generate.rows=1200 --set data.pred_len=24 --set 'eval.horizons=[24]'
      --set train.threads=${THREADS:-1})
"$cformer" train "$here/recipes/autoformer/autoformer.yaml" --run-dir "$work/run" --overwrite --quiet --steps 1 "${sets[@]}" \
    >"$work/train.log" 2>&1 || { tail -3 "$work/train.log"; exit 1; }
"$cformer" eval "$here/recipes/autoformer/autoformer.yaml" --checkpoint "$work/run/checkpoints/step-00000001.h5" \
    --out "$work/eval.json" "${sets[@]}" --set "eval.bench_lengths=[$list]" >"$work/eval.log" 2>&1 ||
    { tail -3 "$work/eval.log"; exit 1; }
python3 - "$work/eval.json" $lengths <<'PY'
import json, math, sys
e, Ls = json.load(open(sys.argv[1])), [int(v) for v in sys.argv[2:]]
print("%6s %12s %12s %10s %10s %10s" % ("L", "autocorr_ms", "attention_ms", "ac_growth", "attn_growth", "attn/ac"))
for i, L in enumerate(Ls):
    a, t = e["ac_ms_L%d" % L], e["attn_ms_L%d" % L]
    g = lambda k: "" if i == 0 else "%.2f" % (math.log(e[k % L] / e[k % Ls[i - 1]]) / math.log(L / Ls[i - 1]))
    print("%6d %12.3f %12.3f %10s %10s %10.2f" % (L, a, t, g("ac_ms_L%d"), g("attn_ms_L%d"), t / a))
span = lambda k: math.log(e[k % Ls[-1]] / e[k % Ls[0]]) / math.log(Ls[-1] / Ls[0])
print("growth exponent over %d..%d: autocorr %.2f, attention %.2f (L log L: %.2f, L^2: 2)" % (Ls[0], Ls[-1],
      span("ac_ms_L%d"), span("attn_ms_L%d"), 1 + math.log(math.log(Ls[-1]) / math.log(Ls[0])) / math.log(Ls[-1] / Ls[0])))
PY
