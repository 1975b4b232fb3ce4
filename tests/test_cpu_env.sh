#!/usr/bin/env bash
# cformer's start-up environment (autograd/cpu/cpu_env.h), seen through `cformer list env`: with nothing set
# it bounds OpenMP's spinning (GOMP_SPINCOUNT) and, on a CPU with AVX2 whose model OpenBLAS does not know,
# names a core with AVX2 kernels; it never changes what the user set; CF_CPU_ENV=keep turns it off; and the
# re-executed process does not re-execute again (it would hang or recurse).
source "$(dirname "$0")/harness.bash"
cformer=$1 src=$2
spin=$(sed -n 's/^#define CF_CPU_SPINCOUNT "\([0-9]*\)"/\1/p' "$src/autograd/cpu/cpu_env.h")
[ -n "$spin" ] && ok || bad "CF_CPU_SPINCOUNT not found in autograd/cpu/cpu_env.h"
val() { awk -F'\t' -v k="$1" '$1 == k {print $2}' <<<"$2"; }

# nothing set: cformer sets the spin bound and marks the process
out=$(env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT -u CF_CPU_ENV "$cformer" list env)
[ "$(val GOMP_SPINCOUNT "$out")" = "$spin" ] && ok || bad "GOMP_SPINCOUNT not bounded by default: $out"
[ "$(val CF_CPU_ENV "$out")" = applied ] && ok || bad "the process is not marked as re-executed: $out"
# OpenBLAS runs AVX2 kernels wherever the CPU has AVX2 and FMA (unless the user chose a core)
if grep -qw avx2 /proc/cpuinfo 2>/dev/null && grep -qw fma /proc/cpuinfo && [ -z "${OPENBLAS_CORETYPE:-}" ]; then
    core=$(val openblas_core "$out")
    case "$core" in
    Prescott | Core2 | Penryn | Dunnington | Nehalem | Atom | Nano | Sandybridge | Barcelona | Unknown | "")
        bad "OpenBLAS runs '$core' kernels on a CPU with AVX2: $out" ;;
    *) ok ;;
    esac
    [ -z "$(val openblas_better_core "$out")" ] && ok || bad "a better core is still available after start-up: $out"
fi

# what the user set stays
out=$(env -u GOMP_SPINCOUNT -u CF_CPU_ENV OMP_WAIT_POLICY=passive OPENBLAS_CORETYPE=Prescott "$cformer" list env)
[ "$(val openblas_core "$out")" = Prescott ] && ok || bad "the user's OPENBLAS_CORETYPE was overridden: $out"
[ -z "$(val GOMP_SPINCOUNT "$out")" ] && ok || bad "GOMP_SPINCOUNT set although OMP_WAIT_POLICY was: $out"
out=$(env -u OMP_WAIT_POLICY -u CF_CPU_ENV GOMP_SPINCOUNT=77 "$cformer" list env)
[ "$(val GOMP_SPINCOUNT "$out")" = 77 ] && ok || bad "the user's GOMP_SPINCOUNT was overridden: $out"

# CF_CPU_ENV=keep: nothing is set
out=$(env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT CF_CPU_ENV=keep "$cformer" list env)
[ -z "$(val GOMP_SPINCOUNT "$out")" ] && [ "$(val CF_CPU_ENV "$out")" = keep ] && ok || bad "CF_CPU_ENV=keep ignored: $out"

# the arguments reach the re-executed process intact, and a failing command keeps its exit status
out=$(env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT -u CF_CPU_ENV "$cformer" list "no such list" 2>&1)
rc=$?
[ $rc -eq 2 ] && echo "$out" | has "unknown list 'no such list'" && ok || bad "argv or status lost in re-execution ($rc): $out"

# the default thread count (train.threads 0) is OMP_NUM_THREADS when set, as the README says
sed -e 's/^  dim: 256/  dim: 32/' -e 's/^  heads: 4/  heads: 2/' -e 's/^  hidden: 1024/  hidden: 64/' -e 's/^  layers: 4/  layers: 1/' \
    -e 's/^  seq: 128/  seq: 16/' -e 's/^  steps: 23/  steps: 1/' -e 's/^  batch_size: 8/  batch_size: 2/' \
    "$src/recipes/bench/gpt-small.yaml" >"$tmp/tiny.yaml"
for t in 1 3; do
    out=$(OMP_NUM_THREADS=$t "$cformer" train "$tmp/tiny.yaml" --run-dir "$tmp/run$t" 2>&1)
    echo "$out" | has "on $t threads" && ok || bad "OMP_NUM_THREADS=$t not followed: $(echo "$out" | head -3)"
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
