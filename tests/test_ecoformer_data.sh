#!/usr/bin/env bash
# EcoFormer's shapes task and fine-tuning through the cformer command: `cformer data lra-shapes` writes the
# same LRA-style TSV files for the same seed (and disjoint splits), the reader refuses a damaged file naming
# the line, and a softmax checkpoint initialises an EcoFormer run (q and v loaded, k unused, the hash buffers
# new and learned on the first batch, then saved: eval.json reports hash_learned 1).
source "$(dirname "$0")/harness.bash"
needs_hdf5 "${3:-.}"
cformer=$1 src=$2

# 1. generator
"$cformer" data lra-shapes --help | has -- "-o DIR" && ok || bad "data lra-shapes --help"
"$cformer" data lra-shapes --size 2 -o "$tmp/a" >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "size 2 accepted"
"$cformer" data lra-shapes --size 8 --train 20 --val 5 --test 5 --seed 3 -o "$tmp/a" >/dev/null || bad "lra-shapes a"
"$cformer" data lra-shapes --size 8 --train 20 --val 5 --test 5 --seed 3 -o "$tmp/b" >/dev/null || bad "lra-shapes b"
check cmp -s "$tmp/a/shapes8_train.tsv" "$tmp/b/shapes8_train.tsv"
check test "$(head -1 "$tmp/a/shapes8_train.tsv")" = "$(printf 'Source\tTarget')"
check test "$(wc -l < "$tmp/a/shapes8_train.tsv")" -eq 21
# each row: 64 pixel values, a tab, a class in 0..3; train and test share no row
awk -F'\t' 'NR > 1 { if (split($1, p, " ") != 64 || $2 !~ /^[0-3]$/) bad = 1 } END { exit bad }' \
    "$tmp/a/shapes8_train.tsv" && ok || bad "row format"
[ -z "$(comm -12 <(tail -n +2 "$tmp/a/shapes8_train.tsv" | sort) <(tail -n +2 "$tmp/a/shapes8_test.tsv" | sort))" ] \
    && ok || bad "train and test share rows"
# all four classes appear
check test "$(cut -f2 "$tmp/a/shapes8_train.tsv" | tail -n +2 | sort -u | wc -l)" -eq 4

# 2. a damaged file is refused with its line
cp "$tmp/a/shapes8_train.tsv" "$tmp/bad_train.tsv"
sed -i '3s/\t[0-3]$/\tx/' "$tmp/bad_train.tsv"
mkdir -p "$tmp/bad" && mv "$tmp/bad_train.tsv" "$tmp/bad/shapes8_train.tsv"
cp "$tmp/a/shapes8_val.tsv" "$tmp/a/shapes8_test.tsv" "$tmp/bad/"
recipe=$src/recipes/ecoformer/ecoformer.yaml
small=(--set data.size=8 --set model.anchors=6 --set model.topk=3 --set model.hash_iters=3 --set train.batch_size=4
       --set eval.every=2 --set eval.batches=1 --set eval.auc_rows=4 --steps 2)
out=$("$cformer" train "$recipe" --run-dir "$tmp/r0" --set data.path="$tmp/bad" "${small[@]}" 2>&1)
[ $? -ne 0 ] && ok || bad "damaged file accepted"
echo "$out" | has "shapes8_train.tsv:3:" && ok || bad "damage message: $out"

# 3. softmax -> EcoFormer fine-tuning
"$cformer" train "$src/recipes/ecoformer/softmax.yaml" --run-dir "$tmp/sm" --quiet --set data.path="$tmp/a" \
    "${small[@]}" >"$tmp/sm.log" 2>&1 || bad "softmax: $(tail -3 "$tmp/sm.log")"
out=$("$cformer" train "$recipe" --run-dir "$tmp/eco" --set data.path="$tmp/a" "${small[@]}" \
      --init-from "$tmp/sm/checkpoints/step-00000002.h5" 2>&1) || bad "ecoformer: $out"
echo "$out" | has "attn.k.weight" && ok || bad "the softmax k weights are not reported unused: $out"
echo "$out" | has "attn.hash.proj" && ok || bad "the hash buffers are not reported new: $out"
"$cformer" eval --checkpoint "$tmp/eco/checkpoints/step-00000002.h5" --set data.path="$tmp/a" >/dev/null 2>&1 \
    || bad "eval of the fine-tuned checkpoint"
grep -q '"hash_learned": 1' "$tmp/eco/eval.json" && ok || bad "hash not learned: $(cat "$tmp/eco/eval.json")"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
