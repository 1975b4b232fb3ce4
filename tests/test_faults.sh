#!/usr/bin/env bash
# Nothing saved is lost and nothing goes wrong silently, tried the way a careless user or a cluster would:
# a used run directory, two jobs on one directory, SIGTERM / SIGUSR1 (a time limit, a preemption), kill -9
# during checkpointing, a loss or gradient that turns non-finite, outputs named like their inputs, a resume
# from the middle of another trajectory, and a full disk (a small tmpfs, when this user may mount one).
source "$(dirname "$0")/harness.bash"
needs_hdf5 "${3:-.}"
cformer=$1 src=$2
export OMP_NUM_THREADS=1

recipe=$src/recipes/gpt/village-bytes.yaml
sizes=(--set model.dim=32 --set model.layers=1 --set model.seq=32 --set train.batch_size=4 --set log.every=1)
small=("${sizes[@]}" --quiet)
# (started in the background, cformer itself must be the job, so that signals reach it: no function around it)
train() { "$cformer" train "$recipe" "${small[@]}" "$@"; }
steps() { ls "$1"/checkpoints/ 2>/dev/null | grep -c '^step-.*\.h5$'; }
logged() { cat "$1/metrics.jsonl" 2>/dev/null | grep -c '"loss"'; } # training lines logged so far

# 1. a fresh run refuses a directory that holds an earlier run; --overwrite starts over; --resume continues
train --run-dir "$tmp/a" --steps 4 >/dev/null 2>&1 || bad "first run"
out=$(train --run-dir "$tmp/a" --steps 4 2>&1) && bad "a fresh run into a used directory was accepted"
echo "$out" | has "holds an earlier run.*--resume latest.*--overwrite" && ok || bad "used-directory message: $out"
check test -f "$tmp/a/checkpoints/step-00000004.h5" # the earlier run is untouched
train --run-dir "$tmp/a" --steps 4 --stop-at 2 --overwrite >/dev/null 2>&1 || bad "--overwrite"
[ "$(steps "$tmp/a")" = 1 ] && check test -f "$tmp/a/checkpoints/step-00000002.h5" || bad "--overwrite left $(ls "$tmp/a/checkpoints")"
train --run-dir "$tmp/a" --steps 4 --resume latest >/dev/null 2>&1 || bad "resume after overwrite"
check test -f "$tmp/a/checkpoints/step-00000004.h5"

# 2. a resume that changes the trajectory (here train.steps, and with it the schedule) is refused, naming the keys;
#    --allow-recipe-change lets it through
out=$(train --run-dir "$tmp/a" --steps 6 --resume latest 2>&1) && bad "a resume with another train.steps was accepted"
echo "$out" | has "train.steps: 4 -> 6.*--allow-recipe-change" && ok || bad "recipe-change message: $out"
train --run-dir "$tmp/a2" --steps 4 --stop-at 2 >/dev/null 2>&1 || bad "a2"
train --run-dir "$tmp/a2" --steps 6 --set optim.decay_steps=4 --resume latest --allow-recipe-change >/dev/null 2>&1 ||
    bad "--allow-recipe-change"
#    and a resume from an earlier checkpoint into a directory with later ones would mix two trajectories
out=$(train --run-dir "$tmp/a" --steps 4 --resume "$tmp/a/checkpoints/step-00000002.h5" 2>&1) && bad "mixed resume accepted"
echo "$out" | has "later step of another run" && ok || bad "mixed resume message: $out"

# 3. two jobs on one directory: the second is refused, naming the first
"$cformer" train "$recipe" "${small[@]}" --run-dir "$tmp/b" --steps 100000 >/dev/null 2>&1 &
first=$!
for _ in $(seq 100); do grep -q pid "$tmp/b/lock" 2>/dev/null && break; sleep 0.1; done
out=$(train --run-dir "$tmp/b" --steps 4 --resume latest 2>&1) && bad "a second job on a locked directory ran"
echo "$out" | has "in use by another run (host .*, pid $first" && ok || bad "lock message: $out"

