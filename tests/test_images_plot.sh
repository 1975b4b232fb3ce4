#!/usr/bin/env bash
# `cformer plot confusion`: a classification eval.json's confusion matrix becomes a PNG of the expected size
# (48-pixel cells for <= 10 classes, a 56-pixel margin) that Python's zlib + struct decode, with the
# diagonal cell shaded by its row share; malformed matrices fail naming the file and the row or cell.
# Args: <cformer-binary> <source-dir> <build-dir>.
source "$(dirname "$0")/harness.bash"
cformer=$1

cat >"$tmp/eval.json" <<'JSON'
{"step": 10, "top1": 0.75, "top5": 1, "count": 8, "per_class_accuracy": [1, 0.5, null],
 "confusion": [[4, 0, 0], [1, 1, 0], [0, 0, 0]]}
JSON
check "$cformer" plot confusion "$tmp/eval.json" >/dev/null
check test -s "$tmp/confusion.png"
check /usr/bin/python3 - "$tmp/confusion.png" <<'PY'
import struct, sys, zlib
b = open(sys.argv[1], 'rb').read()
assert b[:8] == b'\x89PNG\r\n\x1a\n'
w, h = struct.unpack('>II', b[16:24])
assert (w, h) == (56 + 3 * 48 + 16,) * 2, (w, h)
idat, i = b'', 8
while i < len(b):
    n, = struct.unpack('>I', b[i:i + 4]); t = b[i + 4:i + 8]
    if t == b'IDAT': idat += b[i + 8:i + 8 + n]
    i += 12 + n
raw = zlib.decompress(idat)
rows, up = [], bytes(3 * w)
for y in range(h):  # undo each scanline's filter (PNG spec section 9.2)
    f, cur = raw[y * (3 * w + 1)], bytearray(raw[y * (3 * w + 1) + 1:(y + 1) * (3 * w + 1)])
    for i in range(3 * w):
        a, b, c = (cur[i - 3] if i >= 3 else 0), up[i], (up[i - 3] if i >= 3 else 0)
        pred = [0, a, b, (a + b) // 2, min((a, b, c), key=lambda v: abs(a + b - c - v))][f]
        cur[i] = (cur[i] + pred) & 255
    rows.append(bytes(cur)); up = cur
def px(x, y):
    return tuple(rows[y][3 * x:3 * x + 3])
# cell (0,0): share 1 -> darkest; cell (1,1): share 0.5; cell (2,2): empty row -> white (corner pixels, no text)
assert px(56 + 1, 56 + 1) == (40, 40, 160), px(57, 57)
assert px(56 + 48 + 1, 56 + 48 + 1) == (147, 147, 207), px(105, 105)
assert px(56 + 96 + 1, 56 + 96 + 1) == (255, 255, 255)
PY
check "$cformer" plot confusion "$tmp/eval.json" -o "$tmp/other.png" >/dev/null
check test -s "$tmp/other.png"

echo '{"confusion": [[1, 2], [3]]}' >"$tmp/ragged.json"
out=$("$cformer" plot confusion "$tmp/ragged.json" 2>&1) && bad "ragged matrix accepted"
echo "$out" | has "ragged.json: confusion row 1" && ok || bad "ragged message: $out"
echo '{"confusion": [[1, -2], [3, 4]]}' >"$tmp/neg.json"
out=$("$cformer" plot confusion "$tmp/neg.json" 2>&1) && bad "negative count accepted"
echo "$out" | has "confusion\[0\]\[1\]" && ok || bad "negative message: $out"
echo '{"top1": 1}' >"$tmp/none.json"
out=$("$cformer" plot confusion "$tmp/none.json" 2>&1) && bad "missing matrix accepted"
echo "$out" | has "none.json: no \"confusion\"" && ok || bad "missing message: $out"
out=$("$cformer" plot confusion "$tmp/absent.json" 2>&1) && bad "absent file accepted"
echo "$out" | has "absent.json" && ok || bad "absent message: $out"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
