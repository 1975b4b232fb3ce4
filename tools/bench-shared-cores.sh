#!/usr/bin/env bash
# How OpenMP's waiting policy does on a dedicated machine and on cores shared with another job, for any
# training recipe:
#     tools/bench-shared-cores.sh [--build DIR] [--steps N] [--reps R] RECIPE [SETTING...]
# SETTING is an environment assignment (GOMP_SPINCOUNT=1000, OMP_WAIT_POLICY=passive) or "default" (what
# cformer's own start-up sets: autograd/cpu/cpu_env.h); the default list compares libgomp's own default
# (GOMP_SPINCOUNT=300000), cformer's default and passive waiting. For each setting: "alone" is the median
# tokens/s of R runs of `cformer bench train` using every core; "shared" runs two such jobs at once (both
# under the setting, as two users of one machine would) and reports each one's tokens/s, their sum, and the
# sum over the alone figure (1.0: sharing costs nothing in all; well below: the waiting wastes the cores).
# Prints a Markdown table. A benchmark, not a test: it takes minutes.
set -euo pipefail
build=build steps=10 reps=3
while [ $# -gt 0 ]; do
    case "$1" in
    --build) build=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) break ;;
    esac
done
[ $# -ge 1 ] || { echo "usage: $0 [--build DIR] [--steps N] [--reps R] RECIPE [SETTING...]" >&2; exit 2; }
recipe=$1; shift
settings=("$@")
[ ${#settings[@]} -gt 0 ] || settings=(GOMP_SPINCOUNT=300000 default OMP_WAIT_POLICY=passive)
cformer=$build/bin/cformer
[ -x "$cformer" ] || { echo "$0: $cformer: not built" >&2; exit 1; }
[ -f "$recipe" ] || { echo "$0: $recipe: no such recipe" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# one bench run under a setting; prints its tokens/s
tps() {
    local setting=$1 log=$2
    local envs=()
    [ "$setting" = default ] || envs=("$setting")
    env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT "${envs[@]}" "$cformer" bench train "$recipe" --steps "$steps" >"$log" 2>&1 ||
        { echo "$0: cformer bench train failed under $setting: $(tail -2 "$log")" >&2; exit 1; }
    sed -n 's/.*tokens_per_s=\([0-9.]*\).*/\1/p' "$log" | tail -1
}

echo "| setting | alone tokens/s (median of $reps) | shared: job 1, job 2 | shared sum / alone |"
echo "|---|---|---|---|"
for s in "${settings[@]}"; do
    alone=()
    for r in $(seq "$reps"); do alone+=("$(tps "$s" "$out/a$r.log")"); done
    med=$(printf '%s\n' "${alone[@]}" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}')
    tps "$s" "$out/s1.log" >"$out/s1" &
    p1=$!
    tps "$s" "$out/s2.log" >"$out/s2" &
    p2=$!
    wait "$p1" "$p2"
    s1=$(cat "$out/s1") s2=$(cat "$out/s2")
    awk -v s="$s" -v m="$med" -v a="$s1" -v b="$s2" -v all="${alone[*]}" \
        'BEGIN {printf "| %s | %.0f (%s) | %.0f, %.0f | %.2f |\n", s, m, all, a, b, (a + b) / m}'
done
echo
echo "cores: $(nproc); OpenBLAS core: $("$cformer" list env | awk -F'\t' '$1 == "openblas_core" {print $2}'); recipe: $recipe, $steps steps"
