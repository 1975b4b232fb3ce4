#!/usr/bin/env bash
# `cformer plot` end to end: a synthetic metrics.jsonl (decreasing loss, an lr schedule, a null, a step
# repeated by a resumed run, a truncated last line) becomes a PNG that an independent decoder reads (Python's
# zlib + struct, no imaging library), and bad input fails naming the file and line.
# Args: <cformer-binary> <source-dir> <build-dir>. Exit 77 (skipped) while `plot` is not a command yet.
set -u
BIN="$1"
PY=/usr/bin/python3
if ! "$BIN" plot --help >/dev/null 2>&1; then
    echo "skipped: this cformer has no plot command"
    exit 77
fi
DIR=$(mktemp -d "${TMPDIR:-/tmp}/cf_plot_XXXXXX") || exit 1
trap 'rm -rf "$DIR"' EXIT
passed=0
failed=0
check() { # check "what" command...
    local what="$1"
    shift
    if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $what"; fi
}
has_py=false
[ -x "$PY" ] && "$PY" -c "import zlib, struct, hashlib" 2>/dev/null && has_py=true

# Prints "WIDTH HEIGHT COLOURS PIXEL-SHA256" after checking the signature, every chunk's CRC, IHDR, the
# zlib stream and the scanline filters; exits non-zero on any fault.
decode() {
    if $has_py; then
        "$PY" - "$1" <<'EOF'
import hashlib, struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "bad signature"
pos, idat, ihdr, text, seen_end = 8, b"", None, {}, False
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    (crc,) = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
    assert zlib.crc32(kind + body) & 0xFFFFFFFF == crc, f"bad CRC in {kind!r}"
    if kind == b"IHDR": ihdr = struct.unpack(">IIBBBBB", body)
    elif kind == b"IDAT": idat += body
    elif kind == b"tEXt":
        k, v = body.split(b"\0", 1)
        text[k.decode()] = v.decode("latin-1")
    elif kind == b"IEND": seen_end = True
    pos += 12 + n
assert ihdr and seen_end, "no IHDR or IEND"
w, h, depth, ctype, _, _, interlace = ihdr
assert depth == 8 and ctype == 2 and interlace == 0, f"unexpected IHDR {ihdr}"
assert text.get("Software", "").startswith("cformer"), "no Software text"
raw, bpp, stride = zlib.decompress(idat), 3, 3 * w
assert len(raw) == h * (stride + 1), "IDAT holds the wrong number of bytes"
prev, rows = bytearray(stride), []
for y in range(h):
    f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b, c = prev[i], prev[i - bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        else: assert f == 0, f"bad filter {f}"
    rows.append(bytes(line))
    prev = line
px = b"".join(rows)
colours = {px[i:i + 3] for i in range(0, len(px), 3)}
print(w, h, len(colours), hashlib.sha256(px).hexdigest())
EOF
    else
        echo "? ? ? nopython"
    fi
}

# Prints "WIDTH HEIGHT" from the signature and IHDR with od alone; fails when they are not a PNG's.
png_size() {
    [ "$(od -An -tx1 -N8 "$1" | tr -d ' \n')" = "89504e470d0a1a0a" ] || return 1
    [ "$(od -An -c -j12 -N4 "$1" | tr -d ' \n')" = "IHDR" ] || return 1
    echo "$(od -An -tu1 -j16 -N4 "$1" | awk '{print $1*16777216+$2*65536+$3*256+$4}')" \
        "$(od -An -tu1 -j20 -N4 "$1" | awk '{print $1*16777216+$2*65536+$3*256+$4}')"
}

# ---- a run: 60 logged steps, resumed from step 40 (steps 40..50 logged twice), killed mid-write ----
RUN="$DIR/run"
mkdir -p "$RUN"
awk 'BEGIN {
    for (s = 0; s <= 50; s += 2) line(s, 0)
    for (s = 40; s <= 60; s += 2) line(s, 1)
    printf "{\"step\": 62, \"loss\": 0.4"   # the line being written when the run stopped
}
function line(s, resumed,   lr, gn) {
    lr = s < 10 ? 3e-4 * s / 10 : 3e-4 * (1 - (s - 10) / 60)
    gn = (s == 20) ? "null" : sprintf("%.4f", 1 / (1 + s / 20))
    # the first run drifted after step 40; the resumed run is the truth and must win
    printf "{\"step\": %d, \"loss\": %.5f, \"lr\": %.6g, \"grad_norm\": %s, \"tokens_per_s\": 1234.5, \"elapsed_s\": %.1f, \"phase\": \"train\", \"ok\": true}\n",
        s, 3 * exp(-s / 25) + 0.2 + (resumed ? 0 : (s > 40 ? 5 : 0)), lr, gn, s * 0.5
}' > "$RUN/metrics.jsonl"

SMALL="--width 400 --panel-height 120" # small images keep the pure-Python decode fast
"$BIN" plot "$RUN" -o "$DIR/out.png" $SMALL >"$DIR/out.txt" 2>"$DIR/err.txt"
rc=$?
check "plot exits 0 on a good run (rc $rc: $(cat "$DIR/err.txt"))" [ $rc -eq 0 ]
check "the incomplete last line is reported as a warning naming file:line" \
    grep -q "run/metrics.jsonl:38: .*incomplete last line" "$DIR/err.txt"
# loss, lr, grad_norm: three panels; tokens_per_s and elapsed_s are left out by default
size=$(png_size "$DIR/out.png") || size="not a PNG"
check "out.png has a PNG signature and is 400x360 (got $size)" [ "$size" = "400 360" ]
if $has_py; then
    info=$(decode "$DIR/out.png") || info="undecodable"
    read -r w h colours sha <<<"$info"
    check "out.png decodes: CRCs, zlib stream, filters ($info)" [ "$info" != "undecodable" ]
    check "out.png is not blank (${colours:-0} colours)" [ "${colours:-0}" -ge 5 ]
