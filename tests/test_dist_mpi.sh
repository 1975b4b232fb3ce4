#!/usr/bin/env bash
# shellcheck disable=SC2034  # tests/mpi_setup.bash sets variables that only one of the two scripts uses
# Data parallelism under mpirun: collectives and training equivalence on 2 ranks (ZeRO 0 and 1, with and
# without gradient accumulation), then the ZeRO-1 checkpoint the 2 ranks saved resumed by 1 process, then on
# 2 and 3 ranks the piecewise MPI path that flat buffers of 2^31 elements or more take (forced with pieces of
# 7 elements) against the one-call path and an unsharded run.
# Usage (CTest): bash test_dist_mpi.sh <cformer-binary> <source-dir> <build-dir>. Exit 77 = skipped.
set -u
source "$(dirname "$0")/mpi_setup.bash"

ckpt="$work/zero1.h5"
echo "== mpirun -np 2 test_dist_train mpi $ckpt"
(session train && timeout 120 "${mpirun[@]}" -np 2 "$exe" mpi "$ckpt")
rc=$?
if [ $rc -ne 0 ]; then
    [ $rc -eq 124 ] && echo "FAIL: the 2-rank checks timed out (a hang)" || echo "FAIL: the 2-rank checks exited with $rc"
    exit 1
fi
for np in 2 3; do
    echo "== mpirun -np $np test_dist_train pieces"
    (session "pieces$np" && timeout 120 "${mpirun[@]}" -np "$np" "$exe" pieces)
    rc=$?
    if [ $rc -ne 0 ]; then
        [ $rc -eq 124 ] && echo "FAIL: the $np-rank pieces checks timed out (a hang)" ||
            echo "FAIL: the $np-rank pieces checks exited with $rc"
        exit 1
    fi
done
if [ "$hdf5" = 1 ]; then
    echo "== 1 process resumes the 2-rank ZeRO-1 checkpoint"
    timeout 60 "$exe" resume "$ckpt" || { echo "FAIL: resume on 1 rank"; exit 1; }
fi
echo "test_dist_mpi: ok"
