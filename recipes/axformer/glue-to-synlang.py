#!/usr/bin/env python3
"""A GLUE single-sentence task (SST-2 or CoLA, as the GLUE download ships them) in the word-id layout that
`data.type: synlang` reads (data/synlang/synlang.h), for recipes/axformer/glue-full.yaml:

    recipes/axformer/glue-to-synlang.py GLUE/SST-2 --out data/sst2 [--len 127] [--vocab 30000] [--val 872] [--seed 1]

Reads TASK/train.tsv and TASK/dev.tsv: SST-2's layout (a header `sentence<TAB>label`, then one sentence and a
0/1 label a line) or CoLA's (no header; source, label, original label, sentence). Words are the lowercased
whitespace-separated tokens; the vocabulary is the training split's VOCAB - 2 most frequent words (ties in
alphabetical order) as w2, w3, ...; w0 fills a sentence shorter than LEN words and w1 stands for a word outside
the vocabulary; longer sentences are cut to their first LEN words. Writes, in OUT:
  train.tsv   the training sentences less the validation ones (header `sentence<TAB>label`)
  val.tsv     VAL training sentences drawn with SEED: the split AxFormer's search decides on
  test.tsv    GLUE's dev split, the one papers report (GLUE's test labels are not public)
  corpus.txt  every training sentence without its label, one a line (masked-token pre-training, data.pretrain)
  vocab.txt   the word of each id, one a line (w0 [PAD], w1 [UNK], then the vocabulary)
A malformed file is refused naming the file and the line. Exit status 0, 1 (bad input), 2 (bad arguments).
"""
import argparse
import collections
import os
import random
import sys


def die(msg):
    print(f"glue-to-synlang: {msg}", file=sys.stderr)
    sys.exit(1)


def read_task(path):
    """[(words, label)] of an SST-2- or CoLA-layout TSV file."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        die(f"{path}: {e}")
    out = []
    sst2 = bool(lines) and lines[0].split("\t")[:2] == ["sentence", "label"]
    for no, line in enumerate(lines, 1):
        if sst2 and no == 1 or not line.strip():
            continue
        cols = line.split("\t")
        if sst2 and len(cols) == 2:
            sentence, label = cols
        elif not sst2 and len(cols) == 4:
            sentence, label = cols[3], cols[1]
        else:
            die(f"{path}:{no}: expected sentence<TAB>label (SST-2, with its header) or the 4 columns of CoLA")
        if label not in ("0", "1"):
            die(f"{path}:{no}: the label must be 0 or 1, got '{label}'")
        words = sentence.lower().split()
        if not words:
            die(f"{path}:{no}: empty sentence")
        out.append((words, int(label)))
    if not out:
        die(f"{path}: no sentences")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("task", help="the GLUE task's folder (train.tsv, dev.tsv)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--len", type=int, default=127, help="words a sentence (rows are [CLS] + LEN)")
    ap.add_argument("--vocab", type=int, default=30000, help="ids w0 .. w(VOCAB-1), the recipe's data.vocab")
    ap.add_argument("--val", type=int, default=872, help="training sentences held out for validation")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if not 4 <= a.len <= 4096 or not 4 <= a.vocab <= 100000 or a.val < 1:
        ap.error("--len must be in [4, 4096], --vocab in [4, 100000] and --val at least 1")
    train = read_task(os.path.join(a.task, "train.tsv"))
    dev = read_task(os.path.join(a.task, "dev.tsv"))
    if a.val >= len(train):
        die(f"--val {a.val} leaves no training sentence ({len(train)} in {a.task}/train.tsv)")
    counts = collections.Counter(w for words, _ in train for w in words)
    ranked = sorted(counts, key=lambda w: (-counts[w], w))[: a.vocab - 2]
    ids = {w: i + 2 for i, w in enumerate(ranked)}

    def encode(words):
        seq = [f"w{ids.get(w, 1)}" for w in words[: a.len]]
        return " ".join(seq + ["w0"] * (a.len - len(seq)))

    order = list(range(len(train)))
    random.Random(a.seed).shuffle(order)
    held = set(order[: a.val])
    os.makedirs(a.out, exist_ok=True)

    def write(name, rows, labelled=True):
        tmp = os.path.join(a.out, name + ".tmp")
        with open(tmp, "w") as f:
            if labelled:
                f.write("sentence\tlabel\n")
            for words, label in rows:
                f.write(encode(words) + (f"\t{label}\n" if labelled else "\n"))
        os.replace(tmp, os.path.join(a.out, name))

    write("train.tsv", [r for i, r in enumerate(train) if i not in held])
    write("val.tsv", [train[i] for i in sorted(held)])
    write("test.tsv", dev)
    write("corpus.txt", train, labelled=False)
    with open(os.path.join(a.out, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(["[PAD]", "[UNK]"] + ranked) + "\n")
    cut = sum(len(w) > a.len for w, _ in train + dev)
    print(f"wrote {a.out}: {len(train) - a.val} train / {a.val} val / {len(dev)} test sentences of {a.len} words, "
          f"{len(ranked) + 2} ids ({len(counts)} distinct training words), {cut} sentences cut")


if __name__ == "__main__":
    main()
