#!/usr/bin/env bash
# shellcheck disable=SC2034  # the common part sets variables that only one of the two scripts uses
# Faults end the whole job, non-zero, in bounded time -- never a hang. 2 ranks train; at step 3 rank 1
#   fail-exit:  exits with status 3           (mpirun kills the job when a rank exits non-zero)
#   fail-kill:  is killed by SIGKILL           (mpirun notices the signal)
#   fail-abort: calls cf_pg_abort with a cause (MPI_Abort; the message names rank 1 and the cause)
#   fail-hang:  sleeps 120 s                   (rank 0's collective deadline, CF_DIST_TIMEOUT=1, aborts)
# The four jobs run concurrently to keep the test short. Exit 77 = skipped (no mpirun / no MPI).
set -u
# --- common to tests/test_dist_mpi.sh and tests/test_dist_faults.sh (keep the two copies equal) ---
# Finds the test executable and mpirun, sets the flags that let mpirun work as root and in containers,
# and makes a scratch directory ($work, removed on exit). Exits 77 (skipped) when mpirun is missing or
# cannot start 2 processes, or the build has no MPI.
if [ $# -lt 3 ]; then
    echo "usage: $0 <cformer-binary> <source-dir> <build-dir>"
    exit 2
fi
build_dir="$3"
exe="$build_dir/bin/test_dist_train"
if [ ! -x "$exe" ]; then
    echo "FAIL: $exe is missing (build the tests first)"
    exit 1
fi
if ! command -v mpirun >/dev/null 2>&1; then
    echo "SKIP: mpirun not found"
    exit 77
fi
probe="$("$exe" probe)"
case "$probe" in *mpi=1*) ;; *) echo "SKIP: built without MPI (CF_MPI=OFF)"; exit 77 ;; esac
case "$probe" in *hdf5=1*) hdf5=1 ;; *) hdf5=0 ;; esac

# Open MPI refuses root without these; harmless for other users and other MPIs.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Containers often forbid the cross-memory-attach single copy; plain shared memory works everywhere.
export OMPI_MCA_btl_vader_single_copy_mechanism=none
# One thread per rank: 2 ranks share 2 cores here. Open MPI's own allocations are reported as leaks by
# LeakSanitizer in sanitizer builds; our code's leaks are caught by the 1-process runs.
export OMP_NUM_THREADS=1
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
mpirun=(mpirun)
if mpirun --version 2>&1 | grep -q "Open MPI"; then
    openmpi=1
    mpirun+=(--oversubscribe -x OMP_NUM_THREADS -x ASAN_OPTIONS)
else
    openmpi=0
fi
work="$(mktemp -d "${TMPDIR:-/tmp}/cf_dist.XXXXXX")"
trap 'rm -rf "$work"' EXIT
# Each mpirun gets its own session directory: mpiruns started at the same moment (this script's jobs,
# or CTest running tests in parallel) otherwise race to create /tmp/ompi.<host>.<uid> and fail.
session() { mkdir -p "$work/$1" && export TMPDIR="$work/$1" OMPI_MCA_orte_tmpdir_base="$work/$1"; }
if ! (session preflight && timeout 60 "${mpirun[@]}" -np 2 true >/dev/null 2>&1); then
    echo "SKIP: mpirun cannot start 2 processes here"
    exit 77
fi
# --- end of the common part ---

limit=30
modes=(fail-exit fail-kill fail-abort fail-hang)
for m in "${modes[@]}"; do
    (
        session "$m"
        start=$(date +%s)
        # only the hang relies on the collective deadline; the others on mpirun's own fault handling
        if [ "$m" = fail-hang ]; then t=1; else t=1800; fi
        CF_DIST_TIMEOUT=$t timeout $limit "${mpirun[@]}" -x CF_DIST_TIMEOUT -np 2 "$exe" "$m" >"$work/$m.log" 2>&1
        echo "$? $(($(date +%s) - start))" >"$work/$m.rc"
    ) &
done
wait

fail=0
expect() { # mode, extended regex that the output must contain
    if ! grep -Eq "$2" "$work/$1.log"; then
        echo "FAIL: $1: the output lacks /$2/"
        fail=1
    fi
}
for m in "${modes[@]}"; do
    read -r rc secs <"$work/$m.rc"
    echo "== $m: mpirun exited with $rc after ${secs}s"
    sed 's/^/    /' "$work/$m.log"
    if [ "$rc" -eq 124 ] || [ "$secs" -ge $limit ]; then
        echo "FAIL: $m: the job hung (killed by timeout after ${limit}s)"
        fail=1
    elif [ "$rc" -eq 0 ]; then
        echo "FAIL: $m: mpirun returned 0 although rank 1 failed"
        fail=1
    fi
done
expect fail-abort "cformer: rank 1 of 2 .*injected failure: data shard unreadable at step 3"
expect fail-hang "cformer: rank 0 of 2 .*did not complete within 1 s"
if [ "$openmpi" = 1 ]; then # mpirun's own reports (Open MPI's wording)
    expect fail-exit "Exit code: *3"
    expect fail-kill "rank 1 .*signal 9"
fi
[ $fail -eq 0 ] && echo "test_dist_faults: ok"
exit $fail
