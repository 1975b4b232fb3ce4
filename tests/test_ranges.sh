#!/usr/bin/env bash
# Hostile numbers: every recipe key and every command-line number outside its valid range is refused with a
# message naming the key (file:line or --set) or the option, a non-zero exit and no crash (exit < 128: no
# signal). Each case here once crashed, hung or was silently accepted.
source "$(dirname "$0")/harness.bash"
cformer=$1 src=$(cd "$2" && pwd)

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

# 4. the paper folders' keys are ranged too
refuse "dualformer eval.samples" "eval.samples: 0 is out of range [1, 1024]" \
    "$cformer" recipe check "$src/recipes/dualformer/solution-only.yaml" --set eval.samples=0
refuse "neuroformer loss weight" "model.loss_contrastive: 1 is out of range [0, 1)" \
    "$cformer" recipe check "$src/recipes/neuroformer/sim-pretrain.yaml" --set model.loss_contrastive=1

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
