#!/usr/bin/env bash
# recipes/ecoformer/bench-scaling.sh at tiny sizes (N = 36 and 144, one short and one longer timed run each):
# it runs through and prints its table, a header and one row per (attention, N) with numeric columns, and
# the counted attention energy grows x2.00 per doubling of N for EcoFormer and x4.00 for softmax (Sec. 4's
# counts are exact: linear and quadratic by construction). The times are not checked: this is not a timing.
source "$(dirname "$0")/harness.bash"
needs_hdf5 "${3:-.}"
cformer=$1 src=$2

out=$(SIDES="6 12" SHORT=1 LONG=2 bash "$src/recipes/ecoformer/bench-scaling.sh" "$cformer" "$tmp/work" 2>&1)
[ $? -eq 0 ] && ok || bad "bench-scaling.sh failed: $out"
echo "$out" | head -1 | has -E '^attention +N +wall_s +cpu_s +attn_muls +attn_adds +attn_energy_pj' && ok || bad "header: $out"
rows=$(echo "$out" | awk '$1 ~ /^(softmax|ecoformer)$/ && $2 ~ /^(36|144)$/ && $3 + 0 > 0 && $6 + 0 > 0 && $7 + 0 > 0' | wc -l)
check test "$rows" -eq 4
echo "$out" | grep '^ecoformer *144 ' | has 'energy x2.00' && ok || bad "EcoFormer energy per doubling: $out"
echo "$out" | grep '^softmax *144 ' | has 'energy x4.00' && ok || bad "softmax energy per doubling: $out"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
