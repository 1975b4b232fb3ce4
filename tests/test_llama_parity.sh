#!/usr/bin/env bash
# Imported Llama / Mistral weights give the logits of an independent PyTorch forward (tests/llama_reference.py:
# Meta's interleaved-pair RoPE on unpermuted weights, float64), for random-weight checkpoints written in the
# Hugging Face layout in f32, bf16 (sharded, llama3 rope scaling) and f16 (Mistral: sliding window, tied
# embeddings, linear scaling, head_dim != dim / heads); and `cformer export --format hf` of an f32 import
# gives back the very tensors (bit-exact); the import fine-tunes as a llama and as Dualformer's LM (dualformer_lm over
# model.base llama, scored by `cformer eval`). Prints the max abs logit difference per dtype.
# Args: <cformer-binary> <source-dir> <build-dir>. Exit 77 (skipped) without /usr/bin/python3 + numpy + torch.
source "$(dirname "$0")/harness.bash"
cformer=$1 src=$2 build=$3
needs_hdf5 "$build"
PY=/usr/bin/python3
if [ ! -x "$PY" ] || ! "$PY" -c "import numpy, torch" 2>/dev/null; then
    echo "skipped: the logits parity needs /usr/bin/python3 with numpy and torch (apt-get install python3-torch)"
    exit 77
fi
ref="$PY $src/tests/llama_reference.py"
declare -A tol=([llama2-f32]=1e-4 [llama2-f32-tied]=1e-4 [llama3-bf16]=1e-4 [mistral-f16]=1e-4)
for case in llama2-f32 llama2-f32-tied llama3-bf16 mistral-f16; do
    d=$tmp/$case shards=1
    [ "$case" = llama3-bf16 ] && shards=3
    $ref write "$d/hf" "$case" --shards $shards || { bad "$case: writing the checkpoint"; continue; }
    "$cformer" import hf "$d/hf" -o "$d/imported" >"$d/import.log" 2>&1 || { bad "$case: import: $(cat "$d/import.log")"; continue; }
    $ref logits "$d/hf" || { bad "$case: reference forward"; continue; }
    "$build/bin/test_llama" --logits "$d/imported" "$d/hf/tokens.txt" "$d/ours.f64" || { bad "$case: our forward"; continue; }
    diff=$($ref compare "$d/ours.f64" "$d/hf/ref_logits.f64") || { bad "$case: compare"; continue; }
    echo "$case: max |logits - reference| = $diff"
    check "$PY" -c "import sys; sys.exit(0 if float('${diff%% *}') < ${tol[$case]} else 1)"
done

# export: the f32 import written back is the original, tensor for tensor, bit for bit; and reimports
d=$tmp/llama2-f32
if "$cformer" export "$d/imported/model.h5" --format hf -o "$d/exported" >"$d/export.log" 2>&1; then
    check $ref same-tensors "$d/hf" "$d/exported"
    check "$cformer" import hf "$d/exported" -o "$d/reimported"
    check cmp -s "$d/imported/recipe.yaml" <(sed "s|$d/exported|$d/hf|" "$d/reimported/recipe.yaml")
else
    bad "export: $(cat "$d/export.log")"
fi
d=$tmp/mistral-f16 # a tied Mistral exports as MistralForCausalLM without lm_head, in f16 as stored
if "$cformer" export "$d/imported/model.h5" --format hf --dtype f16 -o "$d/exported" >/dev/null 2>&1; then
    check $ref same-tensors "$d/hf" "$d/exported"
    check grep -q '"MistralForCausalLM"' "$d/exported/config.json"
else
    bad "mistral export"
fi
# the import fine-tunes: `cformer train RECIPE --init-from CKPT` loads every parameter and takes a step
d=$tmp/llama2-f32-tied
"$cformer" train "$d/imported/recipe.yaml" --init-from "$d/imported/model.h5" --run-dir "$tmp/ft" \
    --set data.path="$src/recipes/data/village.txt" --set train.steps=2 --set train.batch_size=2 --set model.seq=16 \
    --set checkpoint.every=2 >"$tmp/ft.log" 2>&1
check grep -q "loaded 11 of 11 parameters" "$tmp/ft.log"
check test -s "$tmp/ft/checkpoints/step-00000002.h5"
# ... and fine-tunes as Dualformer's LM (model.type dualformer_lm, model.base llama) on randomized traces, scored
# by generation with `cformer eval`
for i in $(seq 0 39); do
    printf '{"problem": "What is %d + %d?", "steps": ["%d + %d = %d"], "answer": "%d"}\n' $i 2 $i 2 $((i + 2)) $((i + 2))
done > "$tmp/traces.jsonl"
sed 's/^  type: llama$/  type: dualformer_lm\n  base: llama/' "$d/imported/recipe.yaml" > "$tmp/dl.yaml"
dl=(--set data.type=math_traces --set data.path="$tmp/traces.jsonl" --set data.drop_p=0.3 --set eval.problems=2
    --set eval.samples=1 --set eval.max_new=16)
"$cformer" train "$tmp/dl.yaml" --init-from "$d/imported/model.h5" --run-dir "$tmp/dl" "${dl[@]}" --set train.steps=2 \
    --set train.batch_size=2 --set checkpoint.every=2 >"$tmp/dl.log" 2>&1
check grep -q "loaded 11 of 11 parameters" "$tmp/dl.log"
check "$cformer" eval "$tmp/dl.yaml" --checkpoint "$tmp/dl/checkpoints/step-00000002.h5" --out "$tmp/dl.json" "${dl[@]}"
check grep -q '"response_tokens":' "$tmp/dl.json"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
