# Sourced by tests/test_dist_mpi.sh and tests/test_dist_faults.sh (not a test itself), with their arguments
# "$@" = <cformer-binary> <source-dir> <build-dir>.
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