# 4. SIGTERM ends the first job after its step with a checkpoint and exit code 75; --resume latest continues
#    bit-exactly: the same losses as a run that was never stopped
for _ in $(seq 100); do [ "$(logged "$tmp/b")" -ge 3 ] && break; sleep 0.1; done
kill -TERM "$first"
wait "$first"
rc=$?
[ $rc = 75 ] && ok || bad "SIGTERM exit code $rc (want 75)"
n=$(steps "$tmp/b")
[ "$n" -ge 1 ] && ok || bad "no checkpoint after SIGTERM"
last=$(ls "$tmp/b/checkpoints" | tail -n 1 | sed 's/step-0*\([0-9]*\).h5/\1/')
target=$((last + 3))
train --run-dir "$tmp/b" --steps 100000 --stop-at $target --resume latest >/dev/null 2>&1 || bad "resume after SIGTERM"
train --run-dir "$tmp/ref" --steps 100000 --stop-at $target >/dev/null 2>&1 || bad "reference run"
loss_at() { grep -o "\"step\": $2, \"loss\": [-0-9.e]*" "$1/metrics.jsonl" | tail -n 1; }
[ -n "$(loss_at "$tmp/ref" $target)" ] && [ "$(loss_at "$tmp/b" $target)" = "$(loss_at "$tmp/ref" $target)" ] && ok ||
    bad "after SIGTERM + resume, step $target: $(loss_at "$tmp/b" $target) vs $(loss_at "$tmp/ref" $target)"
# SIGUSR1 (Slurm's --signal) too
"$cformer" train "$recipe" "${small[@]}" --run-dir "$tmp/u" --steps 100000 >/dev/null 2>&1 &
pid=$!
for _ in $(seq 100); do [ "$(logged "$tmp/u")" -ge 2 ] && break; sleep 0.1; done
kill -USR1 $pid
wait $pid
rc=$?
[ $rc = 75 ] && [ "$(steps "$tmp/u")" -ge 1 ] && ok || bad "SIGUSR1: exit $rc, $(steps "$tmp/u") checkpoints"

# 5. kill -9 while checkpointing every step: every checkpoint left loads, and the next start removes the
#    temporary files of the dead processes
for i in 1 2 3 4 5; do
    "$cformer" train "$recipe" "${small[@]}" --run-dir "$tmp/k" --steps 100000 --set checkpoint.every=1 \
        --set checkpoint.keep=2 $([ $i -gt 1 ] && echo --resume latest) >/dev/null 2>&1 &
    pid=$!
    # the first start is killed only after its first checkpoint (start-up alone can take seconds on a loaded
    # machine); then at a random moment of the checkpointing
    for _ in $(seq 300); do compgen -G "$tmp/k/checkpoints/step-*.h5" >/dev/null && break; sleep 0.1; done
    sleep "0.$((RANDOM % 9 + 3))"
    kill -9 $pid
    wait $pid 2>/dev/null
done
compgen -G "$tmp/k/checkpoints/step-*.h5" >/dev/null && ok || bad "kill -9: no checkpoint was written"
for c in "$tmp"/k/checkpoints/step-*.h5; do
    "$cformer" inspect "$c" >/dev/null 2>&1 && ok || bad "a checkpoint left by kill -9 does not load: $c"
done
touch "$tmp/k/checkpoints/step-00000099.h5.tmp.999999" # a dead process's temporary file
train --run-dir "$tmp/k" --steps 1 --resume latest --set train.steps=100000 --stop-at 1 >/dev/null 2>&1
check test ! -e "$tmp/k/checkpoints/step-00000099.h5.tmp.999999"

# 6. a loss that turns non-finite: stop (the default) ends the run and keeps the last good checkpoint;
#    skip drops those steps and counts them; a checkpoint is never written from non-finite weights
blow=(--set optim.type=sgd --set optim.lr=10 --set optim.momentum=0.99 --set optim.clip=0 --set optim.warmup=0 --set optim.schedule=constant
      --set checkpoint.every=1)
