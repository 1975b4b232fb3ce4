#!/usr/bin/env bash
# The CUDA backend on a real GPU, in one run (under 10 minutes on one H100): builds with nvcc (CF_CUDA=ON),
# runs the CUDA tests (runtime plumbing, the cross-backend test of every op's kernels against the CPU's,
# parameters and optimizer on the device, a tiny transformer LM trained on the device against the CPU step by step),
# trains the first benchmark recipe for a few steps with distributed.backend: nccl on one rank against the same
# run without it, then times training steps of every benchmark recipe (recipes/bench/*.yaml) on the device and
# prints tokens/s and MFU against the card's dense bf16 tensor-core peak (SMs x max SM clock x FLOPs per SM per
# clock of its architecture), beside the recipe's PyTorch reference on the same card when python3 has a CUDA torch.
#
#     tools/gpu-check.sh [--build DIR] [--steps N] [--out DIR]
#
# Everything it prints is also in OUT (default gpu-check-DATE/): summary.md, and one log per step.
# Exit status: 0 when every test passed (the timings are reported, not judged).
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$src/build-gpu steps=10 out=gpu-check-$(date +%Y%m%d-%H%M%S)
while [ $# -gt 0 ]; do
    case "$1" in
        --build) build=$2; shift 2 ;;
        --steps) steps=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "gpu-check: unknown argument $1" >&2; exit 2 ;;
    esac
done
mkdir -p "$out"
summary=$out/summary.md
say() { echo "$*" | tee -a "$summary"; }
failed=0

if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L >/dev/null 2>&1; then
    echo "gpu-check: no NVIDIA GPU here (nvidia-smi finds none)" >&2
    exit 77
fi
say "# cformer GPU check, $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$src" rev-parse --short HEAD 2>/dev/null)"
say ""
say "GPU: $(nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader | head -1)"

# ---- build ----
t0=$(date +%s)
# MPI where it is installed: NCCL is built only with it (rank 0's unique id goes to the others over MPI)
mpi=OFF
command -v mpicc >/dev/null && mpi=ON
if ! { cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCF_CUDA=ON -DCF_MPI=$mpi >"$out/configure.log" 2>&1 &&
       cmake --build "$build" -j "$(nproc)" >"$out/build.log" 2>&1; }; then
    say "build FAILED (see $out/build.log):"; tail -20 "$out/build.log" | tee -a "$summary"
    exit 1
fi
say "build: $(( $(date +%s) - t0 )) s"
"$build/bin/cformer" list env | grep '^cuda_device' | tee -a "$summary"

# ---- tests ----
say ""
say "## Tests"
for t in test_cuda test_cuda_parity test_params_device test_dist_device; do # the last: bf16 and ZeRO-1 over NCCL, one rank
    if "$build/bin/$t" >"$out/$t.log" 2>&1; then r=passed; else r="FAILED (exit $?)"; failed=1; fi
    say "- $t: $r: $(grep -E 'ops with CUDA kernels|passed, [0-9]+ failed' "$out/$t.log" | tail -1)"
done
if bash "$src/tests/test_train_device.sh" "$build/bin/cformer" "$src" "$build" >"$out/test_train_device.log" 2>&1; then
    r=passed; else r="FAILED (exit $?)"; failed=1; fi
say "- test_train_device: $r: $(tail -1 "$out/test_train_device.log")"

