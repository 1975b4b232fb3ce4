"""Random-weight Llama / Mistral checkpoints in the Hugging Face layout, and an independent reference forward.

    llama_reference.py write DIR CASE [--shards N]   config.json + safetensors (numpy only) + tokens.txt
    llama_reference.py logits DIR                     DIR/ref_logits.f64 from the reference forward (PyTorch)
    llama_reference.py compare A B                    max |A - B| of two raw float64 files (prints it)
    llama_reference.py same-tensors DIR1 DIR2         every tensor of DIR2's model.safetensors bit-identical to DIR1's

The weights are drawn in Meta's original layout, where RoPE rotates interleaved pairs (2i, 2i+1) of each head
("Llama 2: Open Foundation and Fine-Tuned Chat Models", Section 2.2, rotary embeddings as in RoFormer), and
written the way Hugging Face's conversion stores them: the q and k rows permuted per head into the
rotate-half order (pairs (i, i + head_dim/2)). The reference forward here uses the unpermuted weights and
complex rotation of adjacent pairs, so it shares no layout assumption with the importer. It computes in
float64 from the weights as stored (bf16 / f16 values widened), with grouped-query attention (key/value head
i // (heads / kv_heads)) and Mistral's sliding window ("Mistral 7B", Section 2: query i sees keys
i - W < j <= i)."""
import json
import math
import os
import struct
import sys

import numpy as np

CASES = {
    # name: config overrides, dtype
    "llama2-f32": dict(dtype="f32", vocab=64, dim=32, layers=2, heads=4, kv_heads=2, hidden=88, theta=10000.0,
                       tie=False, window=0, scaling=None),
    "llama3-bf16": dict(dtype="bf16", vocab=80, dim=64, layers=2, heads=4, kv_heads=1, hidden=96, theta=500000.0,
                        tie=False, window=0,
                        scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                                     original_max_position_embeddings=64)),
    "mistral-f16": dict(dtype="f16", vocab=50, dim=48, layers=3, heads=4, kv_heads=2, head_dim=16, hidden=64,
                        theta=1000000.0, tie=True, window=5, scaling=dict(type="linear", factor=2.0)),
    "llama2-f32-tied": dict(dtype="f32", vocab=256, dim=32, layers=1, heads=2, kv_heads=2, hidden=40, theta=10000.0,
                            tie=True, window=0, scaling=None),
}
T, B = 12, 2