out=$(train --run-dir "$tmp/n" --steps 40 "${blow[@]}" 2>&1) && bad "a non-finite run exited 0"
echo "$out" | has "is -\?\(nan\|inf\); the weights were not updated" && ok || bad "non-finite message: $out"
for c in "$tmp"/n/checkpoints/step-*.h5; do
    [ -e "$c" ] || continue
    "$cformer" eval "$recipe" --checkpoint "$c" --out "$tmp/n.json" "${sizes[@]}" >/dev/null 2>&1 && ok ||
        bad "a checkpoint of the blown-up run does not evaluate: $c"
done
out=$(train --run-dir "$tmp/s" --steps 40 "${blow[@]}" --set train.nonfinite=skip 2>&1) || bad "skip mode failed: $out"
grep -q '"nonfinite_skipped"' "$tmp/s/metrics.jsonl" && ok || bad "skipped steps are not counted in metrics.jsonl"
for c in "$tmp"/s/checkpoints/step-*.h5; do
    "$cformer" eval "$recipe" --checkpoint "$c" --out "$tmp/s.json" "${sizes[@]}" >/dev/null 2>&1 && ok ||
        bad "a checkpoint of the skip run does not evaluate: $c"
done
out=$(train --run-dir "$tmp/x" --steps 3 --set train.nonfinite=sometimes 2>&1) && bad "train.nonfinite: sometimes accepted"
echo "$out" | has "train.nonfinite: unknown value 'sometimes'" && ok || bad "nonfinite key message: $out"

# 7. eval refuses non-finite weights, naming the tensor (a checkpoint damaged outside cformer, with valid checksums)
ck=$tmp/a/checkpoints/step-00000004.h5
if /usr/bin/python3 -c "import h5py" 2>/dev/null; then
    cp "$ck" "$tmp/nan.h5"
    /usr/bin/python3 -c "
import h5py, numpy as np, sys
with h5py.File(sys.argv[1], 'r+') as f:
    d = f['model/ln_f.weight']; v = d[()]; v[0] = np.nan; d[...] = v
" "$tmp/nan.h5" || bad "h5py edit"
    out=$("$cformer" eval --checkpoint "$tmp/nan.h5" --out "$tmp/nan.json" 2>&1) && bad "eval of NaN weights exited 0"
    echo "$out" | has "parameter ln_f.weight holds 1 non-finite value" && ok || bad "NaN weights message: $out"
fi

# 8. outputs never replace inputs
cp "$ck" "$tmp/keep.h5"
out=$("$cformer" export "$tmp/keep.h5" --format safetensors -o "$tmp/keep.h5" 2>&1) && bad "export -o CKPT accepted"
echo "$out" | has "is the checkpoint being exported" && ok || bad "export message: $out"
out=$("$cformer" eval --checkpoint "$tmp/keep.h5" --out "$tmp/keep.h5" 2>&1) && bad "eval --out CKPT accepted"
echo "$out" | has "is the checkpoint being evaluated" && ok || bad "eval message: $out"
check cmp -s "$ck" "$tmp/keep.h5"

# 9. a full disk: the write fails with a clear message and the checkpoints already saved stay loadable
if mkdir -p "$tmp/full" && mount -t tmpfs -o size=300k tmpfs "$tmp/full" 2>/dev/null; then
    out=$(train --run-dir "$tmp/full/r" --steps 200 --set checkpoint.every=1 --set checkpoint.keep=100 2>&1) &&
        bad "a run on a full disk exited 0"
    echo "$out" | has -i "no space left on device" && ok || bad "full-disk message: $out"
    for c in "$tmp"/full/r/checkpoints/step-*.h5; do
        [ -e "$c" ] || continue
        "$cformer" inspect "$c" >/dev/null 2>&1 && ok || bad "a checkpoint on the full disk does not load: $c"
    done
    ls "$tmp"/full/r/checkpoints/ | has '\.tmp\.' && bad "temporary files left on the full disk" || ok
    umount "$tmp/full"
else
    echo "note: cannot mount a tmpfs here; the full-disk case is skipped"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
