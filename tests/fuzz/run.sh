#!/usr/bin/env bash
# Runs every libFuzzer harness of a CF_FUZZ=ON build over its seed corpus and prints, per harness, the
# executions and the coverage libFuzzer reports at the end (stat::number_of_executed_units, cov:).
#   tests/fuzz/run.sh BUILD_DIR [HARNESS...]
# FUZZ_SECONDS (default 20) bounds each harness's time and FUZZ_RUNS (default -1: no bound) its executions;
# FUZZ_SEED (default 1) seeds the mutations, so a run bounded by FUZZ_RUNS is the same run every time (CI).
# New inputs go to BUILD_DIR/fuzz/corpus/<harness>/ (kept between runs: later runs start from them); the
# committed seeds in tests/fuzz/corpus/<harness>/ are only read. A crash, leak, timeout or sanitizer report
# leaves its input in BUILD_DIR/fuzz/crashes/ and makes the script exit 1 after the other harnesses ran.
# The HDF5 harnesses fuzz without leak detection: libhdf5 itself loses memory on most corrupt files, which
# makes LeakSanitizer scan after nearly every input (10x slower); their corpus is replayed once with leak
# detection at the end instead, which finds leaks of ours on every input the fuzzer kept.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: tests/fuzz/run.sh BUILD_DIR [HARNESS...]}
shift
seconds=${FUZZ_SECONDS:-20}
runs=${FUZZ_RUNS:--1}
seed=${FUZZ_SEED:-1}
work=$build/fuzz
mkdir -p "$work/crashes"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}:allocator_may_return_null=1:quarantine_size_mb=64:suppressions=$here/asan.supp
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=suppressions=$here/lsan.supp
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
leaks_after="fuzz_checkpoint fuzz_spikes_h5"

# true when the log's crash is the known libhdf5 fault: a SEGV whose stack runs H5HL_protect -> ...
# -> H5F__accum_read inside libhdf5 (tests/fuzz/upstream/README.md), reached from our HDF5 readers
known_upstream() {
    grep -q "ERROR: AddressSanitizer: SEGV" "$1" && grep -q " in H5F__accum_read .*libhdf5" "$1" &&
        grep -q " in H5HL_protect .*libhdf5" "$1"
}

harnesses=("$@")
if [ ${#harnesses[@]} -eq 0 ]; then
    for b in "$build"/bin/fuzz_*; do harnesses+=("$(basename "$b")"); done
fi
failed=()
printf '%-18s %12s %8s %8s  %s\n' harness executions cov ft result
for h in "${harnesses[@]}"; do
    mkdir -p "$work/corpus/$h"
    log=$work/$h.log
    common=(-timeout=25 -rss_limit_mb=2048 -artifact_prefix="$work/crashes/$h-")
    leaks=1
    # libhdf5 itself allocates what a corrupt superblock claims (up to 2 GB) before it fails: not ours to bound
    case " $leaks_after " in *" $h "*) leaks=0 common[1]=-rss_limit_mb=4096 ;; esac
    "$build/bin/$h" -max_total_time="$seconds" -runs="$runs" -seed="$seed" -print_final_stats=1 -detect_leaks=$leaks "${common[@]}" \
        "$work/corpus/$h" "$here/corpus/$h" >"$log" 2>&1
    rc=$?
    if [ $rc -eq 0 ] && [ $leaks -eq 0 ]; then
        "$build/bin/$h" -runs=0 -detect_leaks=1 "${common[@]}" "$work/corpus/$h" "$here/corpus/$h" >"$log.leaks" 2>&1
        rc=$?
        [ $rc -eq 0 ] || cat "$log.leaks" >>"$log"
    fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    result=ok
    if [ $rc -ne 0 ] && known_upstream "$log"; then
        # the libhdf5 1.10.8 fault of tests/fuzz/upstream/README.md (a NULL read inside HDF5 on a damaged local
        # heap): reported and kept, not a failure of ours; any other crash still fails the run
        result="ok (stopped at the known libhdf5 fault after ${execs:-?} runs; input in $work/crashes/)"
    elif [ $rc -ne 0 ]; then
        result="FAILED (exit $rc; log $log)"
        failed+=("$h")
    fi
    printf '%-18s %12s %8s %8s  %s\n' "$h" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$result"
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzzing found problems in: ${failed[*]}" >&2
    for h in "${failed[@]}"; do
        echo "=== $h ===" >&2
        grep -m1 -A25 -E '^==[0-9]+==ERROR|runtime error|^==[0-9]+== ERROR|deadly signal' "$work/$h.log" >&2
    done
    exit 1
fi
