#!/usr/bin/env bash
# Hostile numbers: every recipe key and every command-line number outside its valid range is refused with a
# message naming the key (file:line or --set) or the option, a non-zero exit and no crash (exit < 128: no
# signal). Each case here once crashed, hung or was silently accepted.
source "$(dirname "$0")/harness.bash"
cformer=$1 src=$(cd "$2" && pwd)

have_hdf5=true
grep -q "^CF_HDF5:BOOL=OFF" "${3:-.}/CMakeCache.txt" 2>/dev/null && have_hdf5=false

# refuse WHAT TEXT CMD...: CMD fails cleanly and its output holds TEXT.
refuse() {
    local what=$1 text=$2
    shift 2
    local out rc
    out=$(timeout 60 "$@" 2>&1)
    rc=$?
    if [ "$rc" -ne 0 ] && [ "$rc" -lt 124 ] && grep -qF -- "$text" <<<"$out"; then ok; else
        bad "$what: exit $rc, expected a message with '$text', got: $(tail -3 <<<"$out")"; fi
}

# The recipe as a file of our own (its data path made absolute), so that a value in it has a line to name.
recipe=$tmp/village.yaml
sed "s|\.\./data/village.txt|$src/recipes/data/village.txt|" "$src/recipes/gpt/village-bytes.yaml" >"$recipe"
sets=(--set model.dim=32 --set model.layers=1 --set model.seq=32 --set train.batch_size=4)
small=("${sets[@]}" --quiet)
line_of() { grep -n "^  $1:" "$recipe" | cut -d: -f1; }

# 1. recipe keys, in the file: the message names file:line and the key
with() { sed "s|^  $1: .*|  $1: $2|" "$recipe" >"$tmp/bad.yaml"; }
with every 0
refuse "log.every 0 (train)" "bad.yaml:$(line_of every): log.every: 0 is out of range" \
    "$cformer" train "$tmp/bad.yaml" --run-dir "$tmp/run" --steps 3 "${small[@]}"
with lr -3.0e-3
refuse "negative lr" "bad.yaml:$(line_of lr): optim.lr: -3.0e-3 is out of range (0, 10]" "$cformer" recipe check "$tmp/bad.yaml"
with warmup -20
refuse "negative warmup" "bad.yaml:$(line_of warmup): optim.warmup: -20 is out of range" "$cformer" recipe check "$tmp/bad.yaml"
with keep -2
refuse "negative checkpoint.keep" "bad.yaml:$(line_of keep): checkpoint.keep: -2 is out of range" \
    "$cformer" recipe check "$tmp/bad.yaml"
with steps -5
refuse "negative steps" "bad.yaml:$(line_of steps): train.steps: -5 is out of range" "$cformer" recipe check "$tmp/bad.yaml"

# 2. the same through --set, at the start of every job (train, eval, recipe check)
refuse "log.every 0 (--set)" "--set: log.every: 0 is out of range" "$cformer" recipe check "$recipe" --set log.every=0
refuse "beta1 1.5" "optim.beta1: 1.5 is out of range [0, 1)" "$cformer" recipe check "$recipe" --set optim.beta1=1.5
refuse "threads 70000" "train.threads: 70000 is out of range [0, 1024]" \
    "$cformer" train "$recipe" --run-dir "$tmp/run" "${small[@]}" --set train.threads=70000
refuse "negative threads" "train.threads: -1 is out of range" "$cformer" recipe check "$recipe" --set train.threads=-1
refuse "batch_size 1e12" "train.batch_size: 1e12 is out of range [1, 2147483647]" \
    "$cformer" recipe check "$recipe" --set train.batch_size=1e12
refuse "steps -5 names train.steps" "train.steps: -5 is out of range" "$cformer" recipe check "$recipe" --set train.steps=-5
refuse "negative timeout" "distributed.timeout_s: -1 is out of range" "$cformer" recipe check "$recipe" --set distributed.timeout_s=-1
refuse "NaN bucket_mb" "distributed.bucket_mb: .nan is out of range" "$cformer" recipe check "$recipe" --set distributed.bucket_mb=.nan
refuse "dropout 1" "model.dropout: 1 is out of range [0, 1)" "$cformer" recipe check "$recipe" --set model.dropout=1
refuse "eps 0" "optim.eps: 0 is out of range" "$cformer" recipe check "$recipe" --set optim.eps=0
refuse "infinite clip" "optim.clip: .inf is out of range" "$cformer" recipe check "$recipe" --set optim.clip=.inf
refuse "eval.every -1 (eval)" "eval.every: -1 is out of range" \
    "$cformer" eval "$recipe" --checkpoint "$tmp/none.h5" --set eval.every=-1
# the combined check is split: batch_size divisibility names train.batch_size with the numbers
refuse "grad_accum divides batch_size" "train.batch_size: 4 is not divisible by train.grad_accum (3)" \
    "$cformer" recipe check "$recipe" "${sets[@]}" --set train.grad_accum=3

