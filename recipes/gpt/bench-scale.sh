#!/usr/bin/env bash
# GPT training throughput and memory across shapes, cformer against PyTorch, all measured in one run:
#     recipes/gpt/bench-scale.sh [--build DIR] [--steps N] [--out DIR] [--quick] [--no-gpt2]
# Shapes: d_model 256 / 512 / 768 (heads d/64, MLP 4d, 4 layers, byte vocabulary, untied head) by context
# 128 / 512 / 1024, 2048 tokens per step (batch 16 / 4 / 2); then a GPT-2-124M-shaped step (12 layers, d 768,
# 12 heads, vocabulary 50257, context 1024, batch 1; untied head, so 163 M parameters). For each: cformer in
# one process with every core as threads, cformer as one single-threaded MPI rank per core (when mpirun is
# there and the batch splits over the ranks: not for GPT-2's batch of 1), and PyTorch (recipes/gpt/bench_gpt_torch.py, the same model) at its best of 1 thread + threaded
# OpenBLAS and every core as threads. "% bound" is model FLOPs per second over cblas_sgemm's rate at n = 1024
# in this run (`cformer bench ops`); "% own-shape bound" is the step time of the model's own GEMMs replayed
# through threaded cblas over the measured step (`cformer bench train`'s "GEMM bound" line). RSS is the peak resident set of one process (of each rank for MPI).
# PyTorch runs on the OpenBLAS core cformer runs on (`cformer list env`), so the GEMM kernels are the same.
# Writes DIR/scale.md (a Markdown table) and DIR/scale.json; DIR defaults to reproduce/bench-scale-DATE.
# --quick: d 256 and 512 by context 128 and 512 only, 3 steps. A benchmark, not a test: the full run takes
# about 15 minutes on 2 cores.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$src/build steps=5 out="" quick=0 gpt2=1
while [ $# -gt 0 ]; do
    case "$1" in
    --build) build=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --quick) quick=1; shift ;;
    --no-gpt2) gpt2=0; shift ;;
    -h | --help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "$0: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
cformer=$build/bin/cformer
[ -x "$cformer" ] || { echo "$0: $cformer: not built" >&2; exit 1; }
out=${out:-$src/reproduce/bench-scale-$(date -u +%Y%m%d-%H%M%S)}
mkdir -p "$out"
recipe=$src/recipes/bench/gpt-small.yaml
nproc=$(nproc)
dims=(256 512 768) seqs=(128 512 1024)
[ "$quick" = 0 ] || { dims=(256 512) seqs=(128 512) steps=3; }
torch=0
/usr/bin/python3 -c "import torch" 2>/dev/null && torch=1
mpi=0
command -v mpirun >/dev/null && mpi=1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
core=$("$cformer" list env | awk -F'\t' '$1 == "openblas_core" {print $2}')
sgemm=$("$cformer" bench ops | awk '/n = 1024/ {print $5}')
echo "cblas_sgemm n=1024: $sgemm GFLOP/s ($nproc threads, OpenBLAS $core)"

field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" "$2" | tail -1; }
own_bound() { sed -n 's/^GEMM bound at the model.*this step is \([0-9]*\)% of that bound.*/\1%/p' "$1" | tail -1; }
flops() { sed -n 's/^model flops per token \([0-9.e+]*\):.*/\1/p' "$1" | tail -1; }
# one cformer bench: LOG, then the rest are `cformer bench train` arguments; "-" where it failed
cf_run() {
    local log=$1; shift
    "$@" >"$log" 2>&1 || { echo "  (failed: $(tail -1 "$log"))" >&2; return 0; }
}