def head_dim(c):
    return c.get("head_dim", c["dim"] // c["heads"])


def meta_weights(c, seed):
    """Meta-layout weights as float32 arrays, keyed by Hugging Face name (q/k still unpermuted)."""
    rng = np.random.default_rng(seed)
    d, hd, H, Hkv, F, V = c["dim"], head_dim(c), c["heads"], c["kv_heads"], c["hidden"], c["vocab"]
    mat = lambda o, i: (rng.standard_normal((o, i)) / math.sqrt(i)).astype(np.float32)
    norm = lambda: (1.0 + 0.1 * rng.standard_normal(d)).astype(np.float32)
    w = {"model.embed_tokens.weight": rng.standard_normal((V, d)).astype(np.float32)}
    for l in range(c["layers"]):
        p = f"model.layers.{l}."
        w[p + "input_layernorm.weight"] = norm()
        w[p + "self_attn.q_proj.weight"] = mat(H * hd, d)
        w[p + "self_attn.k_proj.weight"] = mat(Hkv * hd, d)
        w[p + "self_attn.v_proj.weight"] = mat(Hkv * hd, d)
        w[p + "self_attn.o_proj.weight"] = mat(d, H * hd)
        w[p + "post_attention_layernorm.weight"] = norm()
        w[p + "mlp.gate_proj.weight"] = mat(F, d)
        w[p + "mlp.up_proj.weight"] = mat(F, d)
        w[p + "mlp.down_proj.weight"] = mat(d, F)
    w["model.norm.weight"] = norm()
    if not c["tie"]:
        w["lm_head.weight"] = mat(V, d)
    return w


def to_hf_rows(w, n_heads):
    """Meta's interleaved pairs -> Hugging Face's rotate-half rows (their conversion script's permute)."""
    out, i = w.shape
    return w.reshape(n_heads, out // n_heads // 2, 2, i).transpose(0, 2, 1, 3).reshape(out, i)


def bf16_bits(x):
    u = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def stored(x, dtype):
    """(bytes, the float64 values a reader gets back)"""
    if dtype == "bf16":
        b = bf16_bits(x)
        return b.tobytes(), (b.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    if dtype == "f16":
        h = x.astype(np.float16)
        return h.tobytes(), h.astype(np.float64)
    return x.astype("<f4").tobytes(), x.astype(np.float64)


def write_safetensors(path, tensors, st_dtype):
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for name in sorted(tensors):
        raw, shape = tensors[name]
        header[name] = {"dtype": st_dtype, "shape": list(shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def write(d, case, shards):
    c = CASES[case]
    os.makedirs(d, exist_ok=True)
    w = meta_weights(c, seed=sorted(CASES).index(case) + 1)
    hd = head_dim(c)
    st_dtype = {"f32": "F32", "bf16": "BF16", "f16": "F16"}[c["dtype"]]
    tensors, values = {}, {}
    for name, x in w.items():
        if name.endswith("q_proj.weight"):
            x = to_hf_rows(x, c["heads"])
        elif name.endswith("k_proj.weight"):
            x = to_hf_rows(x, c["kv_heads"])
        raw, back = stored(x, c["dtype"])
        tensors[name] = (raw, x.shape)
        values[name] = back
    config = {
        "architectures": ["MistralForCausalLM" if c["window"] else "LlamaForCausalLM"],
        "model_type": "mistral" if c["window"] else "llama",
        "vocab_size": c["vocab"], "hidden_size": c["dim"], "intermediate_size": c["hidden"],
        "num_hidden_layers": c["layers"], "num_attention_heads": c["heads"], "num_key_value_heads": c["kv_heads"],
        "max_position_embeddings": 128, "rms_norm_eps": 1e-5, "rope_theta": c["theta"], "hidden_act": "silu",
        "tie_word_embeddings": c["tie"], "rope_scaling": c["scaling"],
        "torch_dtype": {"f32": "float32", "bf16": "bfloat16", "f16": "float16"}[c["dtype"]],
        "sliding_window": c["window"] or None,
    }
    if "head_dim" in c:
        config["head_dim"] = c["head_dim"]
    json.dump(config, open(f"{d}/config.json", "w"), indent=2)
    names = sorted(tensors)
    if shards <= 1:
        write_safetensors(f"{d}/model.safetensors", tensors, st_dtype)
    else:
        weight_map = {}
        for s in range(shards):
            fname = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
            part = {n: tensors[n] for n in names[s::shards]}
            write_safetensors(f"{d}/{fname}", part, st_dtype)
            weight_map.update({n: fname for n in part})
        json.dump({"metadata": {"total_size": 0}, "weight_map": weight_map},
                  open(f"{d}/model.safetensors.index.json", "w"), indent=2)
    rng = np.random.default_rng(99)
    tokens = rng.integers(0, c["vocab"], size=(B, T))
    np.savetxt(f"{d}/tokens.txt", tokens, fmt="%d")
    # the stored values, back in Meta's layout, for the reference forward
    meta = {}
    for name, x in values.items():
        n_heads = c["heads"] if name.endswith("q_proj.weight") else c["kv_heads"]
        if name.endswith(("q_proj.weight", "k_proj.weight")):  # invert the permutation
            out, i = x.shape
            x = x.reshape(n_heads, 2, out // n_heads // 2, i).transpose(0, 2, 1, 3).reshape(out, i)
        meta[name] = x
    np.savez(f"{d}/meta_weights.npz", **meta)
    json.dump({"case": case, **c}, open(f"{d}/case.json", "w"))


def inv_freq(c):
    hd = head_dim(c)
    f = [c["theta"] ** (-2.0 * i / hd) for i in range(hd // 2)]
    s = c["scaling"]
    kind = s and (s.get("rope_type") or s.get("type"))
    if kind == "linear":
        f = [x / s["factor"] for x in f]
    elif kind == "llama3":  # Llama 3.1's frequency-dependent interpolation
        old, lo, hi, fac = s["original_max_position_embeddings"], s["low_freq_factor"], s["high_freq_factor"], s["factor"]
        out = []
        for x in f:
            wl = 2 * math.pi / x
            if wl < old / hi:
                out.append(x)
            elif wl > old / lo:
                out.append(x / fac)
            else:
                sm = (old / wl - lo) / (hi - lo)
                out.append((1 - sm) * x / fac + sm * x)
        f = out
    return f


def logits(d):
    import torch
    c = json.load(open(f"{d}/case.json"))
    w = {k: torch.from_numpy(v) for k, v in np.load(f"{d}/meta_weights.npz").items()}
    tok = torch.from_numpy(np.loadtxt(f"{d}/tokens.txt", dtype=np.int64).reshape(B, T))
    H, Hkv, hd, eps = c["heads"], c["kv_heads"], head_dim(c), 1e-5
    freqs = torch.outer(torch.arange(T, dtype=torch.float64), torch.tensor(inv_freq(c), dtype=torch.float64))
    cis = torch.polar(torch.ones_like(freqs), freqs)  # [T, hd/2]

    def rope(x):  # x [B, T, h, hd], interleaved pairs
        xc = torch.view_as_complex(x.reshape(*x.shape[:-1], hd // 2, 2).contiguous())
        return torch.view_as_real(xc * cis[None, :, None, :]).reshape(x.shape)

    def rms(x, g):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * g

    i = torch.arange(T)[:, None]
    j = torch.arange(T)[None, :]
    allowed = (j <= i) & ((i - j < c["window"]) if c["window"] else torch.ones(T, T, dtype=torch.bool))
    h = w["model.embed_tokens.weight"][tok]
    for l in range(c["layers"]):
        p = f"model.layers.{l}."
        a = rms(h, w[p + "input_layernorm.weight"])
        q = rope((a @ w[p + "self_attn.q_proj.weight"].T).view(B, T, H, hd))
        k = rope((a @ w[p + "self_attn.k_proj.weight"].T).view(B, T, Hkv, hd))
        v = (a @ w[p + "self_attn.v_proj.weight"].T).view(B, T, Hkv, hd)
        k, v = k.repeat_interleave(H // Hkv, dim=2), v.repeat_interleave(H // Hkv, dim=2)
        s = torch.einsum("bthd,bshd->bhts", q, k) / math.sqrt(hd)
        s = s.masked_fill(~allowed, float("-inf"))
        y = torch.einsum("bhts,bshd->bthd", torch.softmax(s, -1), v).reshape(B, T, H * hd)
        h = h + y @ w[p + "self_attn.o_proj.weight"].T
        m = rms(h, w[p + "post_attention_layernorm.weight"])
        gate, up = m @ w[p + "mlp.gate_proj.weight"].T, m @ w[p + "mlp.up_proj.weight"].T
        h = h + (torch.nn.functional.silu(gate) * up) @ w[p + "mlp.down_proj.weight"].T
    out = rms(h, w["model.norm.weight"]) @ (w["model.embed_tokens.weight"] if c["tie"] else w["lm_head.weight"]).T
    out.numpy().astype("<f8").tofile(f"{d}/ref_logits.f64")


def read_st(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    hdr = json.loads(raw[8:8 + n])
    hdr.pop("__metadata__", None)
    return {k: (v["dtype"], v["shape"], raw[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]]) for k, v in hdr.items()}


def all_tensors(d):
    if os.path.exists(f"{d}/model.safetensors"):
        return read_st(f"{d}/model.safetensors")
    idx = json.load(open(f"{d}/model.safetensors.index.json"))["weight_map"]
    out = {}
    for f in sorted(set(idx.values())):
        out.update(read_st(f"{d}/{f}"))
    return out


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "write":
        shards = int(sys.argv[sys.argv.index("--shards") + 1]) if "--shards" in sys.argv else 1
        write(sys.argv[2], sys.argv[3], shards)
    elif cmd == "logits":
        logits(sys.argv[2])
    elif cmd == "compare":
        a, b = np.fromfile(sys.argv[2], "<f8"), np.fromfile(sys.argv[3], "<f8")
        if a.shape != b.shape:
            sys.exit(f"shapes differ: {a.shape} vs {b.shape}")
        print(f"{np.abs(a - b).max():.3e} (logits of magnitude up to {np.abs(b).max():.2f})")
    elif cmd == "same-tensors":
        a, b = all_tensors(sys.argv[2]), all_tensors(sys.argv[3])
        bad = [k for k in a if k not in b or a[k] != b[k]] + [k for k in b if k not in a]
        if bad:
            sys.exit("tensors differ or are missing: " + ", ".join(sorted(bad)[:5]))
        print(f"{len(a)} tensors bit-identical")
