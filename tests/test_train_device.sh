#!/usr/bin/env bash
# train.device: cuda: a tiny GPT (dropout on) trains on the CUDA backend (the SIMT emulator in CI, a GPU
# under tools/gpu-check.sh) to the CPU's losses and gradient norms within f32 rounding, step by step; its
# checkpoint (written from the device through the host mirror) evaluates on the host to the CPU run's
# validation loss; a run stopped and resumed on the device replays the uninterrupted one exactly (the
# optimizer's moments went through the checkpoint); train.precision: bf16 (f32 master weights) follows the f32
# curve to bf16 rounding; where the build has MPI, two ranks on the device (gradients staged through the host)
# train as two CPU ranks do, and distributed.backend: nccl (gradients all-reduced on the device; under the
# emulator its NCCL shim, which refuses host pointers) trains exactly as the MPI backend does, two ranks and one,
# `auto` choosing it for two; train.precision: bf16 on two ranks (the f32 master gradients reduced) trains alike
# over mpi and nccl and follows the one-rank bf16 curve; distributed.zero: 1 over nccl follows the unsharded curve
# and resumes from its checkpoint (ZeRO-1 over mpi on the device is refused). train.precision: bf16 and
# distributed.backend: nccl on the CPU are refused naming the key, in every build. Skips
# (77) after that where the build has no CUDA backend or no device; a build that has one but refuses the model
# (an op without a CUDA kernel) fails.
source "$(dirname "$0")/harness.bash"
needs_hdf5 "${3:-.}"
cformer=$1
export OMP_WAIT_POLICY=passive OMP_NUM_THREADS=1

cat >"$tmp/gpt.yaml" <<EOF2
model:
  type: gpt
  vocab: 64
  seq: 16
  dim: 32
  layers: 2
  heads: 2
  hidden: 64
  dropout: 0.1
data:
  type: random_tokens
  size: 2000
train:
  steps: 4
  batch_size: 4
  seed: 5
optim:
  type: adamw
  lr: 3.0e-3
log:
  every: 1
checkpoint:
  every: 2
  keep: 0
eval:
  every: 0
EOF2

if "$cformer" recipe check "$tmp/gpt.yaml" --set train.precision=bf16 >"$tmp/check" 2>&1; then
    bad "train.precision: bf16 on the CPU was accepted"
else
    has "train.precision: bf16 needs train.device: cuda" <"$tmp/check" && ok || bad "bf16 on the CPU: $(tail -1 "$tmp/check")"
fi

if "$cformer" recipe check "$tmp/gpt.yaml" --set distributed.backend=nccl >"$tmp/check" 2>&1; then
    bad "distributed.backend: nccl on the CPU was accepted"
else
    has "distributed.backend: nccl reduces gradients on the GPU: it needs train.device: cuda" <"$tmp/check" && ok ||
        bad "nccl on the CPU: $(tail -1 "$tmp/check")"
fi

if ! "$cformer" recipe check "$tmp/gpt.yaml" --set train.device=cuda >"$tmp/check" 2>&1; then
    if has -e "no CUDA backend" -e "no CUDA device" <"$tmp/check"; then
        echo "skipped: $(tail -1 "$tmp/check")"
        exit 77
    fi
    bad "recipe check with train.device=cuda: $(tail -2 "$tmp/check")"
fi

for dev in cpu cuda; do
    "$cformer" train "$tmp/gpt.yaml" --run-dir "$tmp/$dev" --set train.device=$dev --quiet >"$tmp/log" 2>&1 ||
        bad "train on $dev: $(tail -3 "$tmp/log")"
