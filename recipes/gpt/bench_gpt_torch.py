#!/usr/bin/env python3
"""PyTorch reference for `cformer bench train recipes/bench/gpt-small.yaml`: the same model (byte vocab,
4 layers, d 256, 4 heads, seq 128, batch 8, pre-LN, GELU MLP 4x, learned positions, untied head, no
dropout, AdamW lr 3e-4) on random tokens, timed the same way (warm-up steps, then N timed steps).

    python3 recipes/gpt/bench_gpt_torch.py --steps 20 --threads 1
    python3 recipes/gpt/bench_gpt_torch.py --dim 512 --heads 8 --layers 4 --seq 512 --batch 4 --vocab 256

(the second: another shape, as recipes/gpt/bench-scale.sh runs it beside `--set model.dim=512 ...`;
`--device cuda` times it on a GPU, as tools/gpu-check.sh does beside `train.device: cuda`) and prints `tokens_per_s=<x> step_ms=<y> peak_rss_mb=<z>` as its last line, like cformer."""
import argparse
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, d, h, seq):
        super().__init__()
        self.h = h
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.fc1, self.fc2 = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)
        self.register_buffer("causal", torch.triu(torch.ones(seq, seq, dtype=torch.bool), 1), persistent=False)

    def forward(self, x):
        B, T, D = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(D, dim=2)
        q, k, v = (t.view(B, T, self.h, D // self.h).transpose(1, 2) for t in (q, k, v))
        if hasattr(F, "scaled_dot_product_attention"):  # torch >= 2.0
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            att = (q @ k.transpose(-2, -1)) * (1.0 / (q.shape[-1] ** 0.5))
            att = att.masked_fill(self.causal[:T, :T], float("-inf"))
            y = F.softmax(att, dim=-1) @ v
        x = x + self.proj(y.transpose(1, 2).reshape(B, T, D))
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


class GPT(nn.Module):
    def __init__(self, vocab=256, seq=128, d=256, layers=4, heads=4):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(vocab, d), nn.Embedding(seq, d)
        self.blocks = nn.ModuleList(Block(d, heads, seq) for _ in range(layers))
        self.ln_f, self.head = nn.LayerNorm(d), nn.Linear(d, vocab, bias=False)

    def forward(self, idx):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1], device=idx.device))
        for b in self.blocks:
            x = b(x)
        return self.head(self.ln_f(x))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--vocab", type=int, default=256)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    a = ap.parse_args()
    dev = torch.device(a.device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    B, T, V = a.batch, a.seq, a.vocab
    model = GPT(vocab=V, seq=T, d=a.dim, layers=a.layers, heads=a.heads).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4)
    t0 = 0.0
    for step in range(a.warmup + a.steps):
        if step == a.warmup:
            sync()
            t0 = time.perf_counter()
        x = torch.randint(0, V, (B, T), device=dev)
        y = torch.randint(0, V, (B, T), device=dev)
        loss = F.cross_entropy(model(x).view(-1, V), y.view(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    sync()
    dt = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(f"torch {torch.__version__}, {a.threads} threads, {dev}")
    print(f"tokens_per_s={B * T * a.steps / dt:.1f} step_ms={1e3 * dt / a.steps:.2f} peak_rss_mb={rss}")


if __name__ == "__main__":
    main()
