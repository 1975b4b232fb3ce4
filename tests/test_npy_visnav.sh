#!/usr/bin/env bash
# The official Neuroformer Visnav layout through the cformer command: a tiny directory written by numpy's
# np.save (spikerates_dt_0.01.npy [N, T] as float64 with a few non-integer counts, behaviour at 0.05 s,
# stimulus.npy [n, 1, h, w] at 20 Hz, a sel.csv of 1-based neurons) as data.path for `recipe check` and
# 2-step trainings of sim-pretrain.yaml and sim-frames.yaml (frame size and kernel shrunk to fit), plus the
# errors for a directory without spike rates and for negative counts. Skipped without numpy.
source "$(dirname "$0")/harness.bash"
needs_hdf5 "${3:-.}"
cformer=$1 src=$2
rdir=$src/recipes/neuroformer
export OMP_NUM_THREADS=1
if ! /usr/bin/python3 -c "import numpy" 2>/dev/null; then
    echo "skipped: /usr/bin/python3 has no numpy"
    exit 77
fi

vn=$tmp/visnav
mkdir -p "$vn"
/usr/bin/python3 - "$vn" <<'PY' || bad "writing the Visnav directory"
import sys, numpy as np
d = sys.argv[1]
rng = np.random.default_rng(0)
N, T = 12, 6000  # 60 s of 10 ms bins
rates = rng.poisson(0.08, size=(N, T)).astype(np.float64)
rates[0, :5] = 0.6  # rounds up, with a note
np.save(f"{d}/spikerates_dt_0.01.npy", rates)
nb = T // 5
np.save(f"{d}/behavior_speed_dt_0.05.npy", rng.random(nb).astype(np.float32))
np.save(f"{d}/phi_dt_0.05.npy", np.linspace(0, 6.28, nb))
np.save(f"{d}/th_dt_0.05.npy", np.cos(np.linspace(0, 30, nb)))
np.save(f"{d}/stimulus.npy", rng.random((1200, 1, 8, 8)).astype(np.float32))
with open(f"{d}/sel_lateral.csv", "w") as f:
    f.write("neuron\n" + "\n".join(str(i) for i in range(1, 11)) + "\n")
PY

small=(--set "data.path=$vn" --set model.dim=16 --set model.heads=2 --set train.batch_size=4
    --set data.block_size.id=16 --set data.block_size.prev_id=24)
out=$("$cformer" recipe check "$rdir/sim-pretrain.yaml" "${small[@]}" 2>&1) || bad "recipe check: $out"
"$cformer" train "$rdir/sim-pretrain.yaml" --run-dir "$tmp/run" --steps 2 --quiet "${small[@]}" >"$tmp/log" 2>&1 ||
    bad "train: $(tail -3 "$tmp/log")"
check test -f "$tmp/run/checkpoints/step-00000002.h5"
if grep -q "counts were not integers and were rounded" "$tmp/log"; then ok; else bad "no rounding note: $(tail -3 "$tmp/log")"; fi
# with frames: 8 frames of 8 x 8 pixels, Conv3d patches 2 x 4 x 4
"$cformer" train "$rdir/sim-frames.yaml" --run-dir "$tmp/frames" --steps 2 --quiet "${small[@]}" \
    --set data.frames.count=8 --set "model.frame_kernel=[2, 4, 4]" --set "data.frames.size=[8, 8]" >"$tmp/log" 2>&1 ||
    bad "train with frames: $(tail -3 "$tmp/log")"
check test -f "$tmp/frames/checkpoints/step-00000002.h5"

# errors: a directory without spike rates, negative counts
mkdir -p "$tmp/empty"
out=$("$cformer" recipe check "$rdir/sim-pretrain.yaml" --set "data.path=$tmp/empty" 2>&1) && bad "empty directory accepted"
if echo "$out" | has "empty: no spikerates_dt_<dt>.npy"; then ok; else bad "empty message: $out"; fi
/usr/bin/python3 -c "
import sys, numpy as np
r = np.load(sys.argv[1]); r[3, 7] = -2; np.save(sys.argv[1], r)" "$vn/spikerates_dt_0.01.npy" || bad "rewrite"
out=$("$cformer" recipe check "$rdir/sim-pretrain.yaml" "${small[@]}" 2>&1) && bad "negative count accepted"
if echo "$out" | has "negative count -2 at neuron 3 (0-based), bin 7"; then ok; else bad "negative message: $out"; fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
