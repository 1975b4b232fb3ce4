#!/usr/bin/env bash
# Image loader throughput: decoded and augmented images per second through the prefetching loader, on
# Debian's Fashion-MNIST (apt-get install dataset-fashion-mnist), without and with the full augmentation chain,
# and on a PNG ImageFolder tree of its first 4000 test images (decoded with libpng on every read) (random resized crop, flip, mixup/cutmix, label
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
# the PNG tree, written with Python's zlib (no imaging library needed)
/usr/bin/python3 - "$data/t10k-images-idx3-ubyte.gz" "$data/t10k-labels-idx1-ubyte.gz" "$tmp/png" <<'PY'
import gzip, os, struct, sys, zlib
im, lb = gzip.open(sys.argv[1]).read()[16:], gzip.open(sys.argv[2]).read()[8:]
def chunk(t, d): return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d))
for i in range(4000):
    d = os.path.join(sys.argv[3], 'c%d' % lb[i]); os.makedirs(d, exist_ok=True)
    rows = b''.join(b'\0' + im[i * 784 + 28 * y:i * 784 + 28 * y + 28] for y in range(28))
    png = b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', 28, 28, 8, 0, 0, 0, 0)) \
        + chunk(b'IDAT', zlib.compress(rows)) + chunk(b'IEND', b'')
    open(os.path.join(d, '%05d.png' % i), 'wb').write(png)
PY
recipe png-plain folder "$tmp/png" ""
recipe png-aug folder "$tmp/png" "$aug"
for r in idx-plain idx-aug png-plain png-aug; do
    printf '%-10s ' "$r"
    "$cformer" bench loader "$tmp/$r.yaml" --batches "$batches" | tail -1
done
