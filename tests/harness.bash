# Sourced by the tests/*.sh scripts (it is not a test itself): strict mode, a temporary directory removed on
# exit, and the pass / fail counters each script reports at its end.
#   source "$(dirname "$0")/harness.bash"
set -uo pipefail
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
check() { if "$@"; then ok; else bad "$*"; fi; }
# `cmd | has [grep options] PATTERN`: grep -q that reads all of its input first. A bare `cmd | grep -q` exits at
# the first match, and under pipefail a writer still writing then dies of SIGPIPE and fails the pipeline: a
# check that passes or fails by timing.
has() { local in; in=$(cat); grep -q "$@" <<<"$in"; }
# Exits 77 (CTest: skipped) when the build directory $1 was configured without HDF5: these scripts train and
# evaluate, and checkpoints are HDF5.
# has_hdf5 BUILD: whether the build in BUILD writes checkpoints (for the parts of a script that train)
has_hdf5() { ! grep -q "^CF_HDF5:BOOL=OFF" "$1/CMakeCache.txt" 2>/dev/null; }
needs_hdf5() {
    if ! has_hdf5 "$1"; then
        echo "skipped: this build has no HDF5 (checkpoints need it)"
        exit 77
    fi
}
