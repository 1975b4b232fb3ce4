#!/usr/bin/python3
"""Writes the fixtures of tests/test_hf_tokenizer.c: two small byte-level BPE tokenizer.json files in the
layouts of GPT-2 (ByteLevel pre-tokenizer, merges as "a b") and Llama 3 (Split on the cl100k pattern +
ByteLevel, ignore_merges, merges as ["a", "b"], added special tokens), and for each the pre-split chunks and
token ids of a corpus of tricky strings, computed here by an independent reference: Python's `regex` module
for the split patterns (Debian: python3-regex) and OpenAI's GPT-2 `bpe()` merge loop (lowest-ranked bigram,
all its occurrences at once). Run from the repo root with Debian's Python:

    /usr/bin/python3 tests/data/tokenizers/make-hf-fixtures.py

The merges are learned here from recipes/data/village.txt (deterministic: most frequent pair, ties by the
pair's text)."""
import json
import os
import regex

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))

GPT2 = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
LLAMA3 = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""

CORPUS = [
    "", "a", " ", "  ", "hello world", "Hello  world!", "   leading spaces", "trailing spaces   ",
    "tabs\tand\nnewlines\r\nand\r\rcarriage", "line one\n\n\nline two\n", "  \n  \n x", "don't I'LL we're they've",
    "It's 1234567 o'clock, 3.14159 and 42nd", "numbers12345abc  67", "é café naïve façade", "日本語のテキスト 中文",
    "emoji 😀👍🏽 and ZWJ 👨‍👩‍👧", "mixed:punct;;;!!!??? (parens) [brackets] {braces}", "a\u00a0b\u2003c\u3000d",
    "combining e\u0301 and \u0915\u094d\u0937", "Ⅻ roman ½ fraction ² super", "<|begin_of_text|>Hi<|eot_id|>",
    "x<|eot_id|><|eot_id|>y", "The miller's daughter walked to the village well.", "\u2028sep\u2029para",
    "longwordwithoutanyspacesatallthatgoesonandon" * 3, "'S 'T 'RE 'Ve 'm 'LL 'd", "?!. \n\t", "a'b'c''d'''",
]


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


B2U = bytes_to_unicode()


def to_unicode(b):
    return "".join(B2U[x] for x in b)


def learn_merges(text, pattern, n_merges):
    words = {}
    for w in regex.findall(pattern, text):
        u = tuple(to_unicode(w.encode("utf-8")))
        words[u] = words.get(u, 0) + 1
    merges = []
    for _ in range(n_merges):
        pairs = {}
        for w, c in words.items():
            for a, b in zip(w, w[1:]):
                pairs[(a, b)] = pairs.get((a, b), 0) + c
        if not pairs:
            break
        best = max(pairs.items(), key=lambda kv: (kv[1], [-ord(ch) for ch in kv[0][0] + "\0" + kv[0][1]]))[0]
        if pairs[best] < 2:
            break
        merges.append(best)
        new = {}
        for w, c in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out.append(w[i] + w[i + 1])
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            new[tuple(out)] = new.get(tuple(out), 0) + c
        words = new
    return merges


def bpe(token, ranks):
    """OpenAI's GPT-2 encoder.py merge loop."""
    word = tuple(token)
    while len(word) > 1:
        pairs = set(zip(word, word[1:]))
        best = min(pairs, key=lambda p: ranks.get(p, float("inf")))
        if best not in ranks:
            break
        first, second = best
        new, i = [], 0
        while i < len(word):
            try:
                j = word.index(first, i)
            except ValueError:
                new.extend(word[i:])
                break
            new.extend(word[i:j])
            i = j
            if word[i] == first and i < len(word) - 1 and word[i + 1] == second:
                new.append(first + second)
                i += 2
            else:
                new.append(word[i])
                i += 1
        word = tuple(new)
    return word


def encode(text, pattern, vocab, ranks, added, ignore_merges):
    ids = []
    if added:
        parts = regex.split("(" + "|".join(regex.escape(a) for a in sorted(added, key=len, reverse=True)) + ")", text)
    else:
        parts = [text]
    for k, part in enumerate(parts):
        if added and k % 2 == 1:
            ids.append(added[part])
            continue
        for chunk in regex.findall(pattern, part):
            u = to_unicode(chunk.encode("utf-8"))
            if ignore_merges and u in vocab:
                ids.append(vocab[u])
            else:
                ids.extend(vocab[t] for t in bpe(u, ranks))
    return ids


def build(name, pattern, layout):
    text = open(os.path.join(ROOT, "recipes", "data", "village.txt"), encoding="utf-8").read()
    merges = learn_merges(text + "\n".join(CORPUS[:20]), pattern, 300)
    vocab = {B2U[b]: b for b in range(256)}  # ids: bytes in byte order first
    for a, b in merges:
        if a + b not in vocab:
            vocab[a + b] = len(vocab)
    ranks = {m: i for i, m in enumerate(merges)}
    added = {}
    if layout == "llama3":
        for s in ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"]:
            added[s] = len(vocab) + len(added)
        pre = {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": pattern}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]}
        model = {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                 "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": True,
                 "vocab": vocab, "merges": [[a, b] for a, b in merges]}
    else:
        pre = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
        model = {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                 "end_of_word_suffix": "", "fuse_unk": False, "vocab": vocab, "merges": [a + " " + b for a, b in merges]}
    tok = {"version": "1.0", "truncation": None, "padding": None,
           "added_tokens": [{"id": i, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
                             "normalized": False, "special": True} for s, i in added.items()],
           "normalizer": None, "pre_tokenizer": pre, "post_processor": None,
           "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
           "model": model}
    with open(os.path.join(HERE, name + ".tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False, indent=1)
    cases = []
    for s in CORPUS:
        chunks = [len(c.encode("utf-8")) for c in regex.findall(pattern, s)]
        cases.append({"text": s, "split": chunks,
                      "ids": encode(s, pattern, vocab, ranks, added, layout == "llama3"),
                      "ids_plain": encode(s, pattern, vocab, ranks, {}, layout == "llama3")})
    with open(os.path.join(HERE, name + ".expected.json"), "w", encoding="utf-8") as f:
        json.dump({"pattern": pattern, "cases": cases}, f, ensure_ascii=False, indent=0)


build("gpt2", GPT2, "gpt2")
build("llama3", LLAMA3, "llama3")
