#!/usr/bin/env bash
# `cformer import hf` refuses what it cannot convert before reading any weights, naming the file and the
# architecture, and lists the architectures it knows; the 8B recipe has the 8B shape. Args: <cformer-binary> <source-dir> <build-dir>.
source "$(dirname "$0")/harness.bash"
cformer=$1 src=$2 build=$3
# the full-size recipe has the Llama 3 8B shape: 8,030,261,248 parameters ("The Llama 3 Herd of Models", Table 3)
check test "$("$build/bin/test_llama" --count "$src/recipes/llama/llama3-8b.yaml")" = 8030261248
# ...and every other key of it is valid at a shrunk shape (batch, accumulation, distributed and optimizer keys stay as
# written; the full shape as written is checked, memory-bounded, by tests/test_recipe_check_memory.sh)
"$cformer" recipe check "$src/recipes/llama/llama3-8b.yaml" --set model.dim=64 --set model.layers=2 --set model.heads=4 \
    --set model.kv_heads=2 --set model.hidden=128 --set model.vocab=256 --set data.path="$src/recipes/data/village.txt" \
    >"$tmp/check" 2>&1 && ok || bad "llama3-8b.yaml shrunk: $(tail -2 "$tmp/check")"
mkdir -p "$tmp/neox" "$tmp/none"
echo '{"architectures": ["GPTNeoXForCausalLM"], "hidden_size": 8}' >"$tmp/neox/config.json"
echo '{"hidden_size": 8}' >"$tmp/none/config.json"
"$cformer" import hf "$tmp/neox" -o "$tmp/out" 2>"$tmp/err" && bad "GPT-NeoX imported"
check grep -q "neox/config.json: architecture \"GPTNeoXForCausalLM\" is not supported; supported: .*LlamaForCausalLM" "$tmp/err"
check grep -q "MistralForCausalLM" "$tmp/err"
"$cformer" import hf "$tmp/none" -o "$tmp/out" 2>"$tmp/err" && bad "no architectures imported"
check grep -q 'no "architectures" list' "$tmp/err"
"$cformer" import hf "$tmp/missing" -o "$tmp/out" 2>"$tmp/err" && bad "a missing directory imported"
check grep -q "missing/config.json: cannot open" "$tmp/err"
echo '{"architectures": ["LlamaForCausalLM"], "hidden_size": 8' >"$tmp/none/config.json"
"$cformer" import hf "$tmp/none" -o "$tmp/out" 2>"$tmp/err" && bad "truncated JSON imported"
check grep -q "config.json:2:1: expected .,. or .}." "$tmp/err"
check test ! -e "$tmp/out"
"$cformer" import hf 2>/dev/null; check test $? -eq 2
check "$cformer" import --help >/dev/null
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
