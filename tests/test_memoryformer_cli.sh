#!/usr/bin/env bash
# MemoryFormer through the cformer command: each recipe of recipes/memoryformer/ (memoryformer, dense,
# dense-flops-matched) trained a few steps on the committed village text and evaluated; eval.json carries the
# cross-entropy, the non-attention FLOPs per token (dense about 17.6x the memory model's, the FLOP-matched
# model within 25% of it) and, for the memory model only, a bucket entropy per table (K arrays per site, each
# within [0, tau] bits); then the recipe errors name their key.
source "$(dirname "$0")/harness.bash"
needs_hdf5 "${3:-.}"
cformer=$1 root=$2
dir=$root/recipes/memoryformer
small=(--set data.path="$root/recipes/data/village.txt" --set model.seq=32 --set train.steps=2 --set train.batch_size=4
       --set eval.every=2 --set eval.batches=1 --set eval.windows=8 --set checkpoint.every=2)

for r in memoryformer dense dense-flops-matched; do
    if ! "$cformer" train "$dir/$r.yaml" --run-dir "$tmp/$r" --quiet "${small[@]}" >"$tmp/$r.log" 2>&1; then
        bad "$r: train: $(tail -3 "$tmp/$r.log")"
        continue
    fi
    "$cformer" eval --checkpoint "$tmp/$r/checkpoints/step-00000002.h5" --out "$tmp/$r.json" >"$tmp/$r.eval.log" 2>&1 &&
        ok || bad "$r: eval: $(tail -3 "$tmp/$r.eval.log")"
done

python3 - "$tmp" <<'PY' && ok || bad "eval.json contents"
import json, math, sys
d = {r: json.load(open(f"{sys.argv[1]}/{r}.json")) for r in ("memoryformer", "dense", "dense-flops-matched")}
for r, e in d.items():
    assert math.isfinite(e["ce"]) and 0 < e["ce"] < 7, (r, e["ce"])
    assert e["tokens"] == 8 * 32, (r, e["tokens"])
m, f = d["memoryformer"], "flops_per_token_nonattn"
assert abs(d["dense"][f] / m[f] - 17.6) < 0.1, d["dense"][f] / m[f]
assert 0.8 < d["dense-flops-matched"][f] / m[f] < 1.25, d["dense-flops-matched"][f] / m[f]
assert "bucket_entropy" not in d["dense"] and "bucket_entropy_min" not in d["dense"]
sites = m["bucket_entropy"]
assert sorted(sites) == sorted(f"blocks.{l}.{s}" for l in range(2) for s in ("qkv", "ml1", "ml2")), sorted(sites)
for name, h in sites.items():
    tau = 10 if name.endswith("ml2") else 8
    assert len(h) == 16 and all(0 <= v <= tau + 1e-9 for v in h), (name, h)
assert 0 <= m["bucket_entropy_min"] <= m["bucket_entropy_mean"] <= 1
PY

# recipe errors name the key
expect_error() {
    local want=$1
    shift
    out=$("$cformer" train "$dir/memoryformer.yaml" --run-dir "$tmp/err" "${small[@]}" "$@" 2>&1)
    [ $? -ne 0 ] && echo "$out" | has -- "$want" && ok || bad "$* should fail naming $want: $out"
}
expect_error "model.tau" --set model.tau=5
expect_error "model.block" --set model.block=sparse
expect_error "model.weight" --set model.weight=softmax
expect_error "model.extra_bits" --set model.tau=16 --set model.extra_bits=9
expect_error "model.heads" --set model.heads=3

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
