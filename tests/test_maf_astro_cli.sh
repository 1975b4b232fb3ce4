#!/usr/bin/env bash
# MAFormer and Astroformer through the cformer command, on the files their generators write:
#  - `cformer data glyphs -o DIR` writes IDX files that data.type: images reads back; maformer.yaml and its two
#    ablations train on them a few steps and `cformer eval` scores them (top-1/5, per-class, 8 x 8 confusion);
#  - `cformer data galaxies -o FILE.h5` writes a Galaxy10-layout HDF5 file that data.format: h5 reads back
#    (images [N, 64, 64, 3], ans [N]); the C-C-C-T, C-C-T-T and ViT recipes train on it and are scored;
#  - fashion-mnist.yaml (test-skipped for its data) trains shrunk when Debian's dataset-fashion-mnist is installed;
#  - generator options are read strictly, and model keys that cannot fit the data are refused by name.
source "$(dirname "$0")/harness.bash"
needs_hdf5 "${3:-.}"
cformer=$1 root=$2
export OMP_NUM_THREADS=1

small=(--quiet --set train.steps=2 --set checkpoint.every=2 --set eval.every=2 --set eval.batches=1
       --set eval.batch_size=8 --set train.batch_size=4 --set log.every=1)
scored() { # eval.json classes
    python3 - "$1" "$2" <<'PY'
import json, sys
e, k = json.load(open(sys.argv[1])), int(sys.argv[2])
assert 0 <= e["top1"] <= e["top5"] <= 1, e
assert len(e["per_class_accuracy"]) == k and len(e["confusion"]) == k and all(len(r) == k for r in e["confusion"]), e
assert sum(map(sum, e["confusion"])) == e["count"] > 0, e
PY
}

# 1. glyphs as IDX files -> the three MAFormer recipes
"$cformer" data glyphs -o "$tmp/glyphs" --train 40 --test 16 --seed 3 >"$tmp/g.log" 2>&1 || bad "data glyphs: $(cat "$tmp/g.log")"
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
    check test -s "$tmp/glyphs/$f"
done
# the recipe with its in-memory data keys swapped for the files' (data.type: images keeps normalisation keys)
on_files() { # recipe out data-keys...
    local src=$1 out=$2
    shift 2
    grep -v -E '^  (train_size|test_size|glyph_seed|galaxy_seed):' "$src" | sed -E 's/^  type: (glyphs|galaxies)$/  type: images/' >"$out"
    printf '%s\n' "$@" | sed 's/^/  /' >"$out.data"
    sed -i "/^  type: images\$/r $out.data" "$out"
}
for r in maformer window-only global-only; do
    on_files "$root/recipes/maformer/$r.yaml" "$tmp/$r.yaml" "format: idx" "path: $tmp/glyphs"
    "$cformer" train "$tmp/$r.yaml" --run-dir "$tmp/$r" "${small[@]}" >"$tmp/$r.log" 2>&1 ||
        { bad "$r on glyph IDX files: $(tail -3 "$tmp/$r.log")"; continue; }
    "$cformer" eval --checkpoint "$tmp/$r/checkpoints/step-00000002.h5" --out "$tmp/$r.json" >"$tmp/$r.eval.log" 2>&1 &&
        scored "$tmp/$r.json" 8 && ok || bad "$r eval: $(tail -3 "$tmp/$r.eval.log")"
done

# 2. galaxies as a Galaxy10-layout HDF5 file -> the three Astroformer recipes
"$cformer" data galaxies -o "$tmp/gal.h5" --n 60 --seed 2 >"$tmp/gal.log" 2>&1 || bad "data galaxies: $(cat "$tmp/gal.log")"
for r in astroformer cctt vit; do
    on_files "$root/recipes/astroformer/$r.yaml" "$tmp/$r.yaml" "format: h5" "path: $tmp/gal.h5" "val_fraction: 0.3"
    "$cformer" train "$tmp/$r.yaml" --run-dir "$tmp/$r" "${small[@]}" >"$tmp/$r.log" 2>&1 ||
        { bad "$r on the galaxies HDF5 file: $(tail -3 "$tmp/$r.log")"; continue; }
    "$cformer" eval --checkpoint "$tmp/$r/checkpoints/step-00000002.h5" --out "$tmp/$r.json" >"$tmp/$r.eval.log" 2>&1 &&
        scored "$tmp/$r.json" 10 && ok || bad "$r eval: $(tail -3 "$tmp/$r.eval.log")"
done

# 3. Fashion-MNIST, when the package is installed: the recipe reads the real files and trains (its evaluation
#    scores all 10000 test images, too long for the suite; the eval path is the one checked above)
if [ -s /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ]; then
    "$cformer" train "$root/recipes/astroformer/fashion-mnist.yaml" --run-dir "$tmp/fm" "${small[@]}" >"$tmp/fm.log" 2>&1 &&
        test -s "$tmp/fm/checkpoints/step-00000002.h5" && ok || bad "fashion-mnist.yaml: $(tail -3 "$tmp/fm.log")"
fi

# 4. refusals: generator options, and an image size the network was not built for
expect_fail() { # what pattern command...
    local what=$1 pat=$2
    shift 2
    out=$("$@" 2>&1) && { bad "$what accepted"; return; }
    echo "$out" | has -- "$pat" && ok || bad "$what: expected '$pat' in: $out"
}
expect_fail "galaxies --n 0" "--n" "$cformer" data galaxies -o "$tmp/x.h5" --n 0
expect_fail "galaxies without -o" "-o" "$cformer" data galaxies --n 5
expect_fail "glyphs --colour" "--colour" "$cformer" data glyphs -o "$tmp/x" --colour
expect_fail "maformer window 5 on 16 x 16" "model" "$cformer" train "$root/recipes/maformer/maformer.yaml" \
    --run-dir "$tmp/e1" "${small[@]}" --set model.window=5
expect_fail "astroformer stages CXT" "model.stages" "$cformer" train "$root/recipes/astroformer/astroformer.yaml" \
    --run-dir "$tmp/e2" "${small[@]}" --set model.stages=CXT

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
