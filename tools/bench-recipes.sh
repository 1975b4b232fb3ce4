#!/usr/bin/env bash
# Training throughput of any recipes, each against the GEMM bound at its own shapes, in one run:
#     tools/bench-recipes.sh [--build DIR] [--steps N] [--threads T] RECIPE[:key=value,...]...
# For each recipe, `cformer bench train` (N timed steps after 2 warm-up steps, T threads; default every core)
# gives tokens (items) per second, the model's GFLOP/s, the step time against the time its own GEMMs take
# through threaded cblas (the "GEMM bound at the model's shapes" line), the step arena's high-water and the
# peak RSS. `:key=value,...` after a recipe adds --set overrides for it. Prints a Markdown table.
# A benchmark, not a test.
set -euo pipefail
build=build steps=10 threads=$(nproc)
while [ $# -gt 0 ]; do
    case "$1" in
    --build) build=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    -h | --help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) break ;;
    esac
done
[ $# -ge 1 ] || { echo "usage: $0 [--build DIR] [--steps N] [--threads T] RECIPE[:key=value,...]..." >&2; exit 2; }
cformer=$build/bin/cformer
[ -x "$cformer" ] || { echo "$0: $cformer: not built" >&2; exit 1; }
log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "| recipe | tokens/s | model GFLOP/s | step ms | its GEMMs alone, ms | % of GEMM bound | arena MB | peak RSS MB |"
echo "|---|---|---|---|---|---|---|---|"
for spec in "$@"; do
    recipe=${spec%%:*} sets=()
    if [ "$spec" != "$recipe" ]; then
        IFS=, read -r -a kvs <<<"${spec#*:}"
        for kv in "${kvs[@]}"; do sets+=(--set "$kv"); done
    fi
    if ! OMP_NUM_THREADS=$threads "$cformer" bench train "$recipe" --steps "$steps" --warmup 2 --set train.threads="$threads" \
        "${sets[@]}" >"$log" 2>&1; then
        echo "| $spec | failed: $(tail -1 "$log") |||||||"
        continue
    fi
    awk -v spec="$spec" '
        /^model flops per token/ { gf = $(NF - 1) }
        /^step arena high-water/ { arena = $4 }
        /^GEMM bound at the model/ { for (i = 1; i <= NF; i++) if ($i == "take") gemm = $(i + 1); for (i = 1; i <= NF; i++) if ($i == "is") pct = $(i + 1) }
        /^tokens_per_s=/ { split($0, f, /[= ]/); tps = f[2]; ms = f[4]; rss = f[6] }
        END { printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", spec, tps, gf == "" ? "-" : gf, ms, gemm == "" ? "-" : gemm,
              pct == "" ? "-" : pct, arena == "" ? "-" : arena, rss }' "$log"
done
echo
echo "$threads threads, $(nproc) cores; OpenBLAS core $("$cformer" list env | awk -F'\t' '$1 == "openblas_core" {print $2}'); $steps timed steps"
