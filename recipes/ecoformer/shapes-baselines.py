#!/usr/bin/env python3
"""Non-transformer baselines on the shapes task's TSV files, to tell how hard the task is:

    python3 recipes/ecoformer/shapes-baselines.py [DIR]    (DIR: recipes/ecoformer/data by default)

Prints the class counts, one image of each class as text, and the test accuracy of (1) 1-nearest-neighbour in
Hamming distance over the 8000 training images, (2) softmax regression on the 256 raw pixels (300 steps of full-
batch gradient descent, step 1), (3) the number of lit pixels alone (the training split's majority class for
each count: a cross lights about 8 pixels more), and (4) a rule on two counts: the most lit pixels in one row and in one column
(a bar of 8-12 pixels against about 1.6 noise pixels a row): both >= T: cross; row only: horizontal; column
only: vertical; neither: diagonal, with T the threshold in 4..12 best on the training split.
Needs numpy."""
import sys

import numpy as np


def load(path):
    xs, ys = [], []
    with open(path) as f:
        if f.readline().rstrip("\n") != "Source\tTarget":
            sys.exit(f"{path}: expected the header 'Source<TAB>Target'")
        for line in f:
            src, tgt = line.rstrip("\n").split("\t")
            xs.append(np.array(src.split(), dtype=np.float32) > 0)
            ys.append(int(tgt))
    return np.array(xs, dtype=np.float32), np.array(ys)


def rule(x, side, t):
    img = x.reshape(-1, side, side)
    row, col = img.sum(2).max(1) >= t, img.sum(1).max(1) >= t
    return np.where(row & col, 3, np.where(row, 0, np.where(col, 1, 2)))


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "recipes/ecoformer/data"
    xtr, ytr = load(f"{d}/shapes16_train.tsv")
    xte, yte = load(f"{d}/shapes16_test.tsv")
    side = int(round(xtr.shape[1] ** 0.5))
    print(f"train {len(ytr)} images, classes {np.bincount(ytr).tolist()}; test {len(yte)}, {np.bincount(yte).tolist()}")
    for c in range(4):
        print(f"class {c}:")
        for r in xtr[np.where(ytr == c)[0][0]].reshape(side, side):
            print("  " + "".join("#" if v else "." for v in r))
    dist = xte.sum(1)[:, None] + xtr.sum(1)[None, :] - 2 * xte @ xtr.T
    print(f"1-nearest-neighbour (Hamming): {(ytr[dist.argmin(1)] == yte).mean():.3f}")
    w, b, y1 = np.zeros((xtr.shape[1], 4)), np.zeros(4), np.eye(4)[ytr]
    for _ in range(300):
        z = xtr @ w + b
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        g = (p - y1) / len(ytr)
        w -= xtr.T @ g
        b -= g.sum(0)
    print(f"softmax regression on pixels: {((xte @ w + b).argmax(1) == yte).mean():.3f}")
    ctr, cte = xtr.sum(1).astype(int), xte.sum(1).astype(int)
    major = {v: np.bincount(ytr[ctr == v], minlength=4).argmax() for v in np.unique(ctr)}
    pred = np.array([major.get(v, 0) for v in cte])
    print(f"lit-pixel count alone (the training split's majority class per count): {(pred == yte).mean():.3f}")
    t = max(range(4, 13), key=lambda t: (rule(xtr, side, t) == ytr).mean())
    print(f"row / column count rule (T = {t}): {(rule(xte, side, t) == yte).mean():.3f}")


if __name__ == "__main__":
    main()
