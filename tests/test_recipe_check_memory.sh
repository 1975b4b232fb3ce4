#!/usr/bin/env bash
# `cformer recipe check` builds the model with shapes only: checking an 8B recipe costs what the process costs
# without a model, and the parameter count and the memory it reports are those of the normal build (compared on
# shrunk shapes, where the normal build is affordable). Args: <cformer-binary> <source-dir> <build-dir>.
source "$(dirname "$0")/harness.bash"
cformer=$1 src=$2 build=$3
if [ ! -r /proc/self/status ]; then
    echo "skipped: no /proc to watch the check's memory"
    exit 77
fi
llama=$src/recipes/llama/llama3-8b.yaml gpt=$src/recipes/bench/gpt2-124m.yaml
text=(--set data.path="$src/recipes/data/village.txt")

# `peak LIMIT_KB OUT CMD...`: runs CMD (stdout and stderr to OUT), kills it if its resident set passes LIMIT_KB
# (so a check that allocated the model cannot take the machine down), prints its peak RSS in kB (the kernel's
# ru_maxrss), and returns its exit status (137 when killed).
peak() {
    python3 - "$@" <<'PY'
import os, resource, subprocess, sys, time
limit, out, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
with open(out, "w") as f:
    p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT)
    while p.poll() is None:
        try:
            with open("/proc/%d/status" % p.pid) as s:
                rss = next((int(l.split()[1]) for l in s if l.startswith("VmRSS:")), 0)
        except OSError:
            rss = 0
        if rss > limit:
            p.kill()
        time.sleep(0.02)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(p.returncode if p.returncode >= 0 else 128 - p.returncode)
PY
}
# the process alone: the binary and its libraries (CUDA runtime, MPI, OpenBLAS ...), no model
base=$(peak 4000000 "$tmp/base" "$cformer" list ops) || bad "cformer list ops: $(tail -2 "$tmp/base")"
limit=$((base + 256 * 1024)) # a model's shapes cost a few MB: the position tables and norm scales it writes

# 1. the full 8B shape as written (distributed.zero: 1; ZeRO-1's collectives go in pieces past 2^31 elements):
#    8,030,261,248 parameters (test_llama --count sums the config's shapes independently)
rss=$(peak "$limit" "$tmp/8b" "$cformer" recipe check "$llama" "${text[@]}")
rc=$?
[ $rc -eq 0 ] && ok || bad "recipe check llama3-8b.yaml (rc $rc, peak RSS $rss kB, base $base kB): $(tail -2 "$tmp/8b")"
[ "$rss" -le "$limit" ] && ok || bad "recipe check llama3-8b.yaml: peak RSS $rss kB, over the base $base kB + 256 MB"
want=$("$build/bin/test_llama" --count "$llama")
head -1 "$tmp/8b" | has "llama3-8b.yaml: ok ($want parameters)" && ok ||
    bad "8B count: $(head -1 "$tmp/8b") (test_llama --count: $want)"
# f32 weights and gradients of the flat buffer (the parameters 64-byte aligned: 8030261248 + padding), AdamW's 2 slots
has "weights 32.12 GB + gradients 32.12 GB + optimizer state 64.24 GB (2 slots) = 128.48 GB" <"$tmp/8b" && ok ||
    bad "8B memory: $(sed -n 2p "$tmp/8b")"
echo "llama3-8b.yaml checked in $rss kB peak RSS (the process alone: $base kB)"

# 2. a second family at full size (GPT-2 124M with an untied head), also bounded
rss=$(peak "$limit" "$tmp/gpt" "$cformer" recipe check "$gpt") || bad "gpt2-124m.yaml: $(tail -2 "$tmp/gpt")"
[ "$rss" -le "$limit" ] && ok || bad "recipe check gpt2-124m.yaml: peak RSS $rss kB, over $limit kB"

# 3. without ZeRO (distributed.zero: 0) the same count and memory (a check is one process: nothing to shard), as bounded
rss=$(peak "$limit" "$tmp/zero0" "$cformer" recipe check "$llama" "${text[@]}" --set distributed.zero=0) ||
    bad "llama3-8b.yaml with distributed.zero=0: $(tail -2 "$tmp/zero0")"
[ "$rss" -le "$limit" ] && ok || bad "recipe check llama3-8b.yaml, distributed.zero=0: peak RSS $rss kB, over $limit kB"
[ "$(head -2 "$tmp/8b")" = "$(head -2 "$tmp/zero0")" ] && ok ||
    bad "distributed.zero 0 and 1 count or size differently: $(diff <(head -2 "$tmp/8b") <(head -2 "$tmp/zero0"))"

# 4. shrunk, the normal build is affordable: the check's count and memory are the normal build's. `bench train`
#    builds the model and the optimizer and prints their bytes; `train` prints the count.
small_llama=("${text[@]}" --set model.dim=64 --set model.layers=2 --set model.heads=4 --set model.kv_heads=2
    --set model.hidden=160 --set model.vocab=300 --set model.seq=32 --set train.batch_size=2 --set train.grad_accum=1
    --set distributed.zero=0 --set train.threads=1)
small_gpt=(--set model.layers=1 --set model.dim=48 --set model.heads=4 --set model.vocab=1000 --set data.vocab=1000 --set model.seq=16 --set model.hidden=96
    --set train.batch_size=2 --set train.threads=1)
compare() { # NAME RECIPE SETS...
    local name=$1 recipe=$2
    shift 2
    "$cformer" recipe check "$recipe" "$@" >"$tmp/c" 2>&1 || { bad "$name: recipe check: $(tail -2 "$tmp/c")"; return; }
    "$cformer" bench train "$recipe" "$@" --steps 1 --warmup 0 >"$tmp/b" 2>&1 || { bad "$name: bench: $(tail -2 "$tmp/b")"; return; }
    local checked built
    checked=$(sed -n 's/.*= \([0-9.]*\) MB, plus.*/\1/p' "$tmp/c")
    built=$(sed -n 's/.*parameters + gradients + optimizer state \([0-9.]*\) MB.*/\1/p' "$tmp/b")
    [ -n "$checked" ] && [ "$checked" = "$built" ] && ok || bad "$name: check says $checked MB, the built model $built MB"
    if has_hdf5 "$build"; then # train writes a checkpoint at its end
        "$cformer" train "$recipe" "$@" --steps 1 --run-dir "$tmp/run-$name" >"$tmp/t" 2>&1 ||
            { bad "$name: train: $(tail -2 "$tmp/t")"; return; }
        checked=$(sed -n 's/.*: ok (\([0-9]*\) parameters)$/\1/p' "$tmp/c")
        built=$(sed -n 's/^model [a-z0-9_-]*: \([0-9]*\) parameters;.*/\1/p' "$tmp/t")
        [ -n "$checked" ] && [ "$checked" = "$built" ] && ok || bad "$name: check counts $checked, the built model $built"
    fi
}
compare llama "$llama" "${small_llama[@]}"
compare gpt "$gpt" "${small_gpt[@]}"
compare gpt-sgd "$gpt" "${small_gpt[@]}" --set optim.type=sgd --set optim.momentum=0.9

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
