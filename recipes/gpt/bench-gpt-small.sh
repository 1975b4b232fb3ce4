#!/usr/bin/env bash
# The gpt-small training benchmark against PyTorch and the GEMM bound, all measured in one run:
#     recipes/gpt/bench-gpt-small.sh [build-dir] [steps]
# GEMM bound = FLOPs per step / cblas_sgemm's rate at n = 1024 (from `cformer bench ops`).
# cformer's start-up (autograd/cpu/cpu_env.h) may name OpenBLAS's core (where OpenBLAS did not recognise the
# CPU) and bounds OpenMP's spinning. PyTorch runs on the same OpenBLAS core (same GEMM kernels) and with the
# environment's own OpenMP waiting, its best (a bounded spin slows it: 1657 against 6897 tokens/s at
# GOMP_SPINCOUNT=10000). The "CF_CPU_ENV=keep" line is cformer without that start-up.
set -euo pipefail
build=${1:-build} steps=${2:-20}
src=$(cd "$(dirname "$0")/../.." && pwd)
cformer=$build/bin/cformer
recipe=$src/recipes/bench/gpt-small.yaml
nproc=$(nproc)
env_of() { "$cformer" list env | awk -F'\t' -v k="$1" '$1 == k {print $2}'; }
core=$(env_of openblas_core) spin=$(env_of GOMP_SPINCOUNT)
echo "OpenBLAS core: $core; GOMP_SPINCOUNT: ${spin:-unset}; OMP_WAIT_POLICY: ${OMP_WAIT_POLICY:-unset}"

echo "== cblas_sgemm rate ($nproc threads)"
sgemm=$("$cformer" bench ops | awk '/n = 1024/ {print $5}')
echo "cblas_sgemm n=1024: $sgemm GFLOP/s"

for t in 1 "$nproc"; do
    echo "== cformer, $t thread(s)"
    OMP_NUM_THREADS=$t "$cformer" bench train "$recipe" --steps "$steps" --set train.threads=$t | tail -3
done
echo "== cformer, $nproc threads, CF_CPU_ENV=keep (OpenBLAS core $(CF_CPU_ENV=keep "$cformer" list env | awk -F'\t' '$1 == "openblas_core" {print $2}'))"
CF_CPU_ENV=keep "$cformer" bench train "$recipe" --steps "$steps" | tail -1
if /usr/bin/python3 -c "import torch" 2>/dev/null; then
    export OPENBLAS_CORETYPE=$core
    echo "== PyTorch, 1 thread + OpenBLAS $nproc threads"
    OPENBLAS_NUM_THREADS=$nproc /usr/bin/python3 "$src/recipes/gpt/bench_gpt_torch.py" --steps "$steps" --threads 1 | tail -1
    echo "== PyTorch, $nproc threads"
    /usr/bin/python3 "$src/recipes/gpt/bench_gpt_torch.py" --steps "$steps" --threads "$nproc" | tail -1
else
    echo "(python3-torch not installed: no PyTorch baseline)"
fi
