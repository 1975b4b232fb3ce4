#!/usr/bin/env bash
# The gpt-small training benchmark against PyTorch and the GEMM bound, all measured in one run:
#     recipes/gpt/bench-gpt-small.sh [build-dir] [steps]
# GEMM bound = FLOPs per step / cblas_sgemm's rate at n = 1024 (from `cformer bench ops`).
set -euo pipefail
build=${1:-build} steps=${2:-20}
src=$(cd "$(dirname "$0")/../.." && pwd)
cformer=$build/bin/cformer
recipe=$src/recipes/bench/gpt-small.yaml
# OpenMP waiting as the environment says: on a dedicated machine the default (spinning) is fastest for
# both cformer and PyTorch; on a shared one set OMP_WAIT_POLICY=passive for both.
nproc=$(nproc)

echo "== cblas_sgemm rate ($nproc threads)"
sgemm=$("$cformer" bench ops | awk '/n = 1024/ {print $5}')
echo "cblas_sgemm n=1024: $sgemm GFLOP/s"

for t in 1 "$nproc"; do
    echo "== cformer, $t thread(s)"
    OMP_NUM_THREADS=$t "$cformer" bench train "$recipe" --steps "$steps" --set train.threads=$t | tail -3
done
if /usr/bin/python3 -c "import torch" 2>/dev/null; then
    echo "== PyTorch, 1 thread + OpenBLAS $nproc threads"
    OPENBLAS_NUM_THREADS=$nproc /usr/bin/python3 "$src/recipes/gpt/bench_gpt_torch.py" --steps "$steps" --threads 1 | tail -1
    echo "== PyTorch, $nproc threads"
    /usr/bin/python3 "$src/recipes/gpt/bench_gpt_torch.py" --steps "$steps" --threads "$nproc" | tail -1
else
    echo "(python3-torch not installed: no PyTorch baseline)"
fi
