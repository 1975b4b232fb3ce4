#!/usr/bin/env bash
# The image loader beside Astroformer's training step (the loader must never be what the step waits on), in one
# run of tools/bench-images.sh: its Fashion-MNIST throughput table, then for each data source the loader's ms per
# batch and the step's ms at the recipe's own batch size (32) and augmentation:
#   astroformer.yaml           the synthetic galaxies in memory (64 x 64 x 3; flip, mixup 0.2, smoothing 0.1)
#   galaxies-h5.yaml           the same recipe on its Galaxy10-layout HDF5 form (`cformer data galaxies`)
#   galaxies-jpg.yaml          the same on a JPEG ImageFolder of those 2000 images (libjpeg at every read;
#                              needs cjpeg from libjpeg-turbo-progs to write them; 90% of them, the rest is val)
#   fashion-mnist.yaml         Fashion-MNIST's IDX files (Debian's dataset-fashion-mnist), resized to 32 x 32
#   usage: recipes/astroformer/bench-loader.sh [build/bin/cformer] [BATCHES] [WORKDIR]
set -euo pipefail
cformer=${1:-build/bin/cformer}
batches=${2:-200}
here=$(cd "$(dirname "$0")/../.." && pwd)
work=${3:-$(mktemp -d /tmp/cf_bench_astro_XXXXXX)}
mkdir -p "$work"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
src=$here/recipes/astroformer/astroformer.yaml
# the recipe with its in-memory data keys swapped for a file source's (the normalisation and augmentation kept)
on_files() { # out data-keys...
    local out=$1
    shift
    grep -v -E '^  (train_size|test_size|galaxy_seed):' "$src" | sed -E 's/^  type: galaxies$/  type: images/' >"$out"
    printf '  %s\n' "$@" >"$out.data"
    sed -i "/^  type: images\$/r $out.data" "$out"
}
"$cformer" data galaxies -o "$work/gal.h5" --n 2000 --seed 1 >/dev/null
on_files "$work/galaxies-h5.yaml" "format: h5" "path: $work/gal.h5"
recipes=("$src" "$work/galaxies-h5.yaml")
if command -v cjpeg >/dev/null; then
    /usr/bin/python3 - "$work/gal.h5" "$work/jpg/train" <<'PY'
import os, sys
import h5py
with h5py.File(sys.argv[1], "r") as f:
    im, lb = f["images"][()], f["ans"][()]
for i in range(len(lb)):
    d = os.path.join(sys.argv[2], "c%d" % lb[i]); os.makedirs(d, exist_ok=True)
    open(os.path.join(d, "%05d.ppm" % i), "wb").write(b"P6 64 64 255\n" + im[i].tobytes())
PY
    for f in "$work"/jpg/train/*/*.ppm; do cjpeg -quality 90 "$f" >"${f%.ppm}.jpg" && rm "$f"; done
    on_files "$work/galaxies-jpg.yaml" "format: folder" "path: $work/jpg" "height: 64" "width: 64" "channels: 3"
    recipes+=("$work/galaxies-jpg.yaml")
else
    echo "(no cjpeg: the JPEG source is skipped; apt-get install libjpeg-turbo-progs)"
fi
recipes+=("$here/recipes/astroformer/fashion-mnist.yaml")
bash "$here/tools/bench-images.sh" "$cformer" "$batches" "${recipes[@]}"
