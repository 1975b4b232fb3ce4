#!/usr/bin/env bash
# Image loader throughput: decoded and augmented images per second through the prefetching loader, on
# Debian's Fashion-MNIST (apt-get install dataset-fashion-mnist), without and with the full augmentation chain
# (random resized crop, flip, mixup/cutmix, label smoothing), and on PNG and JPEG ImageFolder trees of its first
# 4000 test images (decoded with libpng / libjpeg on every read; the JPEG rows need cjpeg, from
# libjpeg-turbo-progs, to write the files, and are skipped without it).
# Then, for each RECIPE given, the loader beside the training step, at the recipe's own batch size and
# augmentation: the loader's ms per batch (`cformer bench loader`, an empty step), the step's ms (`cformer bench
# train --steps CF_BENCH_STEPS`, default 20, after 3 warm-up steps; the step includes getting its batch), the
# ms per step the step spent in cf_loader_next and the batches that were not ready when asked for. The loader
# keeps up when its batch_ms is below the step's and no batch is late.
#   usage: tools/bench-images.sh [CFORMER] [BATCHES] [RECIPE...]
set -euo pipefail
cformer=${1:-build/bin/cformer}
batches=${2:-200}
shift $(($# < 2 ? $# : 2))
steps=${CF_BENCH_STEPS:-20}
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
# the PNG tree, written with Python's zlib (no imaging library needed), and the JPEG tree through cjpeg
jpeg=$(command -v cjpeg || true)
/usr/bin/python3 - "$data/t10k-images-idx3-ubyte.gz" "$data/t10k-labels-idx1-ubyte.gz" "$tmp/png" "${jpeg:+$tmp/jpg}" <<'PY'
import gzip, os, struct, sys, zlib
im, lb = gzip.open(sys.argv[1]).read()[16:], gzip.open(sys.argv[2]).read()[8:]
def chunk(t, d): return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d))
for i in range(4000):
    d = os.path.join(sys.argv[3], 'c%d' % lb[i]); os.makedirs(d, exist_ok=True)
    rows = b''.join(b'\0' + im[i * 784 + 28 * y:i * 784 + 28 * y + 28] for y in range(28))
    png = b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', 28, 28, 8, 0, 0, 0, 0)) \
        + chunk(b'IDAT', zlib.compress(rows)) + chunk(b'IEND', b'')
    open(os.path.join(d, '%05d.png' % i), 'wb').write(png)
    if sys.argv[4]:  # a PGM beside, for cjpeg
        d = os.path.join(sys.argv[4], 'c%d' % lb[i]); os.makedirs(d, exist_ok=True)
        open(os.path.join(d, '%05d.pgm' % i), 'wb').write(b'P5 28 28 255\n' + im[i * 784:(i + 1) * 784])
PY
recipe png-plain folder "$tmp/png" ""
recipe png-aug folder "$tmp/png" "$aug"
rows=(idx-plain idx-aug png-plain png-aug)
if [ -n "$jpeg" ]; then
    for f in "$tmp"/jpg/*/*.pgm; do "$jpeg" -quality 90 "$f" >"${f%.pgm}.jpg" && rm "$f"; done
    recipe jpg-plain folder "$tmp/jpg" ""
    recipe jpg-aug folder "$tmp/jpg" "$aug"
    rows+=(jpg-plain jpg-aug)
else
    echo "(no cjpeg: the JPEG rows are skipped; apt-get install libjpeg-turbo-progs)"
fi
for r in "${rows[@]}"; do
    printf '%-10s ' "$r"
    "$cformer" bench loader "$tmp/$r.yaml" --batches "$batches" | tail -1
done

# the loader beside the step, per recipe
[ $# -gt 0 ] && printf '\n%-24s %8s %10s %10s %9s %12s %s\n' recipe batch loader_ms step_ms ratio wait_ms late
for r in "$@"; do
    bs=$(sed -n '/^train:/,/^[a-z]/s/^  batch_size: *\([0-9]*\).*/\1/p' "$r" | head -1)
    lo=$("$cformer" bench loader "$r" --batches "$batches" | tail -1)
    tr=$("$cformer" bench train "$r" --steps "$steps" 2>&1) || { echo "$r: bench train failed: $tr" >&2; exit 1; }
    lms=$(sed 's/.*batch_ms=\([0-9.]*\).*/\1/' <<<"$lo")
    sms=$(tail -1 <<<"$tr" | sed 's/.*step_ms=\([0-9.]*\).*/\1/')
    wait=$(grep '^data loader:' <<<"$tr" | sed 's/^data loader: \([0-9.]*\) ms per step.*; \([0-9]*\) of \([0-9]*\) batches.*/\1 \2\/\3/')
    printf '%-24s %8s %10s %10s %9s %12s %s\n' "$(basename "$r")" "${bs:-32}" "$lms" "$sms" \
        "$(awk -v a="$lms" -v b="$sms" 'BEGIN { printf "%.3f", a / b }')" ${wait}
done
