#!/usr/bin/env bash
# Image loader throughput: decoded and augmented images per second through the prefetching loader, on
# Debian's Fashion-MNIST (apt-get install dataset-fashion-mnist), without and with the full augmentation chain (random resized crop, flip, mixup/cutmix, label
# smoothing). Set the numbers beside a training step's time (`cformer bench train`): the loader keeps up
# when batch_ms here is below the step's.
#   usage: tools/bench-images.sh [CFORMER] [BATCHES]
set -euo pipefail
cformer=${1:-build/bin/cformer}
batches=${2:-200}
data=${CF_FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
[ -f "$data/train-images-idx3-ubyte.gz" ] || { echo "bench-images: no Fashion-MNIST in $data" >&2; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

aug='  augment:
    crop: true
    scale: [0.35, 1.0]
    flip: true
    mixup: 0.2
    cutmix: 1.0
    mix_prob: 0.5
    smoothing: 0.1'
recipe() { # name format path extra-data-lines
    printf 'data:\n  type: images\n  format: %s\n  path: %s\n  height: 28\n  width: 28\n  channels: 1\n  mean: 0.286\n  std: 0.353\n%s\ntrain:\n  batch_size: 128\n' \
        "$2" "$3" "$4" >"$tmp/$1.yaml"
}
recipe idx-plain idx "$data" ""
recipe idx-aug idx "$data" "$aug"
for r in idx-plain idx-aug; do
    printf '%-10s ' "$r"
    "$cformer" bench loader "$tmp/$r.yaml" --batches "$batches" | tail -1
done
