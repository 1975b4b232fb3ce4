#!/usr/bin/env bash
# Neuroformer's frame branch through the cformer command: --movie simulations (the movie as an NWB
# ImageSeries, the receptive fields in /simulation), cached generation with frames equal to recomputation,
# the recipes (sim-frames.yaml with the official clip offset, full.yaml's official frame settings shrunk),
# and the errors for a recording without frames, an overlapping frame stride, a frame size other than the
# recipe's and a missing series. (The with/without-frames property: tests/test_neuroformer_frames_property.sh.)
source "$(dirname "$0")/harness.bash"
needs_hdf5 "${3:-.}"
cformer=$1 src=$2
rdir=$src/recipes/neuroformer
export OMP_NUM_THREADS=1

# 1. simulate a movie-driven circuit
out=$("$cformer" data spikes --neurons 8 --hubs 0 --seconds 60 --trial-s 10 --movie 8x8 --seed 3 --movie-gain 4 \
    -o "$tmp/movie.h5" 2>&1) || bad "simulate: $out"
if echo "$out" | has "with a 8x8 movie of 200 frames"; then ok; else bad "simulate output: $out"; fi
"$cformer" simulate spikes --neurons 4 --movie 8 -o "$tmp/x.h5" >/dev/null 2>&1 && bad "--movie 8 accepted" || ok
"$cformer" simulate spikes --neurons 4 --hubs 1 --seconds 10 -o "$tmp/plain.h5" >/dev/null 2>&1 || bad "simulate without a movie"
if /usr/bin/python3 -c "import numpy, h5py" 2>/dev/null; then
    /usr/bin/python3 - "$tmp/movie.h5" <<'PY' && ok || bad "movie file layout"
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r") as f:
    g = f["stimulus/presentation/movie"]
    assert g.attrs["neurodata_type"] == "ImageSeries" and g.attrs["time_reference"] == "trial_start"
    d = g["data"]
    assert d.shape == (200, 8, 8) and d.dtype == np.float32 and np.abs(d[()]).max() < 1
    assert g["starting_time"][()] == 0 and g["starting_time"].attrs["rate"] == 20
    assert f["simulation/receptive_fields"].shape == (8, 8, 8) and f["simulation/movie_gains"].shape == (8,)
    assert f["simulation"].attrs["movie_gain"] == 4
PY
fi

# a short training run with frames to generate from
small=(--set model.dim=16 --set model.heads=2 --set train.batch_size=8 --set data.block_size.id=16
    --set data.block_size.prev_id=24 --set data.frames.count=4 --set eval.free_seconds=0 --set eval.max_windows=60)
run=$tmp/run-movie-1
"$cformer" train "$rdir/sim-frames.yaml" --run-dir "$run" --steps 20 --quiet --set "data.path=$tmp/movie.h5" "${small[@]}" \
    >"$tmp/log" 2>&1 || bad "train: $(tail -2 "$tmp/log")"
"$cformer" eval "$rdir/sim-frames.yaml" --checkpoint "$run/checkpoints/step-00000020.h5" --out "$run.json" \
    --set "data.path=$tmp/movie.h5" "${small[@]}" >"$tmp/log" 2>&1 || bad "eval: $(tail -2 "$tmp/log")"
for k in test_ce_id f1 f1_poisson psth_r conn_auc; do
    if grep -q "\"$k\": [-0-9.]" "$run.json"; then ok; else bad "eval.json lacks $k: $(cat "$run.json")"; fi
done

# 2. generation feeds the frames: the KV cache (frame keys and values made once per window) gives what
#    recomputation gives
g=(spikes generate "$rdir/sim-frames.yaml" --checkpoint "$run/checkpoints/step-00000020.h5" --seconds 1 --seed 4
    --set "data.path=$tmp/movie.h5" "${small[@]}")
"$cformer" "${g[@]}" -o "$tmp/gen1.h5" >"$tmp/g1" 2>&1 || bad "spikes generate: $(tail -2 "$tmp/g1")"
"$cformer" "${g[@]}" -o "$tmp/gen2.h5" --no-cache >"$tmp/g2" 2>&1 || bad "spikes generate --no-cache: $(tail -2 "$tmp/g2")"
if [ -n "$(head -1 "$tmp/g1")" ] && diff <(head -1 "$tmp/g1" | sed 's/ in [0-9.]* s$//') \
    <(head -1 "$tmp/g2" | sed 's/ in [0-9.]* s$//') >/dev/null; then ok; else bad "cache vs recompute: $(cat "$tmp/g1" "$tmp/g2")"; fi
check grep -q "generated 20 windows" "$tmp/g1"

# 3. the recipes: sim-frames.yaml with the official clip offset, and the official sizes shrunk (20 frames,
#    kernel [3, 5, 5]) on the 8x8 movie
"$cformer" train "$rdir/sim-frames.yaml" --run-dir "$tmp/off" --steps 2 --quiet --set "data.path=$tmp/movie.h5" \
    --set data.frames.official_offset=true --set model.dim=16 --set model.heads=2 --set train.batch_size=4 >"$tmp/log" 2>&1 ||
    bad "official offset: $(tail -2 "$tmp/log")"
full=(--set "data.path=$tmp/movie.h5" --set model.dim=16 --set model.heads=2 --set model.state_layers=1 --set model.hist_layers=1
    --set model.beh_layers=1 --set model.final_layers=1 --set model.frame_layers=1 --set "data.frames.size=[8, 8]"
    --set data.block_size.id=24 --set data.block_size.prev_id=24 --set train.batch_size=4 --set log.every=1)
"$cformer" train "$rdir/full.yaml" --run-dir "$tmp/full" --steps 2 "${full[@]}" >"$tmp/log" 2>&1 ||
    bad "full.yaml shrunk: $(tail -3 "$tmp/log")"
check grep -q '"loss_clip"' "$tmp/full/metrics.jsonl"

# 4. errors name what is wrong
out=$("$cformer" train "$rdir/sim-frames.yaml" --steps 1 --set "data.path=$tmp/plain.h5" --quiet 2>&1) && bad "no frames accepted"
if echo "$out" | has "model.frame_layers" && echo "$out" | has "plain.h5: no stimulus frames"; then ok; else
    bad "no-frames message: $out"; fi
out=$("$cformer" train "$rdir/full.yaml" --steps 1 "${full[@]}" --set "model.frame_stride=[3, 4, 4]" --quiet 2>&1) &&
    bad "overlapping stride accepted"
if echo "$out" | has "model.frame_stride"; then ok; else bad "stride message: $out"; fi
out=$("$cformer" train "$rdir/full.yaml" --steps 1 "${full[@]}" --set "data.frames.size=[64, 112]" --quiet 2>&1) &&
    bad "wrong frame size accepted"
if echo "$out" | has "8 x 8 pixels, data.frames.size says 64 x 112"; then ok; else bad "size message: $out"; fi
out=$("$cformer" train "$rdir/sim-frames.yaml" --steps 1 --set "data.path=$tmp/movie.h5" --set data.frames.name=natural --quiet 2>&1) &&
    bad "missing series accepted"
if echo "$out" | has "missing dataset /stimulus/presentation/natural/data"; then ok; else bad "series message: $out"; fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