# 3. model sizes near 2^62 (they overflowed or hung) and sizes whose parameters would not fit
for key in model.dim model.layers model.vocab model.seq model.heads model.hidden; do
    refuse "$key 2^62" "$key: 4611686018427387904 is out of range" \
        "$cformer" recipe check "$recipe" --set "$key=4611686018427387904"
done
refuse "dim 2^40" "model.dim: 1099511627776 is out of range [1, 2^20]" \
    "$cformer" recipe check "$recipe" --set model.dim=1099511627776
# sizes each in range whose product is not: the parameter is named with its shape, nothing is allocated
refuse "vocab x dim past 2^40" "parameter wte.weight [2147483647, 1048576]: more than 1099511627776 elements" \
    "$cformer" recipe check "$recipe" --set model.vocab=2147483647 --set model.dim=1048576

# 4. the paper folders' keys are ranged too
refuse "dualformer eval.samples" "eval.samples: 0 is out of range [1, 1024]" \
    "$cformer" recipe check "$src/recipes/dualformer/solution-only.yaml" --set eval.samples=0
if $have_hdf5; then # the spike data is HDF5
    refuse "neuroformer loss weight" "model.loss_contrastive: 1 is out of range [0, 1)" \
        "$cformer" recipe check "$src/recipes/neuroformer/sim-pretrain.yaml" --set model.loss_contrastive=1
fi

# 5. command-line numbers: strict, in range, the message names the command and the option
refuse "--stop-at -1" "cformer train: --stop-at '-1': expected an integer in [1, 2^53]" \
    "$cformer" train "$recipe" --run-dir "$tmp/run" "${small[@]}" --stop-at -1
refuse "--steps 1e99" "cformer train: --steps '1e99': expected an integer in [1, 2^53]" \
    "$cformer" train "$recipe" --run-dir "$tmp/run" "${small[@]}" --steps 1e99
refuse "--steps abc" "--steps 'abc': expected an integer" "$cformer" bench train "$recipe" --steps abc
refuse "--warmup -3" "--warmup '-3': expected an integer in [0, 2^53]" "$cformer" bench train "$recipe" --warmup -3
refuse "bench --threads" "cformer bench: --threads '70000': expected an integer in [0, 1024]" "$cformer" bench ops --threads 70000
refuse "demo --steps" "cformer demo: --steps '0': expected an integer in [1, 1000000]" "$cformer" demo --mlp --steps 0
refuse "tokenizer --vocab" "cformer tokenizer train: --vocab '12x': expected an integer in [257, 2^20]" \
    "$cformer" tokenizer train "$src/recipes/data/village.txt" --vocab 12x -o "$tmp/v.bpe"
refuse "data spikes --neurons" "cformer data spikes: --neurons '1e9': expected an integer in [1, 4096]" \
    "$cformer" data spikes --neurons 1e9 -o "$tmp/s.h5"
refuse "data spikes --edge-prob" "cformer data spikes: --edge-prob 'nan': expected a number in [0, 1]" \
    "$cformer" data spikes --edge-prob nan -o "$tmp/s.h5"
refuse "data mazes --seed" "cformer data mazes: --seed '-3': expected an integer" \
    "$cformer" data mazes --size 5 --count 5 --seed -3 -o "$tmp/m.bin"
refuse "plot --width" "cformer plot: --width 'wide': expected an integer in [0, 1000000]" "$cformer" plot "$tmp" --width wide

# generation's options, on a checkpoint of a two-step run (checkpoints need HDF5)
if $have_hdf5 && "$cformer" train "$recipe" --run-dir "$tmp/gen" --steps 2 "${small[@]}" >/dev/null 2>&1; then
    ckpt=$tmp/gen/checkpoints/step-00000002.h5
    g=("$cformer" generate "$recipe" --checkpoint "$ckpt" "${sets[@]}" --tokens 4)
    refuse "--top-p 2" "cformer generate: --top-p '2': expected a number in (0, 1]" "${g[@]}" --top-p 2
    refuse "--temperature nan" "cformer generate: --temperature 'nan': expected a number in [0, 1000000]" \
        "${g[@]}" --temperature nan
    refuse "--tokens abc" "cformer generate: --tokens 'abc': expected an integer in [0, 2^20]" "${g[@]}" --tokens abc
    refuse "--seed -3" "cformer generate: --seed '-3': expected an integer >= 0" "${g[@]}" --seed -3
    refuse "--top-k 1.5" "cformer generate: --top-k '1.5': expected an integer" "${g[@]}" --top-k 1.5
    check "${g[@]}" --top-p 0.9 --temperature 0 --seed 3 >/dev/null
else
    echo "generation cases skipped: no checkpoint (this build has no HDF5)"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