rows=$out/rows.tsv
: >"$rows"
shape() { # name vocab dim layers seq batch
    local name=$1 V=$2 D=$3 L=$4 T=$5 B=$6 H=$(($3 / 64))
    local sets=(--set model.vocab=$V --set model.dim=$D --set model.heads=$H --set model.hidden=$((4 * D))
        --set model.layers=$L --set model.seq=$T --set train.batch_size=$B --set data.vocab=$V)
    local w=$(( steps > 3 ? 2 : 1 ))
    echo "== $name: d $D, $L layers, context $T, batch $B, vocabulary $V"
    local l1=$out/$name.cf1.log l2=$out/$name.cf2.log
    cf_run "$l1" env OMP_NUM_THREADS="$nproc" "$cformer" bench train "$recipe" --steps "$steps" --warmup "$w" "${sets[@]}"
    if [ "$mpi" = 1 ] && [ $((B % nproc)) -eq 0 ]; then # the batch is split over the ranks
        cf_run "$l2" mpirun -np "$nproc" --oversubscribe -x OMP_NUM_THREADS=1 -x OMPI_MCA_btl_vader_single_copy_mechanism \
            "$cformer" bench train "$recipe" --steps "$steps" --warmup "$w" --set train.threads=1 "${sets[@]}"
    fi
    local tbest=- tset=- trss=-
    if [ "$torch" = 1 ]; then
        local targs=(--steps "$steps" --warmup "$w" --vocab "$V" --dim "$D" --layers "$L" --heads "$H" --seq "$T" --batch "$B")
        OPENBLAS_CORETYPE=$core OPENBLAS_NUM_THREADS=$nproc /usr/bin/python3 "$src/recipes/gpt/bench_gpt_torch.py" \
            "${targs[@]}" --threads 1 >"$out/$name.t1.log" 2>&1 || true
        OPENBLAS_CORETYPE=$core /usr/bin/python3 "$src/recipes/gpt/bench_gpt_torch.py" "${targs[@]}" --threads "$nproc" \
            >"$out/$name.tn.log" 2>&1 || true
        local a b
        a=$(field tokens_per_s "$out/$name.t1.log") b=$(field tokens_per_s "$out/$name.tn.log")
        if [ -n "$a" ] || [ -n "$b" ]; then
            if awk -v a="${a:-0}" -v b="${b:-0}" 'BEGIN {exit !(a >= b)}'; then
                tbest=$a tset="1 thread + BLAS $nproc" trss=$(field peak_rss_mb "$out/$name.t1.log")
            else
                tbest=$b tset="$nproc threads" trss=$(field peak_rss_mb "$out/$name.tn.log")
            fi
        fi
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$D" "$L" "$T" "$B" "$V" \
        "$(flops "$l1")" "$(field tokens_per_s "$l1")" "$(field peak_rss_mb "$l1")" \
        "$(field tokens_per_s "$l2" 2>/dev/null)" "$(field peak_rss_mb "$l2" 2>/dev/null)" "$tbest" "$tset" "$trss" \
        "$(own_bound "$l1")" >>"$rows"
    tail -1 "$rows"
}

for D in "${dims[@]}"; do
    for T in "${seqs[@]}"; do shape "d$D-T$T" 256 "$D" 4 "$T" $((2048 / T)); done
done
[ "$gpt2" = 0 ] || [ "$quick" = 1 ] || shape gpt2-124m 50257 768 12 1024 1

# the table and the JSON from the rows (empty field: that run failed or was not made)
awk -F'\t' -v sgemm="$sgemm" -v n="$nproc" -v core="$core" -v md="$out/scale.md" -v js="$out/scale.json" '
function pct(t, f) { return (t == "" || f == "") ? "-" : sprintf("%.0f%%", 100 * t * f / (sgemm * 1e9)) }
function num(x) { return x == "" || x == "-" ? "null" : x }
function show(x) { return x == "" ? "-" : x }
BEGIN {
    printf "| shape | cformer 1x%d tok/s | %% bound | %% own-shape bound | RSS MB | cformer %dx1 (MPI) tok/s | %% bound | RSS MB / rank | PyTorch best tok/s | its setting | RSS MB | cformer best / PyTorch |\n", n, n > md
    print "|---|---|---|---|---|---|---|---|---|---|---|---|" > md
    printf "{\"sgemm_gflops_n1024\": %s, \"cores\": %d, \"openblas_core\": \"%s\", \"rows\": [", sgemm, n, core > js
}
{
    best = ($8 > $10 ? $8 : $10) + 0
    ratio = ($12 == "-" || $12 == "" || best == 0) ? "-" : sprintf("%.2fx", best / $12)
    printf "| %s (d %s, %s layers, T %s, B %s) | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5,
        show($8), pct($8, $7), show($15), show($9), show($10), pct($10, $7), show($11), show($12), show($13), show($14), ratio > md
    printf "%s\n {\"shape\": \"%s\", \"dim\": %s, \"layers\": %s, \"seq\": %s, \"batch\": %s, \"vocab\": %s, \"flops_per_token\": %s, \"cformer_threads\": {\"tokens_per_s\": %s, \"peak_rss_mb\": %s, \"own_shape_bound\": \"%s\"}, \"cformer_mpi\": {\"tokens_per_s\": %s, \"peak_rss_mb\": %s}, \"torch_best\": {\"tokens_per_s\": %s, \"setting\": \"%s\", \"peak_rss_mb\": %s}}",
        (NR > 1 ? "," : ""), $1, $2, $3, $4, $5, $6, num($7), num($8), num($9), show($15), num($10), num($11), num($12), $13, num($14) > js
}
END { print "\n]}" > js }' "$rows"
{
    echo
    echo "cblas_sgemm n = 1024: $sgemm GFLOP/s on $nproc threads (OpenBLAS $core); $steps timed steps per run;"
    echo "commit $(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo '?'), $(date -u +%Y-%m-%d)."
} >>"$out/scale.md"
cat "$out/scale.md"
echo "wrote $out/scale.md and $out/scale.json"