done
# step, loss, grad_norm per logged step
columns() { sed -n 's/.*"step": \([0-9]*\), "loss": \([^,]*\), "lr": [^,]*, "grad_norm": \([^,]*\),.*/\1 \2 \3/p' "$1/metrics.jsonl"; }
columns "$tmp/cpu" >"$tmp/cpu.txt"
columns "$tmp/cuda" >"$tmp/cuda.txt"
[ "$(wc -l <"$tmp/cpu.txt")" -eq 4 ] && ok || bad "expected 4 logged steps on the CPU"
if paste "$tmp/cpu.txt" "$tmp/cuda.txt" | awk 'function rel(a, b) { d = a - b; if (d < 0) d = -d; return d / (b < 0 ? -b : b) }
        NF != 6 || $1 != $4 || rel($5, $2) > 2e-5 || rel($6, $3) > 2e-4 { bad = 1; print "step " $1 ": cpu " $2 " " $3 ", cuda " $5 " " $6 }
        END { exit bad || NR != 4 }' >"$tmp/diff"; then ok; else
    bad "loss or grad_norm on cuda differs from the cpu:"; cat "$tmp/diff" >&2
fi

# bf16 compute with f32 master weights: the f32 curve to bf16 rounding (the loss itself is f32)
"$cformer" train "$tmp/gpt.yaml" --run-dir "$tmp/bf16" --set train.device=cuda --set train.precision=bf16 --quiet \
    >"$tmp/log" 2>&1 || bad "train in bf16: $(tail -3 "$tmp/log")"
# (a loss rounded to bf16 has 8 significant bits: v 2^(7 - floor(log2 v)) is then an integer, for every step)
if paste "$tmp/cpu.txt" <(columns "$tmp/bf16") | awk 'function rel(a, b) { d = a - b; if (d < 0) d = -d; return d / (b < 0 ? -b : b) }
        function bf16_exact(v) { m = v * 2 ^ (7 - int(log(v) / log(2))); return m == int(m) }
        { coarse += bf16_exact($5) }
        NF != 6 || rel($5, $2) > 1e-2 || rel($6, $3) > 5e-2 { bad = 1; print "step " $1 ": f32 " $2 " " $3 ", bf16 " $5 " " $6 }
        END { if (coarse == NR) print "every loss is a bf16 value"; exit bad || coarse == NR || NR != 4 }' >"$tmp/diff"; then ok; else
    bad "bf16 training is off the f32 curve (or its loss is rounded to bf16):"; cat "$tmp/diff" >&2
fi

# the device run's checkpoint, evaluated on the host, scores as the CPU's (the GPT's evaluation: cross-entropy)
ev() { "$cformer" eval --checkpoint "$tmp/$1/checkpoints/step-00000004.h5" --out "$tmp/$1.json" >/dev/null 2>&1 &&
       sed -n 's/.*"ce": \([^,}]*\).*/\1/p' "$tmp/$1.json"; }
a=$(ev cpu) b=$(ev cuda)
if [ -n "$a" ] && [ -n "$b" ] && awk -v a="$a" -v b="$b" 'BEGIN { d = a - b; exit !((d < 0 ? -d : d) < 2e-5 * a) }'; then ok; else
    bad "eval of the checkpoints: cpu '$a', cuda '$b'"
fi

# stopped at step 2 (checkpointed), resumed on the device: the same steps 3 and 4
"$cformer" train "$tmp/gpt.yaml" --run-dir "$tmp/resumed" --set train.device=cuda --stop-at 2 --quiet >"$tmp/log" 2>&1
"$cformer" train "$tmp/gpt.yaml" --run-dir "$tmp/resumed" --set train.device=cuda --resume latest --quiet >"$tmp/log" 2>&1 ||
    bad "resume on cuda: $(tail -3 "$tmp/log")"
if diff <(columns "$tmp/cuda" | tail -2) <(columns "$tmp/resumed" | tail -2) >"$tmp/diff"; then ok; else
    bad "the resumed device run differs from the uninterrupted one:"; cat "$tmp/diff" >&2
fi

