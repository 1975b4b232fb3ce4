#!/usr/bin/env bash
# shellcheck disable=SC2034  # tests/mpi_setup.bash sets variables that only one of the two scripts uses
# Faults end the whole job, non-zero, in bounded time -- never a hang. 2 ranks train; at step 3 rank 1
#   fail-exit:  exits with status 3           (mpirun kills the job when a rank exits non-zero)
#   fail-kill:  is killed by SIGKILL           (mpirun notices the signal)
#   fail-abort: calls cf_pg_abort with a cause (MPI_Abort; the message names rank 1 and the cause)
#   fail-hang:  sleeps 120 s                   (rank 0's collective deadline, CF_DIST_TIMEOUT=1, aborts)
# The four jobs run concurrently to keep the test short. Exit 77 = skipped (no mpirun / no MPI).
set -u
source "$(dirname "$0")/mpi_setup.bash"

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
