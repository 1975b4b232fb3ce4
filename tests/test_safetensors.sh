#!/usr/bin/env bash
# Checks checkpoints and safetensors exports with readers that share no code with ours: h5py for the
# checkpoint (read as a PyTorch-style state_dict) and a few lines of json + numpy for safetensors.
# Args: <cformer-binary> <source-dir> <build-dir>. Exit 77 (skipped) without /usr/bin/python3 + numpy + h5py.
set -u
PY=/usr/bin/python3
BIN="$3/bin/test_checkpoint_use"
if [ ! -x "$PY" ] || ! "$PY" -c "import numpy, h5py" 2>/dev/null; then
    echo "skipped: /usr/bin/python3 with numpy and h5py is needed"
    exit 77
fi
DIR=$(mktemp -d "${TMPDIR:-/tmp}/cf_st_XXXXXX") || exit 1
trap 'rm -rf "$DIR"' EXIT
"$BIN" --export "$DIR"
rc=$?
if [ $rc -ne 0 ]; then
    [ $rc -eq 77 ] && echo "skipped: this build has no HDF5"
    exit $rc
fi

"$PY" - "$DIR" <<'EOF'
import json, struct, sys
import numpy as np
import h5py

d = sys.argv[1]
passed = failed = 0

def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what)

# expected values: "name ndim dims... hexbits..." per line, exact f32 bit patterns
expected, recipe_len = {}, None
with open(f"{d}/expected.txt") as f:
    for line in f:
        tok = line.split()
        if tok[0] == "recipe":
            recipe_len = int(tok[1])
            continue
        nd = int(tok[1])
        shape = tuple(int(x) for x in tok[2:2 + nd])
        bits = np.array([int(x, 16) for x in tok[2 + nd:]], dtype=np.uint32)
        expected[tok[0]] = bits.view(np.float32).reshape(shape)

# ---- the checkpoint, through h5py only ----
with h5py.File(f"{d}/model.h5", "r") as f:
    check(f.attrs["format"].decode() == "cformer-checkpoint", "format attribute")
    check(int(f.attrs["format_version"]) == 1, "format_version attribute")
    check(f.attrs["created_by"].decode() == "cformer 0.1.0", "created_by attribute")
    recipe = f.attrs["recipe"].decode("utf-8")
    check(len(recipe.encode()) == recipe_len and "lr: 3.0e-4" in recipe, "recipe attribute")
    sd = {k: f["model"][k][()] for k in f["model"]}  # what a PyTorch user would do
    check(set(sd) == set(expected), f"model tensors {sorted(sd)}")
    for k, want in expected.items():
        got = sd.get(k)
        ok = got is not None and got.dtype == np.dtype("<f4") and got.shape == want.shape
        check(ok and np.array_equal(got.view(np.uint32), want.view(np.uint32)), f"/model/{k} values")
    big = f["model/blocks.0.mlp.fc1.weight"]
    check(big.compression == "gzip" and big.compression_opts == 4, f"deflate level 4 ({big.compression}, {big.compression_opts})")
    check(big.shuffle and big.fletcher32 and big.chunks is not None, "shuffle + fletcher32 + chunked")
    check(f["model/logit_scale"].shape == (), "a 0-d parameter is a scalar dataset")
    for slot in ("exp_avg", "exp_avg_sq"):
        g = f["optim"][slot]
        check(set(g) == set(expected) and all(g[k].shape == expected[k].shape for k in g), f"/optim/{slot} tensors")
    ts = f["train_state"]
    check(int(ts["step"][()]) == 1234 and int(ts["epoch"][()]) == 3 and int(ts["cursor"][()]) == 777, "train_state scalars")
    check(int(ts["seed"][()]) == 0xfedcba9876543210 and int(ts["world_size"][()]) == 2, "seed / world_size")
    check([int(x) for x in ts["rng"][()]] == [0xdeadbeefcafebabe, 1, 2**64 - 1, 42], "rng words")
    check(float(ts["extra/lr"][()]) == 3.0e-4 and float(ts["extra/best_val_loss"][()]) == 1.0 / 3.0, "extras")

# ---- safetensors, parsed by hand ----
def bf16_bits(x):
    """round-to-nearest-even f32 -> bf16, as bit patterns (inputs have no NaN)"""
    u = x.view(np.uint32).astype(np.uint64)
    one, sixteen = np.uint64(1), np.uint64(16)
    return ((u + np.uint64(0x7FFF) + ((u >> sixteen) & one)) >> sixteen).astype(np.uint16)

for tag, st_dtype in (("f32", "F32"), ("bf16", "BF16"), ("f16", "F16")):
    raw = open(f"{d}/model.{tag}.safetensors", "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    check(n % 8 == 0, f"{tag}: header length {n} is padded to 8")
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    data = raw[8 + n:]
    meta = header.pop("__metadata__", None)
    check(meta == {"format": "pt", "step": "1234", "recipe_format_version": "1"}, f"{tag}: metadata {meta}")
    names = list(header)
    check(names == sorted(expected), f"{tag}: tensors sorted by name: {names}")
    offset = 0
    for k in names:
        h = header[k]
        b, e = h["data_offsets"]
        check(h["dtype"] == st_dtype and b == offset, f"{tag}: {k} dtype / contiguous offsets")
        offset = e
        want = expected.get(k)
        check(want is not None and tuple(h["shape"]) == want.shape, f"{tag}: {k} shape {h['shape']}")
        if want is None:
            continue
        want = want.reshape(-1)  # 1-d from here: numpy treats 0-d arrays like scalars in casts
        if st_dtype == "F32":
            got = np.frombuffer(data[b:e], dtype="<f4")
            check(np.array_equal(got.view(np.uint32), want.view(np.uint32)), f"f32: {k} exact")
        elif st_dtype == "BF16":
            got = np.frombuffer(data[b:e], dtype="<u2")
            check(np.array_equal(got, bf16_bits(want)), f"bf16: {k} round-to-nearest-even")
            back = (got.astype(np.uint32) << np.uint32(16)).view(np.float32)
            check(np.all(np.abs(back - want) <= np.abs(want) * 2.0**-8), f"bf16: {k} within bf16 rounding")
        else:
            got = np.frombuffer(data[b:e], dtype="<f2")
            check(np.array_equal(got.view(np.uint16), want.astype(np.float16).view(np.uint16)), f"f16: {k} exact rounding")
    check(offset == len(data), f"{tag}: data ends at the last tensor ({offset} of {len(data)})")

try:  # the real library too, where it is installed
    from safetensors.numpy import load_file
    t = load_file(f"{d}/model.f32.safetensors")
    check(all(np.array_equal(t[k], v) for k, v in expected.items()), "safetensors.numpy.load_file")
except ImportError:
    pass

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
EOF
