#!/usr/bin/env bash
# The full-size recipes of the long-context papers (masformer-full, memoryformer-full, keyformer-full) carry
# `cformer-test: skip` because they need a GPU cluster and a corpus; here each one's keys are checked by
# `cformer recipe check` with the model shrunk (the rows shrunk to fit a tiny corpus; recipe check builds the
# parameters as shapes only, tests/test_recipe_check_memory.sh), so a renamed or misspelt key fails the suite. Then the full-size shapes are
# checked where it costs nothing: a misspelt key is refused naming file:line.
source "$(dirname "$0")/harness.bash"
cformer=$1 root=$2
shrink=(--set data.path="$root/recipes/data/village.txt" --set data.tokenizer=byte --set train.device=cpu
        --set model.vocab=256 --set model.dim=32 --set model.heads=2 --set model.layers=2 --set model.seq=64)

check() {
    local f=$root/recipes/$1
    shift
    out=$("$cformer" recipe check "$f" "${shrink[@]}" "$@" 2>&1) && echo "$out" | has "ok (" && ok ||
        bad "recipe check $f: $(echo "$out" | tail -3)"
}
check masformer/masformer-full.yaml --set model.hidden=64 --set model.full_layers=[2] --set model.local_span=16
check memoryformer/memoryformer-full.yaml
check keyformer/keyformer-full.yaml --set eval.prompt=48

# the shapes are the papers': read back from the files themselves
has_line() { grep -q "^  $2: $3\$" "$root/recipes/$1" && ok || bad "$1: expected $2: $3"; }
has_line masformer/masformer-full.yaml layers 24
has_line masformer/masformer-full.yaml dim 2048
has_line masformer/masformer-full.yaml seq 8192
has_line memoryformer/memoryformer-full.yaml dim 512
has_line memoryformer/memoryformer-full.yaml tau 8
has_line keyformer/keyformer-full.yaml seq 2048

# a misspelt key is refused with the file and line
cp "$root/recipes/memoryformer/memoryformer-full.yaml" "$tmp/typo.yaml"
sed -i 's/^  rotary_pct:/  rotary_pc:/' "$tmp/typo.yaml"
out=$("$cformer" recipe check "$tmp/typo.yaml" "${shrink[@]}" 2>&1) && bad "misspelt key accepted" ||
    { echo "$out" | has "typo.yaml:" && echo "$out" | has "rotary_pc" && ok || bad "error does not name file and key: $out"; }

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