# two ranks on the device against two on the CPU (the MPI path: buckets staged through the host)
if command -v mpirun >/dev/null && grep -q "^CF_MPI:BOOL=ON" "${3:-.}/CMakeCache.txt" 2>/dev/null; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
    export OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none TMPDIR=$tmp
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" # Open MPI's own allocations
    for dev in cpu cuda; do
        timeout 300 mpirun -np 2 "$cformer" train "$tmp/gpt.yaml" --run-dir "$tmp/mpi-$dev" --set train.device=$dev \
            --set distributed.backend=mpi --set checkpoint.every=0 --quiet >"$tmp/log" 2>&1 ||
            bad "2 ranks on $dev: $(tail -3 "$tmp/log")"
    done
    if paste <(columns "$tmp/mpi-cpu") <(columns "$tmp/mpi-cuda") | awk 'function rel(a, b) { d = a - b; if (d < 0) d = -d; return d / (b < 0 ? -b : b) }
            NF != 6 || rel($5, $2) > 2e-5 || rel($6, $3) > 2e-4 { bad = 1; print } END { exit bad || NR != 4 }' >"$tmp/diff"; then ok; else
        bad "2 ranks: cuda differs from the cpu:"; cat "$tmp/diff" >&2
    fi

    # distributed.backend: nccl, where the build has NCCL (the emulator build has its shim): the same buckets
    # summed in the same order and scaled by the same f32 1/world as the MPI path, so the same losses and
    # gradient norms exactly, for two ranks and (a copy) for one
    if "$cformer" train "$tmp/gpt.yaml" --run-dir "$tmp/nccl-1" --set train.device=cuda --set distributed.backend=nccl \
        --quiet >"$tmp/log" 2>&1; then
        diff "$tmp/cuda.txt" <(columns "$tmp/nccl-1") >"$tmp/diff" && ok ||
            { bad "1 rank over nccl differs from the run without it:"; cat "$tmp/diff" >&2; }
        # bf16 over nccl on one rank: the f32 master gradients reduced after backward (a copy), the bf16 run's curve
        "$cformer" train "$tmp/gpt.yaml" --run-dir "$tmp/nccl-bf16-1" --set train.device=cuda --set distributed.backend=nccl \
            --set train.precision=bf16 --quiet >"$tmp/log" 2>&1 || bad "1 rank over nccl in bf16: $(tail -3 "$tmp/log")"
        diff <(columns "$tmp/bf16") <(columns "$tmp/nccl-bf16-1") >"$tmp/diff" && ok ||
            { bad "1 rank over nccl in bf16 differs from the bf16 run without it:"; cat "$tmp/diff" >&2; }
        # ZeRO-1 on the device needs nccl
        if "$cformer" recipe check "$tmp/gpt.yaml" --set train.device=cuda --set distributed.backend=mpi \
            --set distributed.zero=1 >"$tmp/check" 2>&1; then bad "ZeRO-1 on the device over mpi was accepted"
        else has "ZeRO-1 with train.device: cuda runs over distributed.backend: nccl" <"$tmp/check" && ok ||
            bad "zero over mpi on the device: $(tail -1 "$tmp/check")"
        fi
        # two ranks need two devices: NCCL refuses two ranks on one GPU (the emulator gives each process its own)
        gpus=$("$cformer" list env | grep -c "^cuda_device.[0-9]")
        "$cformer" list env | grep -q "SIMT emulator" && gpus=2
        if [ "$gpus" -ge 2 ]; then
            CF_DIST_VERBOSE=1 timeout 300 mpirun -np 2 "$cformer" train "$tmp/gpt.yaml" --run-dir "$tmp/nccl-2" \
                --set train.device=cuda --set distributed.backend=nccl --set checkpoint.every=0 --quiet >"$tmp/log" 2>&1 ||
                bad "2 ranks over nccl: $(tail -3 "$tmp/log")"
            has "gradients reduced over nccl (2 ranks)" <"$tmp/log" && ok || bad "2 ranks over nccl: no nccl in the log"
            [ "$(columns "$tmp/nccl-2" | wc -l)" -eq 4 ] && diff <(columns "$tmp/mpi-cuda") <(columns "$tmp/nccl-2") \
                >"$tmp/diff" && ok || { bad "2 ranks: nccl differs from mpi:"; cat "$tmp/diff" >&2; }
            # bf16 on 2 ranks: the f32 master gradients summed and scaled alike over mpi and nccl (the same losses and
            # norms exactly), and the one-rank bf16 curve to bf16 rounding (each rank's half batch rounds on its own)
            for b in mpi nccl; do
                timeout 300 mpirun -np 2 "$cformer" train "$tmp/gpt.yaml" --run-dir "$tmp/bf16-$b-2" --set train.device=cuda \
                    --set distributed.backend=$b --set train.precision=bf16 --set checkpoint.every=0 --quiet >"$tmp/log" 2>&1 ||
                    bad "2 ranks over $b in bf16: $(tail -3 "$tmp/log")"
            done
            [ "$(columns "$tmp/bf16-nccl-2" | wc -l)" -eq 4 ] && diff <(columns "$tmp/bf16-mpi-2") <(columns "$tmp/bf16-nccl-2") \
                >"$tmp/diff" && ok || { bad "2 ranks in bf16: nccl differs from mpi:"; cat "$tmp/diff" >&2; }
            if paste <(columns "$tmp/bf16") <(columns "$tmp/bf16-nccl-2") | awk 'function rel(a, b) { d = a - b; if (d < 0) d = -d; return d / (b < 0 ? -b : b) }
                    NF != 6 || rel($5, $2) > 1e-2 || rel($6, $3) > 5e-2 { bad = 1; print } END { exit bad || NR != 4 }' >"$tmp/diff"; then ok; else
                bad "2 ranks in bf16 are off the one-rank bf16 curve:"; cat "$tmp/diff" >&2
            fi
            # ZeRO-1 over nccl on the device: the unsharded curve (the global norm sums the shards' squares in another
            # order: to rounding); stopped at step 2 and resumed from its gathered optimizer state, the same steps
            timeout 300 mpirun -np 2 "$cformer" train "$tmp/gpt.yaml" --run-dir "$tmp/zero-2" --set train.device=cuda \
                --set distributed.backend=nccl --set distributed.zero=1 --quiet >"$tmp/log" 2>&1 ||
                bad "ZeRO-1 on 2 ranks over nccl: $(tail -3 "$tmp/log")"
            if paste <(columns "$tmp/nccl-2") <(columns "$tmp/zero-2") | awk 'function rel(a, b) { d = a - b; if (d < 0) d = -d; return d / (b < 0 ? -b : b) }
                    NF != 6 || rel($5, $2) > 1e-6 || rel($6, $3) > 1e-5 { bad = 1; print } END { exit bad || NR != 4 }' >"$tmp/diff"; then ok; else
                bad "ZeRO-1 on the device is off the unsharded curve:"; cat "$tmp/diff" >&2
            fi
            timeout 300 mpirun -np 2 "$cformer" train "$tmp/gpt.yaml" --run-dir "$tmp/zero-r" --set train.device=cuda \
                --set distributed.backend=nccl --set distributed.zero=1 --stop-at 2 --quiet >"$tmp/log" 2>&1 &&
            timeout 300 mpirun -np 2 "$cformer" train "$tmp/gpt.yaml" --run-dir "$tmp/zero-r" --set train.device=cuda \
                --set distributed.backend=nccl --set distributed.zero=1 --resume latest --quiet >"$tmp/log" 2>&1 ||
                bad "ZeRO-1 resume on the device: $(tail -3 "$tmp/log")"
            diff <(columns "$tmp/zero-2" | tail -2) <(columns "$tmp/zero-r" | tail -2) >"$tmp/diff" && ok ||
                { bad "the resumed ZeRO-1 device run differs from the uninterrupted one:"; cat "$tmp/diff" >&2; }
            want=nccl
        else
            echo "2 ranks over nccl not checked: one GPU"
            want=mpi
        fi
        # auto: nccl for device parameters over several ranks, each with a GPU of its own
        CF_DIST_VERBOSE=1 timeout 300 mpirun -np 2 "$cformer" recipe check "$tmp/gpt.yaml" --set train.device=cuda \
            >"$tmp/log" 2>&1 || bad "recipe check over 2 ranks: $(tail -3 "$tmp/log")"
        has "distributed.backend auto: gradients reduced over $want (2 ranks)" <"$tmp/log" && ok ||
            bad "auto did not choose $want: $(grep distributed.backend "$tmp/log")"
    elif has "this build has no NCCL" <"$tmp/log"; then
        echo "nccl not checked: $(tail -1 "$tmp/log")"
    else
        bad "1 rank over nccl: $(tail -3 "$tmp/log")"
    fi
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
