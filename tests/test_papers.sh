#!/usr/bin/env bash
# Every paper of recipes/papers.def is complete and reached only through the registry: its folder has a
# README.md and recipes, every model it registers has its own evaluation, its smoke recipe trains for a few
# steps and `cformer eval CKPT` (the recipe the checkpoint holds) scores it; every folder under recipes/ that
# holds C code is a registered paper (or one of the framework's folders); and the generic code (tools/,
# recipes/run/) names no paper.
source "$(dirname "$0")/harness.bash"
cformer=$1 src=$2
export OMP_NUM_THREADS=1

papers=$("$cformer" list papers) || bad "cformer list papers"
[ -n "$papers" ] && ok || bad "no papers registered"
names=()
while IFS=$'\t' read -r name models datasets generators evaluator smoke sets title; do
    names+=("$name")
    dir=$src/recipes/$name
    check test -s "$dir/README.md"
    ls "$dir"/*.yaml >/dev/null 2>&1 && ok || bad "$name: no recipe in $dir"
    [ "$evaluator" = evaluator ] && ok || bad "$name: a model without its own evaluation ($models)"
    [ -n "$title" ] && ok || bad "$name: no title"
    [ "$smoke" != - ] && [ -f "$dir/$smoke" ] && ok || { bad "$name: smoke recipe '$smoke' missing"; continue; }
    needs_hdf5 "${3:-.}" >/dev/null || continue
    run=$tmp/$name
    mkdir -p "$run"
    args=()
    if [ "$sets" != - ]; then for kv in $sets; do args+=(--set "${kv//SMOKE_DIR/$run}"); done; fi
    "$cformer" train "$dir/$smoke" --run-dir "$run" --quiet "${args[@]}" >"$run.log" 2>&1 ||
        { bad "$name: the smoke recipe does not train: $(tail -3 "$run.log")"; continue; }
    ckpt=$(ls "$run"/checkpoints/*.h5 | tail -n 1)
    eval_sets=()
    for a in "${args[@]}"; do case "$a" in eval.*|data.*) eval_sets+=(--set "$a") ;; esac; done
    "$cformer" eval --checkpoint "$ckpt" "${eval_sets[@]}" >"$run.eval.log" 2>&1 ||
        { bad "$name: eval of the smoke checkpoint: $(tail -3 "$run.eval.log")"; continue; }
    check test -s "$run/eval.json"
done <<<"$papers"

# every folder of recipes/ with C code is a paper of the registry or a framework folder
for d in "$src"/recipes/*/; do
    d=$(basename "$d")
    case "$d" in recipe | run | checkpoint) continue ;; esac
    ls "$src/recipes/$d"/*.c >/dev/null 2>&1 || continue
    printf '%s\n' "${names[@]}" | has -x "$d" && ok || bad "recipes/$d has code but no line in recipes/papers.def"
done

# the generic code names no paper
for name in "${names[@]}"; do
    hits=$(grep -ril -- "$name" "$src"/tools/ "$src"/recipes/run/ 2>/dev/null)
    [ -z "$hits" ] && ok || bad "generic code names the paper '$name': $hits"
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
