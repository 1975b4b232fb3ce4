#!/usr/bin/env bash
# Dualformer's LM fine-tuning over an imported Llama (model.type: dualformer_lm, model.base: llama), end to
# end: a small Llama pretrained here (recipes/dualformer-llm/pretrain-llama.yaml, shrunk) goes out to the
# Hugging Face layout and back in with `cformer import hf`, fine-tunes on randomized traces from it
# (finetune-llama-random.yaml, --init-from loading every parameter), is scored by `cformer eval` and exports
# back; a Llama with a sliding window trained on answer-only traces answers every problem by cached
# generation; `cformer generate` on the imported Llama gives the same text with and without the KV cache;
# bad model.base values and exports are refused. Args: <cformer-binary> <source-dir> <build-dir>.
source "$(dirname "$0")/harness.bash"
cf=$1 src=$2
needs_hdf5 "$3"
rec=$src/recipes/dualformer-llm

shape=(--set model.dim=32 --set model.layers=1 --set model.heads=4 --set model.kv_heads=2 --set model.hidden=48)
small=(--quiet "${shape[@]}" --set train.batch_size=2)
check "$cf" train "$rec/pretrain-llama.yaml" --run-dir "$tmp/pre" --steps 2 "${small[@]}" \
    --set data.path="$tmp/pre.jsonl" --set data.generate.count=200
check "$cf" export "$tmp/pre/checkpoints/step-00000002.h5" --format hf -o "$tmp/hf"
check "$cf" import hf "$tmp/hf" -o "$tmp/imported"
check grep -q "kv_heads: 2" "$tmp/imported/recipe.yaml"

ft=("${shape[@]}" --set data.path="$tmp/ft.jsonl" --set data.generate.count=200 --set eval.problems=3
    --set eval.samples=1 --set eval.max_new=24)
"$cf" train "$rec/finetune-llama-random.yaml" --run-dir "$tmp/ft" --steps 3 "${ft[@]}" --set train.batch_size=2 \
    --set checkpoint.every=3 \
    --init-from "$tmp/imported/model.h5" > "$tmp/ft.log" 2>&1 || bad "fine-tune: $(tail -3 "$tmp/ft.log")"
check grep -q "loaded 12 of 12 parameters" "$tmp/ft.log"
ck=$tmp/ft/checkpoints/step-00000003.h5
check "$cf" eval "$rec/finetune-llama-random.yaml" --checkpoint "$ck" --out "$tmp/eval.json" "${ft[@]}"
for k in accuracy pass_at_k response_tokens answered; do check grep -q "\"$k\":" "$tmp/eval.json"; done
check grep -q '"problems": 3,' "$tmp/eval.json"
check "$cf" export "$ck" --format hf -o "$tmp/ft-hf"
check grep -q '"LlamaForCausalLM"' "$tmp/ft-hf/config.json"

# generation-based scoring that can fail: trained on answer-only traces whose answer is always 7, greedy
# decoding through the rolling sliding-window cache (window 8, shorter than every prompt) answers every problem
# with the 11 tokens of "\nAnswer: 7\n"
for i in $(seq 0 99); do
    printf '{"problem": "What is %d - %d + 7?", "steps": ["%d - %d = 0", "0 + 7 = 7"], "answer": "7"}\n' $i $i $i $i
done > "$tmp/seven.jsonl"
cat > "$tmp/seven.yaml" <<YAML
model: {type: dualformer_lm, base: llama, vocab: 256, seq: 96, max_pos: 128, dim: 32, layers: 1, heads: 4, kv_heads: 2, hidden: 64, sliding_window: 8}
data: {type: math_traces, path: seven.jsonl, drop_p: 1.0}
train: {steps: 150, batch_size: 8, seed: 1}
optim: {type: adamw, lr: 3.0e-3}
eval: {every: 150, batches: 1, problems: 10, samples: 2, max_new: 30}
YAML
check "$cf" train "$tmp/seven.yaml" --run-dir "$tmp/seven" --quiet
check "$cf" eval "$tmp/seven.yaml" --checkpoint "$tmp/seven/checkpoints/step-00000150.h5" --out "$tmp/seven.json"
check grep -q '"accuracy": 1,' "$tmp/seven.json"
check grep -q '"response_tokens": 11,' "$tmp/seven.json"

# cformer generate on the imported Llama: the KV cache changes nothing
gen=(generate "$tmp/imported/recipe.yaml" --checkpoint "$tmp/imported/model.h5" --set data.path="$src/recipes/data/village.txt"
     --prompt "Problem: What is 2 + 3?" --tokens 40 --temperature 0)
check "$cf" "${gen[@]}" > "$tmp/cached.txt"
check "$cf" "${gen[@]}" --no-cache > "$tmp/uncached.txt"
check cmp -s "$tmp/cached.txt" "$tmp/uncached.txt"
check [ "$(wc -c < "$tmp/cached.txt")" -gt 20 ]

expect_fail() { # message-fragment command...
    local frag=$1
    shift
    if "$@" > "$tmp/out" 2>&1 || ! grep -q -- "$frag" "$tmp/out"; then bad "expected '$frag' from: $* (got: $(cat "$tmp/out"))"; else ok; fi
}
expect_fail "model.base: unknown base 'mistral'" "$cf" train "$tmp/seven.yaml" --run-dir "$tmp/r1" --set model.base=mistral
sed 's/base: llama, //; s/max_pos: 128, //; s/, sliding_window: 8//' "$tmp/seven.yaml" > "$tmp/gpt.yaml"
check "$cf" train "$tmp/gpt.yaml" --run-dir "$tmp/gpt" --steps 1 --quiet --set checkpoint.every=1
expect_fail "only a dualformer_lm with model.base: llama" "$cf" export "$tmp/gpt/checkpoints/step-00000001.h5" --format hf -o "$tmp/x"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
