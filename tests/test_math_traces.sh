#!/usr/bin/env bash
# `cformer data math-traces` and `data.type: math_traces` end to end: the generator's file is deterministic
# and extends with --count, a decoder LM trains on randomized traces for a few steps and is evaluated on the
# response tokens only, the recipe can generate its own file, and bad input is refused naming the key or line.
# Args: <cformer-binary> <source-dir> <build-dir>.
source "$(dirname "$0")/harness.bash"
cf=$1
needs_hdf5 "$3"

check "$cf" data math-traces --count 300 --seed 4 -o "$tmp/a.jsonl"
check "$cf" data math-traces --count 300 --seed 4 -o "$tmp/b.jsonl"
check cmp -s "$tmp/a.jsonl" "$tmp/b.jsonl"
"$cf" data math-traces --count 500 --seed 4 -o "$tmp/c.jsonl" > /dev/null
check cmp -s "$tmp/a.jsonl" <(head -n 300 "$tmp/c.jsonl")
check [ "$(wc -l < "$tmp/a.jsonl")" -eq 300 ]

cat > "$tmp/lm.yaml" <<YAML
model: {type: gpt, vocab: 256, seq: 512, dim: 32, layers: 1, heads: 2}
data: {type: math_traces, path: gen.jsonl, drop_p: 0.3, generate: {count: 200, seed: 2}}
train: {steps: 3, batch_size: 2, seed: 1}
optim: {type: adamw, lr: 1.0e-3}
eval: {every: 3, batches: 1}
YAML
check "$cf" train "$tmp/lm.yaml" --run-dir "$tmp/run" --quiet
check [ -s "$tmp/gen.jsonl" ]
check "$cf" eval "$tmp/lm.yaml" --checkpoint "$tmp/run/checkpoints/step-00000003.h5" --out "$tmp/eval.json"
check grep -q '"ce"' "$tmp/eval.json"

# The generation-based evaluation (model.type: dualformer_lm) scores what the model answers: trained on
# answer-only traces whose answer is always 7, greedy decoding answers every problem correctly with the 11
# tokens of "\nAnswer: 7\n" (a prompt leaking into the loss or a wrong stop would show here).
for i in $(seq 0 99); do
    printf '{"problem": "What is %d - %d + 7?", "steps": ["%d - %d = 0", "0 + 7 = 7"], "answer": "7"}\n' $i $i $i $i
done > "$tmp/seven.jsonl"
cat > "$tmp/seven.yaml" <<YAML
model: {type: dualformer_lm, vocab: 256, seq: 96, dim: 32, layers: 1, heads: 2}
data: {type: math_traces, path: seven.jsonl, drop_p: 1.0}
train: {steps: 150, batch_size: 8, seed: 1}
optim: {type: adamw, lr: 3.0e-3}
eval: {every: 150, batches: 1, problems: 10, samples: 2, max_new: 30}
YAML
check "$cf" train "$tmp/seven.yaml" --run-dir "$tmp/seven" --quiet
check "$cf" eval "$tmp/seven.yaml" --checkpoint "$tmp/seven/checkpoints/step-00000150.h5" --out "$tmp/seven.json"
check grep -q '"accuracy": 1,' "$tmp/seven.json"
check grep -q '"response_tokens": 11,' "$tmp/seven.json"
check grep -q '"pass_at_k": 1,' "$tmp/seven.json"

# the recipes of recipes/dualformer-llm, shrunk: pretrain on the village text, then each fine-tuning from it
src=$2
small=(--steps 2 --quiet --set model.dim=16 --set model.layers=1 --set model.heads=2 --set train.batch_size=2)
check "$cf" train "$src/recipes/dualformer-llm/pretrain.yaml" --run-dir "$tmp/pre" "${small[@]}" \
    --set data.path="$src/recipes/data/village.txt"
for r in finetune-full finetune-random solution-only; do
    check "$cf" train "$src/recipes/dualformer-llm/$r.yaml" --run-dir "$tmp/$r" "${small[@]}" \
        --set data.path="$tmp/ft.jsonl" --set data.generate.count=300 --init-from "$tmp/pre/checkpoints/step-00000002.h5"
done

expect_fail() { # message-fragment command...
    local frag=$1
    shift
    if "$@" > "$tmp/out" 2>&1 || ! grep -q -- "$frag" "$tmp/out"; then bad "expected '$frag' from: $* (got: $(cat "$tmp/out"))"; else ok; fi
}
expect_fail "data.drop_p" "$cf" train "$tmp/lm.yaml" --run-dir "$tmp/r2" --set data.drop_p=1.5
sed '/^data:/s/, generate: {count: 200, seed: 2}//' "$tmp/lm.yaml" > "$tmp/nogen.yaml"
expect_fail "give data.generate" "$cf" train "$tmp/nogen.yaml" --run-dir "$tmp/r3" --set data.path=missing.jsonl
expect_fail "longer than data.seq + 1" "$cf" train "$tmp/lm.yaml" --run-dir "$tmp/r4" --set model.seq=64
printf '{"problem": "p", "steps": [], "answer": "1"}\n{"problem": "q"}\n' > "$tmp/bad.jsonl"
expect_fail "bad.jsonl:2: \"answer\" missing" "$cf" train "$tmp/lm.yaml" --run-dir "$tmp/r5" --set data.path="$tmp/bad.jsonl"
expect_fail "needs --count" "$cf" data math-traces -o "$tmp/x.jsonl"
expect_fail "data.prompt: must hold {problem} exactly once" "$cf" train "$tmp/lm.yaml" --run-dir "$tmp/r6" --set 'data.prompt=Q A'

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
