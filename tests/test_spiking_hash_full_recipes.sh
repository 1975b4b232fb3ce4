#!/usr/bin/env bash
# The full-size recipes of LMUFormer (recipes/lmuformer/speech-commands.yaml, both variants) and EcoFormer
# (recipes/ecoformer/lra-image.yaml) need data that is not in the repository, so the recipe runner skips them:
# every key they set is validated here by `cformer recipe check` (which builds the model with shapes only) with
# shrinking overrides on tiny generated data in the recipes' data layouts, and without data each names the
# file it misses.
source "$(dirname "$0")/harness.bash"
cformer=$1 src=$2
lmu=$src/recipes/lmuformer/speech-commands.yaml eco=$src/recipes/ecoformer/lra-image.yaml

for f in "$lmu" "$eco"; do
    head -1 "$f" | has '^# cformer-test: skip (' && ok || bad "$f: no skip line with a reason"
done

# LMUFormer: 35 classes like Speech Commands v2, 12 mels x 16 frames
"$cformer" data kws --out "$tmp/kws" --classes 35 --mels 12 --frames 16 --train 12 --val 4 --test 4 --shift 2 \
    >/dev/null || bad "data kws"
for v in lmuformer spiking; do
    out=$("$cformer" recipe check "$lmu" --set data.path="$tmp/kws" --set model.mels=12 --set model.dim=8 \
          --set model.theta=16 --set model.variant=$v --set train.batch_size=4 --set eval.batches=1 2>&1)
    [ $? -eq 0 ] && ok || bad "speech-commands.yaml ($v) shrunk: $out"
    echo "$out" | head -1 | has "ok (" && ok || bad "speech-commands.yaml ($v): $out"
done
out=$("$cformer" recipe check "$lmu" --set data.path="$tmp/none" --set model.dim=8 2>&1) && bad "missing data accepted"
echo "$out" | has "$tmp/none/train.npy" && ok || bad "missing-data message: $out"

# EcoFormer: 8 x 8 shapes in the LRA TSV layout
"$cformer" data lra-shapes --size 8 --train 12 --val 4 --test 4 -o "$tmp/lra" >/dev/null || bad "data lra-shapes"
out=$("$cformer" recipe check "$eco" --set data.path="$tmp/lra" --set data.size=8 --set model.dim=8 \
      --set model.anchors=6 --set model.topk=3 --set model.hash_rows=2 --set train.batch_size=4 2>&1)
[ $? -eq 0 ] && ok || bad "lra-image.yaml shrunk: $out"
echo "$out" | head -1 | has "ok (" && ok || bad "lra-image.yaml: $out"
out=$("$cformer" recipe check "$eco" --set data.path="$tmp/none" --set data.size=8 --set model.dim=8 \
      --set model.anchors=6 --set model.topk=3 2>&1) && bad "missing LRA data accepted"
echo "$out" | has "shapes8_train.tsv" && ok || bad "missing-LRA message: $out"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