# distributed.backend: nccl on ONE rank: NCCL refuses two ranks on one GPU, so on a one-GPU machine this is as far
# as it goes (the all-reduce of one rank is a copy, but the communicator, the broadcast and the device buckets run):
# its losses must equal those of the same run without a backend (5 steps of the first benchmark recipe).
# test_train_device compares 2 ranks over nccl with mpi where there are 2 GPUs (and always under the emulator).
nccl_run() { # name, extra --set
    "$build/bin/cformer" train "$small" --run-dir "$out/nccl-$1" --set train.device=cuda \
        --set train.steps=5 --set log.every=1 ${2:+--set $2} --quiet >"$out/nccl-$1.log" 2>&1 &&
        sed -n 's/.*"step": \([0-9]*\), "loss": \([^,]*\),.*/\1 \2/p' "$out/nccl-$1/metrics.jsonl"
}
small=$(ls "$src"/recipes/bench/*.yaml | head -1)
if [ $mpi = OFF ]; then
    say "- nccl (1 rank): skipped, no MPI here (NCCL is built only with MPI)"
elif ! a=$(CF_DIST_VERBOSE=1 nccl_run on distributed.backend=nccl); then
    failed=1; say "- nccl (1 rank): FAILED: $(tail -2 "$out/nccl-on.log")"
elif b=$(nccl_run off) && [ -n "$a" ] && [ "$a" = "$b" ] && grep -q "reduced over nccl (1 rank)" "$out/nccl-on.log"; then
    say "- nccl (1 rank): passed: 5 steps of $(basename "$small" .yaml), the losses of the run without it" \
        "($(echo "$a" | tail -1))"
else
    failed=1; say "- nccl (1 rank): FAILED: losses '$(echo $a)' against '$(echo $b)' without nccl (see $out/nccl-*.log)"
fi

# ---- throughput ----
# peak dense bf16 tensor-core FLOP/s: SMs (cformer list env) x max SM clock (nvidia-smi) x FLOPs/SM/clock
sms=$("$build/bin/cformer" list env | sed -n 's/^cuda_device\t0\t.*, \([0-9]*\) SMs$/\1/p')
sm=$("$build/bin/cformer" list env | sed -n 's/^cuda_device\t0\t.*, sm_\([0-9]*\),.*/\1/p')
mhz=$(nvidia-smi --query-gpu=clocks.max.sm --format=csv,noheader,nounits | head -1 | tr -d ' ')
case "$sm" in 90|100|103) per=4096 ;; 80) per=2048 ;; 86|87|89|120) per=1024 ;; *) per= ;; esac
peak=
[ -n "$per" ] && [ -n "$sms" ] && [ -n "$mhz" ] && peak=$(awk -v s="$sms" -v m="$mhz" -v p="$per" 'BEGIN { print s * m * 1e6 * p }')
say ""
say "## Training throughput on the device ($steps steps after warm-up; MFU against ${peak:+$(awk -v p="$peak" 'BEGIN{printf "%.0f", p/1e12}') TFLOP/s }dense bf16)"
say ""
say "| recipe | cformer tokens/s | model GFLOP/s | MFU | PyTorch tokens/s |"
say "|---|---|---|---|---|"
# every benchmark recipe (recipes/bench/*.yaml), beside its PyTorch reference: the command a recipe names on a
# "# reference: CMD" line, run with --device cuda and the same step counts
bench() { # recipe
    local recipe=$1 name log ref tps gf mfu=- ttps=-
    name=$(basename "$recipe" .yaml) log=$out/bench-$(basename "$recipe" .yaml).log
    "$build/bin/cformer" bench train "$recipe" --steps "$steps" --warmup 3 --set train.device=cuda >"$log" 2>&1 ||
        echo "(cformer bench $name failed: $(tail -1 "$log"))" | tee -a "$summary"
    tps=$(sed -n 's/^tokens_per_s=\([0-9.]*\).*/\1/p' "$log")
    gf=$(sed -n 's/^model flops per token .*: \([0-9.]*\) GFLOP\/s/\1/p' "$log")
    [ -n "$peak" ] && [ -n "$gf" ] && mfu=$(awk -v g="$gf" -v p="$peak" 'BEGIN { printf "%.1f%%", 100 * g * 1e9 / p }')
    ref=$(sed -n 's/^# reference: //p' "$recipe" | head -1)
    if [ -n "$ref" ] && python3 -c 'import torch, sys; sys.exit(not torch.cuda.is_available())' 2>/dev/null; then
        (cd "$src" && eval "$ref --device cuda --steps $steps --warmup 3") >"$log.torch" 2>&1 &&
            ttps=$(sed -n 's/^tokens_per_s=\([0-9.]*\).*/\1/p' "$log.torch")
    fi
    say "| $name | ${tps:--} | ${gf:--} | $mfu | ${ttps:--} |"
}
for recipe in "$src"/recipes/bench/*.yaml; do bench "$recipe"; done
say ""
say "Both run f32 here (the recipes' precision), so MFU against the bf16 peak is a lower bound of what bf16"
say "reaches: rerun a recipe with --set train.precision=bf16 for cformer's mixed precision."
say ""
say "$( [ $failed = 0 ] && echo "all tests passed" || echo "SOME TESTS FAILED" ); logs in $out/"
exit $failed
