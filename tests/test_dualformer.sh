#!/usr/bin/env bash
# Dualformer through the cformer command as our user runs it: generate a maze file (`cformer data mazes`,
# its help and errors), pretrain a Searchformer on complete traces, fine-tune it on randomized traces with
# --init-from, and evaluate: eval.json holds one object per decoding mode (slow, fast, auto) with the
# Dualformer paper's metrics and their confidence intervals.
source "$(dirname "$0")/harness.bash"
needs_hdf5 "${3:-.}"
cformer=$1

# 1. cformer data
check "$cformer" data --help >/dev/null
"$cformer" data mazes --help | has -- "--size N --count C" && ok || bad "data mazes --help"
"$cformer" data mazes --size 5 -o "$tmp/x.bin" >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "missing --count accepted"
out=$("$cformer" data mazes --size 99 --count 5 -o "$tmp/x.bin" 2>&1); [ $? -eq 2 ] && ok || bad "size 99 accepted"
echo "$out" | has -F -- "--size '99': expected an integer in [2, 32]" && ok || bad "size message: $out"
out=$("$cformer" data mazes --size 5 --count 5 -o "$tmp/nodir/x.bin" 2>&1); [ $? -eq 1 ] && ok || bad "bad path accepted"
echo "$out" | has "nodir" && ok || bad "path message: $out"
"$cformer" data frobnicate >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "unknown data command accepted"
out=$("$cformer" data mazes --size 5 --count 200 --seed 4 -o "$tmp/m.bin") || bad "data mazes"
echo "$out" | has "wrote $tmp/m.bin: 200 5x5 mazes, seed 4, vocabulary 73" && ok || bad "data mazes output: $out"
"$cformer" data info "$tmp/m.bin" | has "200 5x5 mazes" && ok || bad "data info"
cp "$tmp/m.bin" "$tmp/m2.bin"
"$cformer" data mazes --size 5 --count 200 --seed 4 -o "$tmp/m2.bin" >/dev/null && cmp -s "$tmp/m.bin" "$tmp/m2.bin" && ok ||
    bad "generation is not deterministic"
head -c 5000 "$tmp/m.bin" >"$tmp/cut.bin"
out=$("$cformer" data info "$tmp/cut.bin" 2>&1) && bad "truncated file accepted"
echo "$out" | has "cut.bin" && ok || bad "truncated message: $out"

# 2. pretrain (complete traces), fine-tune (randomized traces) from its checkpoint, evaluate
cat >"$tmp/searchformer.yaml" <<EOF
model:
  type: searchformer
  dim: 32
  layers: 1
  heads: 4
data:
  type: mazes
  path: $tmp/m.bin
  trace: full
train:
  steps: 4
  batch_size: 8
  threads: 1
eval:
  tasks: 4
  samples: 2
  max_len: 60
optim:
  lr: 3.0e-3
log:
  every: 2
checkpoint:
  every: 4
