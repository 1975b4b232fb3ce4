#!/usr/bin/env bash
# Data parallelism with the parameters on the CUDA backend (tests/test_dist_device.c) under mpirun: bf16 mixed
# precision over MPI and NCCL on 2 ranks, then ZeRO-1 over NCCL against the unsharded NCCL path on 2 and 3 ranks
# (3: uneven shards). Runs on the SIMT emulator build (CF_CUDA_EMU with MPI) and on a build with NCCL and a GPU
# per rank. Skips (77) without a CUDA backend, without MPI or mpirun, and (the ZeRO-1 part) without NCCL or
# with fewer GPUs than ranks.
# Usage (CTest): bash test_dist_device.sh <cformer-binary> <source-dir> <build-dir>.
set -u
exe="${3:-.}/bin/test_dist_device"
[ -x "$exe" ] || { echo "FAIL: $exe is missing (build the tests first)"; exit 1; }
probe=$("$exe" probe)
case "$probe" in *cuda=1*) ;; *) echo "SKIP: no CUDA backend or device ($probe)"; exit 77 ;; esac
case "$probe" in *mpi=1*) ;; *) echo "SKIP: built without MPI"; exit 77 ;; esac
command -v mpirun >/dev/null 2>&1 || { echo "SKIP: mpirun not found"; exit 77; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
mpirun=(mpirun)
mpirun --version 2>&1 | grep -q "Open MPI" && mpirun+=(--oversubscribe -x OMP_NUM_THREADS -x ASAN_OPTIONS)
work=$(mktemp -d "${TMPDIR:-/tmp}/cf_distdev.XXXXXX")
trap 'rm -rf "$work"' EXIT
session() { mkdir -p "$work/$1" && export TMPDIR="$work/$1" OMPI_MCA_orte_tmpdir_base="$work/$1"; }
# NCCL needs a GPU per rank; the emulator gives each process its own
emulated=0
"$1" list env 2>/dev/null | grep -q "SIMT emulator" && emulated=1
gpus=$(nvidia-smi -L 2>/dev/null | wc -l)
[ "$emulated" = 1 ] && gpus=3
run() { # NP MODE
    echo "== mpirun -np $1 test_dist_device $2"
    (session "$2$1" && timeout 300 "${mpirun[@]}" -np "$1" "$exe" "$2")
    local rc=$?
    [ $rc -eq 0 ] && return 0
    [ $rc -eq 124 ] && echo "FAIL: $2 on $1 ranks timed out (a hang)" || echo "FAIL: $2 on $1 ranks exited with $rc"
    exit 1
}
case "$probe" in
*nccl=1*)
    [ "$gpus" -ge 2 ] || { echo "SKIP: NCCL needs a GPU per rank, $gpus here"; exit 77; }
    run 2 mixed
    run 2 zero
    if [ "$gpus" -ge 3 ]; then run 3 zero; else echo "3 ranks not run: $gpus GPUs"; fi ;;
*)
    run 2 mixed # the MPI path only
    echo "ZeRO-1 on the device not checked: no NCCL in this build" ;;
esac
echo "test_dist_device: ok"
