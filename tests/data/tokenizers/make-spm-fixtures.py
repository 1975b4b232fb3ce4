#!/usr/bin/python3
"""Writes the SentencePiece fixtures of tests/test_spm.c: tiny models trained with the reference library
(Debian's python3-sentencepiece; run with /usr/bin/python3) and, for each, the ids it encodes a corpus of
tricky strings into and the text it decodes id sequences back to.

    /usr/bin/python3 tests/data/tokenizers/make-spm-fixtures.py

Models (all BPE with the identity normaliser, like Llama-2's and Mistral's tokenizer.model):
  llama.model   byte_fallback, add_dummy_prefix, remove_extra_whitespaces off, split_digits, whitespace-only
                pieces allowed (Llama-2's trainer settings), plus user-defined and control symbols;
  plain.model   no byte fallback (unknown characters are <unk>), remove_extra_whitespaces on, no dummy
                prefix, a custom unk_surface and a pad piece;
  noescape.model llama.model without the dummy prefix and with escape_whitespaces off (spaces stay ' ', and
                since no piece has one they fall back to bytes);
  unused.model  llama.model with some merged pieces re-typed UNUSED (which BPE forms and then splits back).
For each model NAME.model, NAME.json holds {"vocab_size", "unk_id", "bos_id", "eos_id", "pad_id",
"encode": [{"text" or "hex", "ids", "decoded"}], "decode": [{"ids", "decoded"}]}. Texts that are not valid
UTF-8 are given as "hex". The training text is recipes/data/village.txt plus a few non-ASCII lines."""
import io
import json
import os
import random
import sys

import sentencepiece as spm

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))

EXTRA = [
    "café naïve über façade déjà vu crème brûlée",
    "Ünïcödé straße größer Äpfel Öl",
    "日本語のテキストを少し書きます。東京は大きい。",
    "中文文本，你好世界。",
    "emoji 😀 🎉 🚀 and more 😀",
    "Ελληνικά και русский текст",
]

CORPUS = [
    b"", b" ", b"   ", b"\n", b"\t", b"\n\n", b"Hello world", b"hello world", b" leading space",
    b"trailing space ", b"  two leading and two trailing  ", b"many     inner      spaces",
    b"tab\tseparated\tvalues", b"new\nline", b"windows\r\nline", b" \t \n mixed \n\t ", b"a", b"ab", b"A",
    b"The village was quiet at dawn.", b"1234567890", b"3.14159 and 2,718", b"year 2024!",
    "café naïve über".encode(), "crème brûlée déjà".encode(), "日本語のテキスト".encode(), "東京".encode(),
    "😀🎉".encode(), "emoji 😀 here".encode(), "ᚠᛇᚻ᛫ᛒᛦᚦ runes".encode(), "𝔘𝔫𝔦𝔠𝔬𝔡𝔢".encode(),
    "Ελληνικά".encode(), "русский".encode(), "ǅ ﬁ ﬀ ℌ".encode(),
    b"NUL\x00inside", b"\x00", b"\xff\xfe bad bytes", b"\xc3", b"trunc\xe6\x97", b"\xed\xa0\x80 surrogate",
    b"\xc0\xaf overlong", b"\xf4\x90\x80\x80 above", "replacement \ufffd char".encode(),
    b"<sep>", b"x<sep>y", b" <sep> ", b"<sep><sep>", b"<tool>call(1)", b"<ctl>", b"<s>hi</s>", b"<unk>",
    b"<0x41>", b"<pad>", "▁".encode(), "▁▁ x".encode(), "a▁b".encode(), b"sep<se", b"<",
    b"supercalifragilisticexpialidocious" * 8, b"a" * 300, b"ab" * 200, b" " * 50 + b"x",
    "ü".encode() * 100, b"!!!???...,,,", b"don't stop-believing (really) [yes] {no}",
]


def train(**opts):
    text = open(os.path.join(ROOT, "recipes", "data", "village.txt"), encoding="utf-8").read()
    lines = text.splitlines() + EXTRA * 40
    out = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_writer=out, model_type="bpe",
                                   normalization_rule_name="identity", num_threads=1, minloglevel=2, **opts)
    return out.getvalue()


# --- a few lines of the protobuf wire format, to re-type pieces (no protobuf module is needed) ---
def varint(b, i):
    v, s = 0, 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << s
        s += 7
        if c < 0x80:
            return v, i


def put_varint(v):
    out = bytearray()
    while True:
        c = v & 0x7F
        v >>= 7
        out.append(c | (0x80 if v else 0))
        if not v:
            return bytes(out)