EOF
sed -e 's/trace: full/trace: random\n  level_p: [0.4, 0.15, 0.15, 0.1, 0.2]/' "$tmp/searchformer.yaml" >"$tmp/dualformer.yaml"
# a damaged maze file is refused with the file and its fault named (the datasets are opened before the model
# is built, so no message about the model's vocabulary stands in for it), by train and by eval
cp "$tmp/m.bin" "$tmp/flip.bin"
printf '\xff\xff' | dd of="$tmp/flip.bin" bs=1 seek=$(($(wc -c <"$tmp/m.bin") / 2)) conv=notrunc 2>/dev/null
printf 'not a maze file' >"$tmp/junk.bin"
damaged() { # command file fault
    out=$("$cformer" "$1" "$tmp/searchformer.yaml" --run-dir "$tmp/damaged" ${ckpt:+--checkpoint "$ckpt"} \
        --set data.path="$tmp/$2" 2>&1)
    [ $? -eq 1 ] && echo "$out" | has "data: $tmp/$2: .*$3" && ! echo "$out" | has "model\." && ok ||
        bad "$1 on the damaged $2: $out"
}
ckpt=
damaged train cut.bin "truncated"
damaged train flip.bin "outside the vocabulary"
damaged train junk.bin "bad magic (not a cformer maze file)"
"$cformer" train "$tmp/searchformer.yaml" --run-dir "$tmp/sf" --quiet >"$tmp/log" 2>&1 || bad "pretrain: $(tail -3 "$tmp/log")"
ckpt=$tmp/sf/checkpoints/step-00000004.h5
check test -f "$ckpt"
damaged eval cut.bin "truncated"
"$cformer" train "$tmp/dualformer.yaml" --run-dir "$tmp/df" --init-from "$ckpt" >"$tmp/log" 2>&1 || bad "fine-tune: $(tail -3 "$tmp/log")"
grep -q "init from $ckpt" "$tmp/log" && ok || bad "fine-tune did not load the checkpoint"
grep -q "trace: random" "$tmp/df/recipe.yaml" && ok || bad "resolved recipe lacks the trace mode"
ft=$tmp/df/checkpoints/step-00000004.h5
check test -f "$ft"
"$cformer" eval "$tmp/dualformer.yaml" --checkpoint "$ft" --out "$tmp/eval.json" >"$tmp/log" 2>&1 || bad "eval: $(tail -3 "$tmp/log")"
grep -q "1-Optimal-k" "$tmp/log" && ok || bad "eval table"
for key in '"slow": {' '"fast": {' '"auto": {' '"optimal_1_ci": \[' '"slow_fraction_short"' '"slow_fraction_long"' \
    '"swc"' '"steps"' '"diversity"' '"solved_1"' '"optimal_3"' '"step": 4' '"slow_optimal_1"'; do
    grep -q "$key" "$tmp/eval.json" && ok || bad "eval.json lacks $key"
done
if /usr/bin/python3 -c "import json" 2>/dev/null; then
    /usr/bin/python3 - "$tmp/eval.json" <<'PY' && ok || bad "eval.json is not the per-mode JSON"
import json, sys
e = json.load(open(sys.argv[1]))
for mode in ("slow", "fast", "auto"):
    m = e[mode]
    for k in ("solved_1", "optimal_1", "optimal_3", "swc", "steps", "diversity", "slow_fraction"):
        assert k in m and (m[k] is None or 0 <= m[k] <= 1e6), (mode, k)
    assert m["tasks"] == 4 and m["k"] == 2
assert e["fast"]["steps"] == 0 and e["slow"]["slow_fraction"] == 1 and e["fast"]["slow_fraction"] == 0
assert e["k"] == 2 and e["max_len"] == 60
PY
fi
# auto mode's prior: the training data's first-token mix as the loss weighs it -- 1 for complete traces,
# about 1 - p4 = 0.8 under the token-mean loss, less under the sequence-mean loss (plan-only rows are short)
prior() { grep -o '"slow_fraction_prior": [0-9.]*' "$1" | awk '{print $2}'; }
"$cformer" eval "$tmp/searchformer.yaml" --checkpoint "$ft" --out "$tmp/p_full.json" --set 'eval.modes=[auto]' \
    >/dev/null 2>&1 || bad "eval auto (full traces)"
"$cformer" eval "$tmp/dualformer.yaml" --checkpoint "$ft" --out "$tmp/p_tok.json" --set 'eval.modes=[auto]' \
    --set model.loss=token >/dev/null 2>&1 || bad "eval auto (token loss)"
p_full=$(prior "$tmp/p_full.json") p_tok=$(prior "$tmp/p_tok.json") p_seq=$(prior "$tmp/eval.json")
awk -v f="$p_full" -v t="$p_tok" -v s="$p_seq" 'BEGIN { exit !(f == 1 && t > 0.7 && t < 0.9 && s > 0 && s < t - 0.05) }' && ok ||
    bad "auto prior: full $p_full, token $p_tok, sequence $p_seq"
# a mode list in the recipe limits the modes
"$cformer" eval "$tmp/dualformer.yaml" --checkpoint "$ft" --out "$tmp/fast.json" --set 'eval.modes=[fast]' \
    >/dev/null 2>&1 || bad "eval fast only"
grep -q '"fast": {' "$tmp/fast.json" && ! grep -q '"slow": {' "$tmp/fast.json" && ok || bad "eval_modes ignored"
out=$("$cformer" eval "$tmp/dualformer.yaml" --checkpoint "$ft" --set 'eval.modes=[quick]' 2>&1) && bad "bad mode accepted"
echo "$out" | has "eval.modes: unknown mode 'quick'" && ok || bad "bad mode message: $out"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
