#!/usr/bin/env bash
# FlatFormer through the cformer command: `cformer data lidar-scenes` writes KITTI files that `data info` reads
# back; the three recipes train two steps from those files (data.source: kitti) and `cformer eval` scores them
# (eval.json carries per-class AP/APH, the padding ratio and the encoder time, and the padded windows pad more
# than FlatFormer's equal groups, which pad only a frame's last group); corrupt scans, labels and calibration
# and a bad recipe key are errors naming the file (or key) and the element; the two benchmarks run and report
# every format and mode.
source "$(dirname "$0")/harness.bash"
needs_hdf5 "${3:-.}"
cformer=$1 rec=$2/recipes/flatformer
export OMP_NUM_THREADS=1

"$cformer" data lidar-scenes -o "$tmp/d" --train 2 --val 1 --test 2 --rings 8 --azimuths 128 >/dev/null 2>&1 ||
    bad "data lidar-scenes"
check test -s "$tmp/d/train/velodyne/000001.bin" -a -s "$tmp/d/test/label_2/000001.txt" -a -s "$tmp/d/val/calib/000000.txt"
out=$("$cformer" data info "$tmp/d/train/velodyne/000000.bin" 2>&1)
[[ $out == *"point cloud, "*" points"* ]] && ok || bad "data info: $out"

small=(--quiet --set train.steps=2 --set train.batch_size=2 --set checkpoint.every=2 --set eval.every=2
       --set eval.batches=1 --set eval.batch_size=2 --set data.source=kitti --set "data.path=$tmp/d")
for name in flatformer window-padded no-shift; do
    "$cformer" train "$rec/$name.yaml" --run-dir "$tmp/$name" "${small[@]}" >"$tmp/$name.log" 2>&1 ||
        { bad "$name: does not train: $(tail -3 "$tmp/$name.log")"; continue; }
    "$cformer" eval --checkpoint "$tmp/$name/checkpoints/step-00000002.h5" --out "$tmp/$name.json" \
        --set data.source=kitti --set "data.path=$tmp/d" --set eval.batch_size=2 >"$tmp/$name.eval.log" 2>&1 ||
        { bad "$name: eval: $(tail -3 "$tmp/$name.eval.log")"; continue; }
done
python3 - "$tmp" <<'PY' && ok || bad "eval.json of the three modes"
import json, sys
e = {n: json.load(open(f"{sys.argv[1]}/{n}.json")) for n in ("flatformer", "window-padded", "no-shift")}
for n, j in e.items():
    assert j["frames"] == 2 and j["encoder_ms_per_frame"] > 0, (n, j)
    for c in ("car", "pedestrian", "cyclist"):
        pc = j["per_class"][c]
        assert (pc["ap"] is None) == (pc["ground_truth"] == 0), (n, c, pc)
        assert pc["ap"] is None or 0 <= pc["aph"] <= pc["ap"] <= 1, (n, c, pc)
# equal groups pad at most G - 1 slots per frame and layer; the padded windows pad every window
assert e["flatformer"]["padding_ratio"] < 0.5 * e["window-padded"]["padding_ratio"], e
assert e["flatformer"]["padding_ratio"] == e["no-shift"]["padding_ratio"] or e["no-shift"]["padding_ratio"] < 0.5, e
PY

# corrupt files: each error names the file and what is wrong
cp -r "$tmp/d" "$tmp/bad"
head -c 100 "$tmp/d/train/velodyne/000001.bin" >"$tmp/bad/train/velodyne/000001.bin"
out=$("$cformer" train "$rec/flatformer.yaml" --run-dir "$tmp/r1" "${small[@]}" --set "data.path=$tmp/bad" 2>&1) &&
    bad "a truncated scan accepted"
[[ $out == *"bad/train/velodyne/000001.bin"*"point 6 is truncated"* ]] && ok || bad "truncated scan: $out"
cp "$tmp/d/train/velodyne/000001.bin" "$tmp/bad/train/velodyne/000001.bin"
sed -i '1s/^\([A-Za-z]*\) /\1 1.5x /' "$tmp/bad/train/label_2/000000.txt"
out=$("$cformer" train "$rec/flatformer.yaml" --run-dir "$tmp/r2" "${small[@]}" --set "data.path=$tmp/bad" 2>&1) &&
    bad "a bad label accepted"
[[ $out == *"bad/train/label_2/000000.txt: line 1"* ]] && ok || bad "bad label: $out"
cp "$tmp/d/train/label_2/000000.txt" "$tmp/bad/train/label_2/000000.txt"
echo "P0: 1 2 3" >"$tmp/bad/train/calib/000001.txt"
out=$("$cformer" train "$rec/flatformer.yaml" --run-dir "$tmp/r3" "${small[@]}" --set "data.path=$tmp/bad" 2>&1) &&
    bad "a bad calibration accepted"
[[ $out == *"bad/train/calib/000001.txt"* ]] && ok || bad "bad calibration: $out"
rm -r "$tmp/bad/train/velodyne"
out=$("$cformer" train "$rec/flatformer.yaml" --run-dir "$tmp/r4" "${small[@]}" --set "data.path=$tmp/bad" 2>&1) &&
    bad "a folder without velodyne/ accepted"
[[ $out == *"bad/train/velodyne"* ]] && ok || bad "no velodyne/: $out"
out=$("$cformer" train "$rec/flatformer.yaml" --run-dir "$tmp/r5" --set model.mode=sst 2>&1) && bad "model.mode sst accepted"
[[ $out == *"model.mode"*"sst"* ]] && ok || bad "bad mode: $out"
out=$("$cformer" train "$rec/flatformer.yaml" --run-dir "$tmp/r6" --set model.stride=3 2>&1) && bad "a stride that does not divide the grid accepted"
[[ $out == *"model.stride"*"80 x 80"* ]] && ok || bad "bad stride: $out"

# the benchmarks
"$cformer" run pointcloud-bench --scenes 1 --repeats 1 --dir "$tmp" --json "$tmp/loader.json" >/dev/null 2>&1 || bad "pointcloud-bench"
"$cformer" run flatformer-encoder-bench --frames 1 --repeats 1 --json "$tmp/enc.json" >/dev/null 2>&1 || bad "encoder bench"
python3 - "$tmp" <<'PY' && ok || bad "benchmark json"
import json, sys
l = json.load(open(f"{sys.argv[1]}/loader.json"))
assert len(l["points_per_second"]) == 7 and all(v > 0 for v in l["points_per_second"].values()), l
e = json.load(open(f"{sys.argv[1]}/enc.json"))
assert e["flatformer"]["padding_ratio"] < e["window-padded"]["padding_ratio"], e
assert abs(e["window-padded"]["speedup_vs_window_padded"] - 1) < 1e-12, e
PY

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