def fields(b):
    """(field number, wire type, raw bytes of the whole field, payload) of one message."""
    i = 0
    while i < len(b):
        start = i
        key, i = varint(b, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            _, i = varint(b, i)
            payload = None
        elif wt == 2:
            n, i = varint(b, i)
            payload = b[i:i + n]
            i += n
        elif wt == 5:
            i += 4
            payload = None
        elif wt == 1:
            i += 8
            payload = None
        else:
            raise ValueError("wire type %d" % wt)
        yield num, wt, b[start:i], payload


def retype(model, ids, new_type):
    out, index = bytearray(), 0
    for num, wt, raw, payload in fields(model):
        if num == 1 and wt == 2:
            if index in ids:
                body = b"".join(r for n, _, r, _ in fields(payload) if n != 3) + bytes([3 << 3]) + put_varint(new_type)
                raw = bytes([1 << 3 | 2]) + put_varint(len(body)) + body
            index += 1
        out += raw
    return bytes(out)


def renormalize(model, **flags):
    """The model with normalizer_spec's boolean fields (3 add_dummy_prefix, 4 remove_extra_whitespaces,
    5 escape_whitespaces: given by number) set as given."""
    out = bytearray()
    for num, wt, raw, payload in fields(model):
        if num == 3 and wt == 2:
            body = b"".join(r for n, _, r, _ in fields(payload) if "f%d" % n not in flags)
            body += b"".join(bytes([int(k[1:]) << 3]) + put_varint(int(v)) for k, v in sorted(flags.items()))
            raw = bytes([3 << 3 | 2]) + put_varint(len(body)) + body
        out += raw
    return bytes(out)


def text_entry(b):
    try:
        return {"text": b.decode("utf-8")}
    except UnicodeDecodeError:
        return {"hex": b.hex()}


def expected(model, seed):
    sp = spm.SentencePieceProcessor(model_proto=model)
    enc = []
    for b in CORPUS:
        ids = sp.encode(b)
        entry = text_entry(b)
        entry.update(ids=ids, decoded=sp.decode(ids))
        enc.append(entry)
    n = sp.get_piece_size()
    special = [i for i in (sp.unk_id(), sp.bos_id(), sp.eos_id(), sp.pad_id()) if i >= 0]
    ws = sp.piece_to_id("\u2581")
    byte = [sp.piece_to_id("<0x%02X>" % c) for c in (0x41, 0xE6, 0x97, 0xA5, 0xFF, 0x20)]
    hand = [[], special, [ws], [ws, ws], [ws, 50, ws, 60], special + [ws, 70], [sp.unk_id(), 80],
            [n - 1, 0], [sp.bos_id(), ws, 90]]
    if byte[0] != sp.unk_id():
        hand += [byte, byte[1:4], byte[1:3], [ws] + byte[4:], byte[5:] + [ws, 70], [ws] + byte[:1]]
    rng = random.Random(seed)
    hand += [[rng.randrange(n) for _ in range(rng.randrange(1, 24))] for _ in range(40)]
    dec = [{"ids": ids, "decoded": sp.decode(ids)} for ids in hand if all(i >= 0 for i in ids)]
    return {"sentencepiece": spm.__version__, "vocab_size": n, "unk_id": sp.unk_id(), "bos_id": sp.bos_id(),
            "eos_id": sp.eos_id(), "pad_id": sp.pad_id(), "encode": enc, "decode": dec}


def write(name, model, seed):
    with open(os.path.join(HERE, name + ".model"), "wb") as f:
        f.write(model)
    with open(os.path.join(HERE, name + ".json"), "w", encoding="utf-8") as f:
        json.dump(expected(model, seed), f, ensure_ascii=False, indent=None, separators=(",", ":"))
        f.write("\n")


def main():
    llama = train(vocab_size=400, byte_fallback=True, remove_extra_whitespaces=False, split_digits=True,
                  allow_whitespace_only_pieces=True, character_coverage=0.9995,
                  user_defined_symbols=["<sep>", "<tool>"], control_symbols=["<ctl>"])
    write("llama", llama, 1)
    write("plain", train( vocab_size=300, byte_fallback=False, add_dummy_prefix=False,
                         remove_extra_whitespaces=True, character_coverage=0.995, pad_id=3,
                         unk_surface="<?>", control_symbols=["<ctl>"]), 2)
    # the trainer refuses escape_whitespaces off for BPE, so this one is llama.model with the flags changed
    write("noescape", renormalize(llama, f3=False, f4=False, f5=False), 3)
    sp = spm.SentencePieceProcessor(model_proto=llama)
    # a few frequent multi-character pieces, so that BPE forms them and must split them back
    unused = {sp.piece_to_id(p) for p in ("\u2581the", "\u2581a", "in", "er", "\u2581w")} - {sp.unk_id()}
    write("unused", retype(llama, unused, 5), 4)
    return 0


if __name__ == "__main__":
    sys.exit(main())
