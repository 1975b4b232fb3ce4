#!/usr/bin/env bash
# Keyformer's cost claim at our size: decode tokens/s (wall and per CPU-second, the prompt pass timed apart) and
# KV-cache bytes per policy and budget against the full cache, measured in one run (`cformer generate --bench` of a
# keyformer recipe; recipes/keyformer/README.md).
#
#   recipes/keyformer/bench-decode.sh CHECKPOINT [--prompt-len N] [--tokens M] [--repeat R]
#
# CHECKPOINT: a checkpoint of a keyformer recipe (its stored recipe supplies the policies and budgets). The
# table goes to stdout; the JSON lines (one per configuration) also to CHECKPOINT's folder as bench-decode.jsonl,
# written atomically. Environment: CFORMER (default build/bin/cformer), OMP_NUM_THREADS (default 1: a steadier
# timing on a shared machine).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
[ $# -ge 1 ] && [ -f "$1" ] || { echo "usage: $0 CHECKPOINT [--prompt-len N] [--tokens M] [--repeat R]" >&2; exit 2; }
ckpt=$1
shift
cformer=${CFORMER:-$root/build/bin/cformer}
[ -x "$cformer" ] || { echo "bench-decode: $cformer not found: build first (see README.md)" >&2; exit 1; }
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
out=$(dirname "$ckpt")/bench-decode.jsonl
tmp=$(mktemp "$out.XXXXXX")
trap 'rm -f "$tmp"' EXIT
"$cformer" generate --checkpoint "$ckpt" --bench "$@" | tee /dev/stderr | grep '^{' >"$tmp"
mv "$tmp" "$out"
trap - EXIT
echo "bench-decode: wrote $out" >&2