fi

# the default output name and size, and no temporary file left behind
"$BIN" plot "$RUN" -q >/dev/null 2>&1
size=$(png_size "$RUN/curves.png") || size="not a PNG"
check "plot DIR writes DIR/curves.png, 960x720 by default (got $size)" [ "$size" = "960 720" ]
check "no temporary file is left in the run directory" [ "$(ls "$RUN" | sort | tr '\n' ' ')" = "curves.png metrics.jsonl " ]

# --metrics picks and orders panels; asking for elapsed_s by name works; --log draws
"$BIN" plot "$RUN" -q --log --metrics loss,elapsed_s -o "$DIR/two.png" >/dev/null 2>&1
rc=$?
size=$(png_size "$DIR/two.png") || size="not a PNG"
check "--metrics loss,elapsed_s --log gives two panels (rc $rc, $size)" [ "$rc:$size" = "0:960 480" ]

if $has_py; then
    # the resumed log must draw exactly what a clean log of the final values draws
    CLEAN="$DIR/clean"
    mkdir -p "$CLEAN"
    head -n 37 "$RUN/metrics.jsonl" | "$PY" -c '
import json, sys
rows = {}
for line in sys.stdin:
    d = json.loads(line)
    rows[d["step"]] = d
for s in sorted(rows):
    print(json.dumps(rows[s]))' > "$CLEAN/metrics.jsonl"
    "$BIN" plot "$CLEAN" -q -o "$DIR/clean.png" $SMALL >/dev/null 2>&1
    read -r _ _ _ sha_clean <<<"$(decode "$DIR/clean.png" 2>/dev/null || echo x x x none)"
    check "a resumed log (repeated steps, last wins) draws the same pixels as the clean log" [ "$sha" = "$sha_clean" ]
fi

# ---- bad input ----
BAD="$DIR/bad"
mkdir -p "$BAD"
printf '{"step": 0, "loss": 2.5}\n{"step": 1, "loss": 2.4}\n{"step": 2, "loss": 2.3,, "lr": 1}\n{"step": 3, "loss": 2.2}\n' > "$BAD/metrics.jsonl"
"$BIN" plot "$BAD" -o "$DIR/bad.png" >/dev/null 2>"$DIR/err.txt"
rc=$?
check "a malformed middle line fails" [ $rc -ne 0 ]
check "the error names file:line ($(cat "$DIR/err.txt"))" grep -q "bad/metrics.jsonl:3:" "$DIR/err.txt"
check "no PNG is written for bad input" [ ! -e "$DIR/bad.png" ]

"$BIN" plot "$DIR/nowhere" >/dev/null 2>"$DIR/err.txt"
rc=$?
check "a missing metrics file fails" [ $rc -ne 0 ]
check "the error names the missing file ($(cat "$DIR/err.txt"))" grep -q "nowhere/metrics.jsonl" "$DIR/err.txt"

printf '{"step": 0, "loss": null}\n{"step": 1, "loss": NaN, "note": "x"}\n' > "$BAD/metrics.jsonl"
"$BIN" plot "$BAD" >/dev/null 2>"$DIR/err.txt"
rc=$?
check "no numeric data fails with a message ($(cat "$DIR/err.txt"))" eval '[ $rc -ne 0 ] && grep -q "no numeric data" "$DIR/err.txt"'

printf '{"loss": 1.0}\n{"step": 1, "loss": 0.9}\n' > "$BAD/metrics.jsonl"
"$BIN" plot "$BAD" >/dev/null 2>"$DIR/err.txt"
rc=$?
check "a line without a step fails naming line 1 ($(cat "$DIR/err.txt"))" eval '[ $rc -ne 0 ] && grep -q "metrics.jsonl:1: " "$DIR/err.txt"'

"$BIN" plot "$RUN" -q --metrics loss,nope -o "$DIR/x.png" >/dev/null 2>"$DIR/err.txt"
rc=$?
check "an unknown metric fails naming it ($(cat "$DIR/err.txt"))" eval '[ $rc -ne 0 ] && grep -q "\"nope\"" "$DIR/err.txt"'

# --x: a sweep's lines, one per setting, plotted against another key; a line without it is refused by name
SW="$DIR/sweep"
mkdir -p "$SW"
printf '{"seconds": 1000, "f1": 0.30, "auc": 0.7}\n{"seconds": 4000, "f1": 0.35, "auc": 0.8}\n{"seconds": 2000, "f1": 0.33, "auc": 0.75}\n' > "$SW/sweep.jsonl"
"$BIN" plot "$SW/sweep.jsonl" --x seconds -o "$SW/sweep.png" >/dev/null 2>"$DIR/err.txt"
check "--x seconds draws the sweep ($(cat "$DIR/err.txt"))" [ -s "$SW/sweep.png" ]
"$BIN" plot "$SW/sweep.jsonl" -o "$SW/nostep.png" >/dev/null 2>"$DIR/err.txt"
check "without --x the sweep has no step ($(cat "$DIR/err.txt"))" grep -q 'no "step" key' "$DIR/err.txt"
"$BIN" plot "$SW/sweep.jsonl" --x dim -o "$SW/nodim.png" >/dev/null 2>"$DIR/err.txt"
check "--x dim names the missing key ($(cat "$DIR/err.txt"))" grep -q 'no "dim" key' "$DIR/err.txt"

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
