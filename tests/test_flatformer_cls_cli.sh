#!/usr/bin/env bash
# FlatFormer's point-cloud classifier through the cformer command: `cformer data primitives` writes ModelNet40's
# HDF5 layout (data float32 [N, P, 3], label uint8 [N, 1]) that `data info` describes; the three primitive
# recipes train two steps from those files (data.source: h5) and from the in-memory generator, `cformer eval`
# writes accuracy, per-class accuracy and the confusion matrix (and the padded windows pad more than the equal
# groups); bad files and keys are errors naming the file (and dataset) or the key.
source "$(dirname "$0")/harness.bash"
needs_hdf5 "${3:-.}"
cformer=$1 rec=$2/recipes/flatformer
export OMP_NUM_THREADS=1

mkdir -p "$tmp/d"
for s in train:12:3 val:6:4 test:12:5; do
    IFS=: read -r split n seed <<<"$s"
    "$cformer" data primitives -o "$tmp/d/prim_$split.h5" --count "$n" --points 128 --seed "$seed" >/dev/null 2>&1 ||
        bad "data primitives $split"
done
out=$("$cformer" data info "$tmp/d/prim_train.h5" 2>&1)
[[ $out == *"point-cloud classification set, 12 clouds of 128 points, classes 0..5"* && $out == *"torus"*": 2"* ]] && ok ||
    bad "data info: $out"
python3 - "$tmp/d/prim_train.h5" <<'PY' && ok || bad "the file's layout"
import sys
try:
    import h5py
except ImportError:
    sys.exit(0)
f = h5py.File(sys.argv[1], "r")
assert f["data"].shape == (12, 128, 3) and f["data"].dtype == "float32", f["data"]
assert f["label"].shape == (12, 1) and f["label"].dtype == "uint8", f["label"]
assert list(f["label"][:, 0]) == [0, 1, 2, 3, 4, 5] * 2
assert abs(f["data"][()]).max() < 1
PY

small=(--quiet --set train.steps=2 --set train.batch_size=4 --set checkpoint.every=2 --set eval.every=2
       --set eval.batches=1 --set eval.batch_size=6 --set data.points=128)
files=(--set data.source=h5 --set "data.path=$tmp/d" --set data.classes=6)
for name in primitives primitives-window-padded primitives-no-shift; do
    "$cformer" train "$rec/$name.yaml" --run-dir "$tmp/$name" "${small[@]}" "${files[@]}" >"$tmp/$name.log" 2>&1 ||
        { bad "$name: does not train: $(tail -3 "$tmp/$name.log")"; continue; }
    "$cformer" eval --checkpoint "$tmp/$name/checkpoints/step-00000002.h5" --out "$tmp/$name.json" \
        "${files[@]}" --set data.points=128 --set eval.batch_size=6 >"$tmp/$name.eval.log" 2>&1 ||
        { bad "$name: eval: $(tail -3 "$tmp/$name.eval.log")"; continue; }
done
python3 - "$tmp" <<'PY' && ok || bad "eval.json of the three modes"
import json, sys
e = {n: json.load(open(f"{sys.argv[1]}/{n}.json")) for n in ("primitives", "primitives-window-padded", "primitives-no-shift")}
for n, j in e.items():
    assert j["clouds"] == 12 and j["count"] == 12 and j["encoder_ms_per_cloud"] > 0, (n, j)
    assert 0 <= j["accuracy"] <= 1 and j["accuracy"] == j["top1"], (n, j)
    pc = j["per_class_accuracy"]
    assert len(pc) == 6 and all(0 <= a <= 1 for a in pc), (n, pc)
    # from files the classes have no names; each class has 2 of the 12 clouds
    assert abs(sum(pc) / 6 - j["accuracy"]) < 1e-9 and j["acc_class_3"] == pc[3], (n, j)
    assert sum(map(sum, j["confusion"])) == 12 and all(sum(r) == 2 for r in j["confusion"]), (n, j["confusion"])
assert e["primitives"]["padding_ratio"] < 0.5 * e["primitives-window-padded"]["padding_ratio"], e
PY

# the in-memory generator: class names in eval.json
"$cformer" train "$rec/primitives.yaml" --run-dir "$tmp/mem" "${small[@]}" --set data.samples.train=8 \
    --set data.samples.val=6 --set data.samples.test=6 >"$tmp/mem.log" 2>&1 || bad "primitives in memory: $(tail -3 "$tmp/mem.log")"
"$cformer" eval --checkpoint "$tmp/mem/checkpoints/step-00000002.h5" --out "$tmp/mem.json" --set data.points=128 \
    --set data.samples.test=6 >/dev/null 2>&1 || bad "eval in memory"
python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); assert j["clouds"] == 6 and all(f"acc_{c}" in j for c in ("cube", "sphere", "cylinder", "cone", "torus", "pyramid")), j' \
    "$tmp/mem.json" && ok || bad "eval.json in memory"

# bad files and keys
mkdir -p "$tmp/bad"
cp "$tmp/d/"*.h5 "$tmp/bad/"
out=$("$cformer" train "$rec/primitives.yaml" --run-dir "$tmp/r1" "${small[@]}" "${files[@]}" --set "data.path=$tmp/bad" --set data.classes=4 2>&1) &&
    bad "labels beyond data.classes accepted"
[[ $out == *"bad/prim_train.h5: dataset 'label': item 4 has class 4, outside [0, 4)"* ]] && ok || bad "labels out of range: $out"
out=$("$cformer" train "$rec/primitives.yaml" --run-dir "$tmp/r2" "${small[@]}" "${files[@]}" --set data.points=256 2>&1) &&
    bad "data.points beyond the file accepted"
[[ $out == *"prim_train.h5: dataset 'data' holds 128 points per cloud, fewer than data.points = 256"* ]] && ok || bad "too few points: $out"
head -c 300 "$tmp/d/prim_test.h5" >"$tmp/bad/prim_test.h5"
out=$("$cformer" eval --checkpoint "$tmp/primitives/checkpoints/step-00000002.h5" --out "$tmp/x.json" "${files[@]}" \
    --set "data.path=$tmp/bad" --set data.points=128 2>&1) && bad "a truncated file accepted"
[[ $out == *"bad/prim_test.h5"* ]] && ok || bad "truncated file: $out"
rm "$tmp/bad/prim_val.h5"
out=$("$cformer" train "$rec/primitives.yaml" --run-dir "$tmp/r3" "${small[@]}" "${files[@]}" --set "data.path=$tmp/bad" 2>&1) &&
    bad "a folder without a val file accepted"
[[ $out == *"bad: no .h5 file whose name contains 'val'"* ]] && ok || bad "no val file: $out"
out=$("$cformer" train "$rec/primitives.yaml" --run-dir "$tmp/r4" --set data.source=modelnet 2>&1) && bad "data.source modelnet accepted"
[[ $out == *"data.source"*"modelnet"* ]] && ok || bad "bad source: $out"
out=$("$cformer" data primitives --count 0 -o "$tmp/x.h5" 2>&1); rc=$?
[[ $rc == 2 && $out == *"--count"* ]] && ok || bad "--count 0: $rc $out"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
