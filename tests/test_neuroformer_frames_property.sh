#!/usr/bin/env bash
# The paper's property for Neuroformer's frame branch, through the cformer command: on a movie-driven
# circuit (cformer data spikes --movie), a model conditioned on the frames predicts the spikes better
# (lower test ID cross-entropy after the same short training) than the same model without them; and the
# control that shows the comparison can fail: when the same movie is shown but drives nothing (gain 0), the
# frames buy nothing. (The rest of the frame branch's CLI: tests/test_neuroformer_frames_cli.sh.)
source "$(dirname "$0")/harness.bash"
needs_hdf5 "${3:-.}"
cformer=$1 src=$2
rdir=$src/recipes/neuroformer
export OMP_NUM_THREADS=1

# the same 8-unit circuit and 8x8 movie (seed 3), the movie driving the units (gain 5) or nothing (gain 0)
sim=(data spikes --neurons 8 --hubs 0 --seconds 120 --trial-s 10 --movie 8x8 --seed 3)
"$cformer" "${sim[@]}" --movie-gain 5 -o "$tmp/movie.h5" >/dev/null 2>&1 || bad "simulate gain 5"
"$cformer" "${sim[@]}" --movie-gain 0 -o "$tmp/blind.h5" >/dev/null 2>&1 || bad "simulate gain 0"

# with vs without frames, same data, same 100 steps, the test ID cross-entropy of `cformer eval` on the last
# checkpoint (the test split's 240 windows). Sizes for seconds (also under sanitizers): C 16, no
# state or history layers, no dropout, no contrastive term (both models weigh the cross-entropies alike);
# the clip is the last 2 frames read as one Conv3d patch (the receptive fields cover the whole frame).
small=(--set model.dim=16 --set model.heads=2 --set model.state_layers=0 --set model.hist_layers=0 --set model.dropout=0
    --set model.contrastive=false --set train.batch_size=16 --set train.steps=100 --set optim.lr=1e-2 --set optim.warmup=10
    --set data.block_size.id=8 --set data.block_size.prev_id=8 --set data.frames.count=2 --set "model.frame_kernel=[2, 8, 8]"
    --set checkpoint.every=100 --set log.every=100 --set eval.free_seconds=0)
ce() { # data frame_layers -> test_ce_id
    local run=$tmp/run-$(basename "$1" .h5)-$2
    "$cformer" train "$rdir/sim-frames.yaml" --run-dir "$run" --quiet --set "data.path=$1" --set "model.frame_layers=$2" \
        "${small[@]}" >"$run.log" 2>&1 || { bad "train $1 frame_layers=$2: $(tail -2 "$run.log")"; echo nan; return; }
    "$cformer" eval --checkpoint "$run/checkpoints/step-00000100.h5" --out "$run.json" >>"$run.log" 2>&1 ||
        { bad "eval $1 frame_layers=$2: $(tail -2 "$run.log")"; echo nan; return; }
    grep -o '"test_ce_id": [0-9.e-]*' "$run.json" | cut -d' ' -f2
}
with=$(ce "$tmp/movie.h5" 1) without=$(ce "$tmp/movie.h5" 0)
echo "movie-driven circuit: test_ce_id $with with frames, $without without"
# the frames must buy at least 0.03 nats (0.075 here; 0.07 to 0.2 over circuit seeds 3, 5, 6)
if awk -v a="$with" -v b="$without" 'BEGIN { exit !(a == a + 0 && b == b + 0 && a < b - 0.03) }'; then ok; else
    bad "frames did not lower the test ID cross-entropy: $with vs $without"; fi
cwith=$(ce "$tmp/blind.h5" 1) cwithout=$(ce "$tmp/blind.h5" 0)
echo "control (the movie shown, driving nothing): test_ce_id $cwith with frames, $cwithout without"
if awk -v a="$cwith" -v b="$cwithout" 'BEGIN { exit !(a == a + 0 && b == b + 0 && a > b - 0.01) }'; then ok; else
    bad "frames 'helped' where the movie drives nothing: $cwith vs $cwithout"; fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
