#!/usr/bin/env bash
# Data parallelism through the cformer command: 2 ranks with the recipe's global batch train the same
# curve as 1 process (relative difference < 1e-5 per step), with ZeRO 0 and 1, and a checkpoint written by
# 2 ZeRO ranks resumes on 1 process and continues the same curve.
source "$(dirname "$0")/harness.bash"
needs_hdf5 "${3:-.}"
cformer=$1 src=$2
command -v mpirun >/dev/null || { echo "no mpirun: skipped"; exit 77; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none OMP_NUM_THREADS=1
# Open MPI's own allocations read as leaks to LeakSanitizer in sanitizer builds; our code's leaks are
# caught by the 1-process runs of the other tests.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
export TMPDIR=$tmp # a private Open MPI session directory: runs started together do not collide
mpirun -np 2 true >/dev/null 2>&1 || { echo "mpirun cannot start 2 processes here: skipped"; exit 77; }
recipe=$src/recipes/bench/gpt-small.yaml
sets=(--set model.dim=64 --set model.layers=2 --set model.seq=32 --set log.every=1 --set optim.lr=1e-3
      --set train.threads=1 --set train.batch_size=8 --quiet)
run1() { "$cformer" train "$recipe" "${sets[@]}" "$@" >"$tmp/log" 2>&1 || { echo "1 process failed: $(tail -3 "$tmp/log")"; fail=$((fail + 1)); }; }
run2() { timeout 300 mpirun -np 2 "$cformer" train "$recipe" "${sets[@]}" "$@" >"$tmp/log" 2>&1 || { echo "2 ranks failed: $(tail -3 "$tmp/log")"; fail=$((fail + 1)); }; }
losses() { grep -o '"step": [0-9]*, "loss": [-0-9.e]*' "$1/metrics.jsonl" | sort -u -t: -k2,2n; }
same() { # same steps, relative difference below 1e-5 at each
    if /usr/bin/python3 - "$1" "$2" <<'PY'; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "curves differ: $1 vs $2"; fi
import json, sys
def read(d):
    out = {}
    for line in open(d + "/metrics.jsonl"):
        o = json.loads(line)
        if "loss" in o: out[o["step"]] = o["loss"]
    return out
a, b = read(sys.argv[1]), read(sys.argv[2])
steps = sorted(set(a) & set(b))
assert len(steps) >= 10 and set(a) <= set(b) | set(a), (len(steps))
worst = max(abs(a[s] - b[s]) / abs(a[s]) for s in steps)
print(f"{len(steps)} steps, worst relative difference {worst:.2e}")
sys.exit(0 if worst < 1e-5 else 1)
PY
}
run1 --run-dir "$tmp/one" --steps 20
run2 --run-dir "$tmp/two" --steps 20
same "$tmp/one" "$tmp/two"
run2 --run-dir "$tmp/zero" --steps 20 --set distributed.zero=1
same "$tmp/one" "$tmp/zero"
grep -q "ZeRO" "$tmp/log" 2>/dev/null || true
run2 --run-dir "$tmp/part" --steps 20 --stop-at 8 --set distributed.zero=1
run1 --run-dir "$tmp/part" --steps 20 --resume latest
same "$tmp/one" "$tmp/part"
# a recipe that differs between ranks is refused at start, naming the rank and the key
out=$(timeout 120 mpirun -np 2 bash -c '"$0" train "$1" --steps 2 --quiet --run-dir "$2" --set train.seed=$OMPI_COMM_WORLD_RANK' \
      "$cformer" "$recipe" "$tmp/mismatch" 2>&1) && { echo "mismatched recipes accepted"; fail=$((fail + 1)); }
if echo "$out" | has "rank 1 differs from rank 0.*train.seed: 0 -> 1"; then pass=$((pass + 1)); else
    echo "mismatch message: $out"; fail=$((fail + 1)); fi
# so are command-line options that change the job (here --stop-at), within seconds rather than the collective timeout
t0=$SECONDS
out=$(timeout 120 mpirun -np 1 "$cformer" train "$recipe" "${sets[@]}" --steps 4 --run-dir "$tmp/flags" --stop-at 2 : \
      -np 1 "$cformer" train "$recipe" "${sets[@]}" --steps 4 --run-dir "$tmp/flags" --stop-at 3 2>&1) &&
    { echo "ranks with different --stop-at accepted"; fail=$((fail + 1)); }
if echo "$out" | has "stop_at: 2 -> 3" && [ $((SECONDS - t0)) -lt 60 ]; then pass=$((pass + 1)); else
    echo "option mismatch ($((SECONDS - t0)) s): $out"; fail=$((fail + 1)); fi
# a run directory only rank 0 sees (disks not shared across nodes): every rank resumes from rank 0's checkpoint
# and the curve continues as the uninterrupted 2-rank run's
run2 --run-dir "$tmp/shared" --steps 20 --stop-at 8
cp -r "$tmp/shared" "$tmp/rank0"
timeout 300 mpirun -np 1 "$cformer" train "$recipe" "${sets[@]}" --steps 20 --resume latest --run-dir "$tmp/rank0" : \
    -np 1 "$cformer" train "$recipe" "${sets[@]}" --steps 20 --resume latest --run-dir "$tmp/rank1-empty" >"$tmp/log" 2>&1 ||
    { echo "resume from rank 0's directory failed: $(tail -3 "$tmp/log")"; fail=$((fail + 1)); }
same "$tmp/two" "$tmp/rank0"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
