#!/usr/bin/env bash
# The full-size recipes of Autoformer, ShapeFormer, AlgoFormer and AxFormer (each `# cformer-test: skip`: their
# data is not offline and their size is hours to days of CPU) pass `cformer recipe check` with shrinking
# overrides (small width, layers and windows, a tiny local data file), so a renamed or misspelt key in them
# fails here; every skipped recipe of those folders is on the list. Also: ShapeFormer's data.val_file (the UEA
# archive has no validation file) and glue-to-synlang.py, which writes a GLUE task in the layout glue-full.yaml
# reads (SST-2 and CoLA layouts, held-out validation, padding and cutting, errors naming file and line).
source "$(dirname "$0")/harness.bash"
cformer=$1 root=$2
command -v python3 >/dev/null || { echo "skipped: no python3"; exit 77; }
export OMP_NUM_THREADS=1

# `rcheck RECIPE SETS...`: recipe check passes; its output in $tmp/rc.log
rcheck() {
    local recipe=$1
    shift
    if "$cformer" recipe check "$root/recipes/$recipe" "$@" >"$tmp/rc.log" 2>&1; then ok; else
        bad "recipe check $recipe (shrunk): $(tail -3 "$tmp/rc.log")"; fi
}

# every skipped recipe of the four folders is one this script checks, and says how to run it
checked="autoformer/ett-full.yaml shapeformer/uea-full.yaml algoformer/full.yaml algoformer/full-standard-12.yaml
axformer/glue-full.yaml"
for f in "$root"/recipes/{autoformer,shapeformer,algoformer,axformer}/*.yaml; do
    head -1 "$f" | has '^# cformer-test: skip (.*)' || continue
    rel=${f#"$root"/recipes/}
    grep -qw "$rel" <<<"$checked" && ok || bad "$rel is skipped by the suite but not checked here"
    grep -q "^#   cformer train recipes/$rel" "$f" && ok || bad "$rel: its header has no cformer train command"
done

# Autoformer at the paper's size (D 512, d_ff 2048) shrunk onto a short synthetic series
"$cformer" data series --out "$tmp/series.csv" --rows 1200 >/dev/null || bad "data series"
rcheck autoformer/ett-full.yaml --set data.path="$tmp/series.csv" --set data.split=ratio --set model.dim=8 \
    --set model.heads=2 --set model.ff=16 --set data.seq_len=48 --set data.label_len=24 --set data.pred_len=24
check grep -q "enc_layers: 2" "$tmp/rc.log"
# a misspelt key is what this test is for: it fails naming the key
"$cformer" recipe check "$root/recipes/autoformer/ett-full.yaml" --set data.path="$tmp/series.csv" \
    --set data.split=ratio --set model.dims=8 >"$tmp/rc.log" 2>&1 && bad "a misspelt key passed recipe check" ||
    check grep -q "unknown key 'model.dims'" "$tmp/rc.log"

# ShapeFormer on a UEA-like folder: TRAIN and TEST only, the val split read from TEST (data.val_file)
"$cformer" data motifs -o "$tmp/uea" --name Tiny >/dev/null && rm "$tmp/uea/Tiny_VAL.ts" || bad "data motifs"
uea=(--set data.path="$tmp/uea" --set data.name=Tiny --set model.shapelets_per_class=1 --set model.shapelet_dim=8
     --set model.generic_dim=8 --set model.hidden=16 --set model.heads=2 --set model.shapelet_max=20
     --set model.discovery_window=5 --set model.search_window=5)
rcheck shapeformer/uea-full.yaml "${uea[@]}"
if has_hdf5 "${3:-.}"; then # training writes a checkpoint
    "$cformer" train "$root/recipes/shapeformer/uea-full.yaml" --run-dir "$tmp/uea-run" --steps 2 --quiet "${uea[@]}" \
        --set eval.every=2 --set eval.batches=1 >"$tmp/log" 2>&1 && ok || bad "uea-full shrunk: $(tail -3 "$tmp/log")"
fi
out=$("$cformer" recipe check "$root/recipes/shapeformer/uea-full.yaml" "${uea[@]}" --set data.val_file=VAL 2>&1) &&
    bad "a missing VAL file accepted" || { grep -q "Tiny_VAL.ts" <<<"$out" && ok || bad "missing VAL: $out"; }
out=$("$cformer" recipe check "$root/recipes/shapeformer/uea-full.yaml" "${uea[@]}" --set data.val_file=DEV 2>&1) &&
    bad "data.val_file DEV accepted" || { grep -q "data.val_file.*unknown value 'DEV' (choose from VAL, TEST)" <<<"$out" &&
    ok || bad "data.val_file DEV: $out"; }

# AlgoFormer (D 256, 8 heads, 20 loops) and the 12-layer GPT-2 baseline, shrunk
for r in full full-standard-12; do
    rcheck algoformer/$r.yaml --set model.dim=16 --set model.heads=2 --set data.dim=3 --set data.n=6 \
        --set data.n_start=4 --set data.eval_items=64 --set eval.batch_size=32
done
check grep -q "pre: 12" "$tmp/rc.log"

# AxFormer: glue-to-synlang.py on a tiny SST-2 and a tiny CoLA, then BERT-base's recipe shrunk onto them
conv="$root/recipes/axformer/glue-to-synlang.py"
mkdir -p "$tmp/sst2" "$tmp/cola"
printf 'sentence\tlabel\n' >"$tmp/sst2/train.tsv"
for i in 1 2 3 4 5 6 7 8; do printf 'the film is good and the %s \t1\nthe film is bad %s\t0\n' "w$i" "x$i"; done \
    >>"$tmp/sst2/train.tsv"
printf 'sentence\tlabel\nthe film is bad bad bad bad bad bad bad bad bad bad\t0\nunseen words here\t1\n' >"$tmp/sst2/dev.tsv"
if python3 "$conv" "$tmp/sst2" --out "$tmp/ids" --len 8 --vocab 10 --val 4 --seed 1 >"$tmp/conv.log" 2>&1; then
    ok
    python3 - "$tmp/ids" <<'PY' && ok || bad "glue-to-synlang.py output"
import sys
d = sys.argv[1]
rd = lambda n: open(f"{d}/{n}").read().splitlines()
vocab = rd("vocab.txt")
# 10 ids: [PAD], [UNK], then the 8 most frequent training words, ties alphabetical
assert vocab == ["[PAD]", "[UNK]", "the", "film", "is", "and", "bad", "good", "w1", "w2"], vocab
train, val, test = rd("train.tsv"), rd("val.tsv"), rd("test.tsv")
assert train[0] == val[0] == test[0] == "sentence\tlabel"
assert len(train) == 13 and len(val) == 5 and len(test) == 3, (len(train), len(val), len(test))
assert test[1] == "w2 w3 w4 w6 w6 w6 w6 w6\t0", test[1]          # cut to 8 words
assert test[2] == "w1 w1 w1 w0 w0 w0 w0 w0\t1", test[2]          # unknown words, then the filler
rows = train[1:] + val[1:]
assert all(len(r.split("\t")[0].split()) == 8 for r in rows)
assert sorted(r.split("\t")[1] for r in rows) == ["0"] * 8 + ["1"] * 8
corpus = rd("corpus.txt")
assert len(corpus) == 16 and sorted(corpus) == sorted(r.split("\t")[0] for r in rows)
PY
else
    bad "glue-to-synlang.py: $(cat "$tmp/conv.log")"
fi
ax=(--set data.path="$tmp/ids" --set data.vocab=10 --set data.len=8 --set model.dim=16 --set model.heads=2
    --set model.hidden=32 --set model.layers=2 --set train.batch_size=4)
rcheck axformer/glue-full.yaml "${ax[@]}"
check grep -q "heads: 2" "$tmp/rc.log"
rcheck axformer/glue-full.yaml "${ax[@]}" --set model.task=mlm --set data.pretrain=true
printf 'gj04\t1\t\tour friends won'"'"'t buy this analysis .\nclc95\t0\t*\tthe more you eat , the more .\n' >"$tmp/cola/train.tsv"
printf 'gj04\t1\t\tthey drank the pub .\n' >"$tmp/cola/dev.tsv"
python3 "$conv" "$tmp/cola" --out "$tmp/cola-ids" --len 6 --vocab 8 --val 1 >/dev/null 2>&1 &&
    [ "$(sed -n 2p "$tmp/cola-ids/test.tsv")" = "w1 w1 w4 w1 w2 w0	1" ] && ok ||
    bad "CoLA layout: $(cat "$tmp/cola-ids/test.tsv" 2>&1)"
printf 'sentence\tlabel\na fine film\t1\na bad film\t2\n' >"$tmp/sst2/train.tsv"
out=$(python3 "$conv" "$tmp/sst2" --out "$tmp/bad" 2>&1)
[ $? -eq 1 ] && grep -q "sst2/train.tsv:3: the label must be 0 or 1, got '2'" <<<"$out" && ok || bad "bad label: $out"
printf 'sentence\tlabel\nno label here\n' >"$tmp/sst2/train.tsv"
out=$(python3 "$conv" "$tmp/sst2" --out "$tmp/bad" 2>&1)
[ $? -eq 1 ] && grep -q "sst2/train.tsv:2: expected sentence<TAB>label" <<<"$out" && ok || bad "no tab: $out"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
