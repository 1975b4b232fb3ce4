#!/usr/bin/env bash
# Autoformer through the cformer command: `cformer data series` (help, errors, determinism, the ETT layout);
# both recipes of recipes/autoformer/ (autoformer, transformer) trained a few steps on a short series and
# evaluated -- MSE/MAE per horizon on the z-scored scale and in original units, the seasonal-naive baseline
# (exact: its value is recomputed here from the CSV), Autoformer's delay histogram -- and recipe and CSV errors
# naming key, file, line and column; get-real-data.sh converts a statsmodels-style CSV to the ETT layout;
# bench-autocorr.sh prints its table at tiny lengths.
source "$(dirname "$0")/harness.bash"
needs_hdf5 "${3:-.}"
cformer=$1 root=$2

# 1. cformer data series
"$cformer" data series --help | has -- "--out FILE.csv" && ok || bad "data series --help"
"$cformer" data series --rows 5 >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "missing --out accepted"
out=$("$cformer" data series --out "$tmp/s.csv" --rows 1 2>&1); [ $? -eq 2 ] && ok || bad "1 row accepted"
echo "$out" | has -- "--rows" && ok || bad "rows message: $out"
out=$("$cformer" data series --out "$tmp/s.csv" --rows 1500 --seed 3) || bad "data series: $out"
head -1 "$tmp/s.csv" | has -x "date,V0,V1,V2,OT" && ok || bad "header: $(head -1 "$tmp/s.csv")"
sed -n 2p "$tmp/s.csv" | has "^2016-07-01 00:00:00," && ok || bad "first date"
[ "$(wc -l <"$tmp/s.csv")" -eq 1501 ] && ok || bad "rows"
"$cformer" data series --out "$tmp/s2.csv" --rows 1500 --seed 3 >/dev/null && cmp -s "$tmp/s.csv" "$tmp/s2.csv" && ok ||
    bad "generation is not deterministic"

# 2. both recipes, a few steps each, then the evaluation
small=(--set data.path="$tmp/s.csv" --set data.seq_len=48 --set data.label_len=24 --set data.pred_len=24
       --set 'eval.horizons=[12,24]' --set model.dim=8 --set model.heads=2 --set model.ff=16 --set train.steps=2
       --set train.batch_size=8 --set eval.every=2 --set eval.batches=1 --set eval.batch_size=64 --set checkpoint.every=2)
for r in autoformer transformer; do
    run="$tmp/run-$r"
    "$cformer" train "$root/recipes/autoformer/$r.yaml" --run-dir "$run" --quiet "${small[@]}" >"$run.log" 2>&1 ||
        { bad "$r: does not train: $(tail -3 "$run.log")"; continue; }
    ok
    "$cformer" eval "$root/recipes/autoformer/$r.yaml" --checkpoint "$run/checkpoints/step-00000002.h5" \
        --out "$run.json" "${small[@]}" --set eval.plot_windows=3 >"$run.eval.log" 2>&1 ||
        { bad "$r: eval: $(tail -3 "$run.eval.log")"; continue; }
    python3 - "$run.json" "$r" "$tmp/s.csv" <<'PY' && ok || bad "$r: eval.json"
import csv, json, math, sys
e, arch = json.load(open(sys.argv[1])), sys.argv[2]
rows = [[float(v) for v in r[1:]] for r in list(csv.reader(open(sys.argv[3])))[1:]]
N, I, O, P = len(rows), 48, 24, 24
ntr, nte = int(N * 0.7), int(N * 0.2)
cols = list(zip(*rows))
mean = [sum(c[:ntr]) / ntr for c in cols]
sd = [math.sqrt(sum((v - m) ** 2 for v in c[:ntr]) / ntr) for c, m in zip(cols, mean)]
z = [[(v - m) / s for v, m, s in zip(r, mean, sd)] for r in rows]
b1, b2 = N - nte - I, N
windows = b2 - b1 - I - O + 1
assert e["windows"] == windows, (e["windows"], windows)
for h in (12, 24):
    se = ae = 0.0
    for s in range(b1, b1 + windows):
        for j in range(h):
            for c in range(4):
                d = z[s + I - P + j % P][c] - z[s + I + j][c]
                se, ae = se + d * d, ae + abs(d)
    n = windows * h * 4
    assert abs(e["naive_mse_h%d" % h] - se / n) < 1e-4 * max(1, se / n), (h, e["naive_mse_h%d" % h], se / n)
    assert abs(e["naive_mae_h%d" % h] - ae / n) < 1e-4, (h, e["naive_mae_h%d" % h], ae / n)
assert e["mse_h24"] == e["mse"] and e["mae"] > 0 and e["mse_orig"] > 0 and e["mae_orig"] > 0, e
assert ("delay_top1" in e) == (arch == "autoformer"), e
# the plotted windows: first, middle and last of the split, in original units, read back from the CSV
fc = e["forecast"]
assert fc["variable"] == 3 and fc["season"] == P, fc
assert [w["index"] for w in fc["windows"]] == [0, (windows - 1) // 2, windows - 1], [w["index"] for w in fc["windows"]]
for w in fc["windows"]:
    s = b1 + w["index"]
    want_in, want_truth = [r[3] for r in rows[s:s + I]], [r[3] for r in rows[s + I:s + I + O]]
    assert len(w["input"]) == I and len(w["truth"]) == O and len(w["forecast"]) == O, w["index"]
    assert all(abs(a - b) < 1e-4 * (1 + abs(b)) for a, b in zip(w["input"], want_in)), w["index"]
    assert all(abs(a - b) < 1e-4 * (1 + abs(b)) for a, b in zip(w["truth"], want_truth)), w["index"]
    assert all(abs(w["naive"][j] - want_in[I - P + j % P]) < 1e-4 * (1 + abs(want_in[0])) for j in range(O))
    assert all(math.isfinite(v) for v in w["forecast"])
if arch == "autoformer":
    assert 0 <= e["delay_share_multiple"] <= 1 and 0 <= e["delay_top1"] < I and 0 <= e["delay_phase"] < P, e
    assert 3.0 / P - 1e-9 <= e["delay_share_phase"] <= 1, e
PY
done

# cformer plot forecast draws one panel per saved window; a malformed forecast object is refused naming the entry
out=$("$cformer" plot forecast "$tmp/run-autoformer.json" -o "$tmp/fc.png" 2>&1) && ok || bad "plot forecast: $out"
python3 - "$tmp/fc.png" <<'PY' && ok || bad "forecast.png"
import struct, sys
b = open(sys.argv[1], "rb").read()
assert b[:8] == b"\x89PNG\r\n\x1a\n"
w, h = struct.unpack(">II", b[16:24])
assert (w, h) == (960, 28 + 3 * 200), (w, h)
PY
python3 - "$tmp/run-autoformer.json" "$tmp/badfc.json" <<'PY'
import json, sys
e = json.load(open(sys.argv[1]))
e["forecast"]["windows"][1]["truth"].pop()
json.dump(e, open(sys.argv[2], "w"), indent=1)
PY
out=$("$cformer" plot forecast "$tmp/badfc.json" -o "$tmp/bad.png" 2>&1); rc=$?
[ $rc -eq 1 ] && echo "$out" | has "badfc.json: forecast window 1: \"truth\" has 23 values, the others 24" &&
    [ ! -e "$tmp/bad.png" ] && ok || bad "bad forecast (rc $rc): $out"
out=$("$cformer" plot forecast "$tmp/run-autoformer.eval.log" 2>&1); [ $? -eq 1 ] && ok || bad "plot of a non-JSON file: $out"
out=$("$cformer" train "$root/recipes/autoformer/autoformer.yaml" --run-dir "$tmp/e-0" "${small[@]}" \
      --set eval.plot_windows=17 2>&1) && bad "17 plot windows accepted"
echo "$out" | has "eval.plot_windows" && ok || bad "plot_windows message: $out"

# 3. errors name the key, the file, the line and the column
run="$tmp/e"
out=$("$cformer" train "$root/recipes/autoformer/autoformer.yaml" --run-dir "$run-1" "${small[@]}" \
      --set model.moving_avg=24 2>&1) && bad "even moving_avg accepted"
echo "$out" | has "model.moving_avg: 24 must be odd" && ok || bad "moving_avg message: $out"
out=$("$cformer" train "$root/recipes/autoformer/autoformer.yaml" --run-dir "$run-2" "${small[@]}" \
      --set data.features=X 2>&1) && bad "unknown features accepted"
echo "$out" | has "data.features: unknown value 'X'" && ok || bad "features message: $out"
out=$("$cformer" train "$root/recipes/autoformer/autoformer.yaml" --run-dir "$run-3" "${small[@]}" \
      --set 'eval.horizons=[48]' 2>&1) && bad "horizon beyond pred_len accepted"
echo "$out" | has "eval.horizons: 48 is beyond data.pred_len 24" && ok || bad "horizons message: $out"
cp "$tmp/s.csv" "$tmp/bad.csv"
sed -i '7s/,[^,]*$/,oops/' "$tmp/bad.csv"
out=$("$cformer" train "$root/recipes/autoformer/autoformer.yaml" --run-dir "$run-4" "${small[@]}" \
      --set data.path="$tmp/bad.csv" 2>&1) && bad "a text cell accepted"
echo "$out" | has "bad.csv:7: column 5 'OT': 'oops' is not a finite number" && ok || bad "cell message: $out"
# a missing file is written by data.generate (the recipe's synthetic series)
"$cformer" train "$root/recipes/autoformer/autoformer.yaml" --run-dir "$run-5" "${small[@]}" \
    --set data.path="$tmp/gen/none.csv" --set data.generate.rows=1200 >/dev/null 2>&1 || bad "data.generate failed"
[ "$(wc -l <"$tmp/gen/none.csv")" -eq 1201 ] && head -1 "$tmp/gen/none.csv" | has -x "date,V0,V1,V2,OT" && ok ||
    bad "data.generate did not write the series"

# 4. the real-data script's conversion (without apt: a statsmodels-style CSV given directly)
printf 'date,co2\n19580329,316.1\n19580405,317.3\n19580412,\n19580419,317.5\n' >"$tmp/co2-raw.csv"
bash "$root/recipes/autoformer/get-real-data.sh" --from "$tmp/co2-raw.csv" --out "$tmp/co2.csv" >/dev/null 2>&1 ||
    bad "get-real-data.sh --from failed"
head -2 "$tmp/co2.csv" | tail -1 | has -x "1958-03-29 00:00:00,316.1" && ok || bad "co2 conversion: $(head -3 "$tmp/co2.csv")"

# 5. bench-autocorr.sh at tiny lengths (so the benchmark does not rot; its times are not checked): one row per
#    length with both times and their ratio, the growth exponents between neighbours and over the range, from the
#    eval.json it wrote; a failing cformer makes it fail
if LENGTHS="16 32 64" bash "$root/recipes/autoformer/bench-autocorr.sh" "$cformer" "$tmp/bench" >"$tmp/bench.log" 2>&1; then
    ok
    python3 - "$tmp/bench.log" "$tmp/bench/eval.json" <<'PY' && ok || bad "bench-autocorr.sh table: $(cat "$tmp/bench.log")"
import json, math, re, sys
lines, e = open(sys.argv[1]).read().splitlines(), json.load(open(sys.argv[2]))
assert lines[0].split() == ["L", "autocorr_ms", "attention_ms", "ac_growth", "attn_growth", "attn/ac"], lines[0]
rows = [l.split() for l in lines[1:4]]
assert [int(r[0]) for r in rows] == [16, 32, 64], rows
assert len(rows[0]) == 4 and all(len(r) == 6 for r in rows[1:]), rows
for r in rows:
    L, ac, at, ratio = int(r[0]), float(r[1]), float(r[2]), float(r[-1])
    assert ac > 0 and at > 0 and abs(ac - e["ac_ms_L%d" % L]) < 1e-3 and abs(at - e["attn_ms_L%d" % L]) < 1e-3, r
    assert abs(ratio - at / ac) < 0.01 * ratio + 0.01, r
for prev, r in zip(rows, rows[1:]):
    want = math.log(e["ac_ms_L" + r[0]] / e["ac_ms_L" + prev[0]]) / math.log(2)
    assert abs(float(r[3]) - want) < 0.01, (r, want)
m = re.fullmatch(r"growth exponent over 16\.\.64: autocorr (-?[0-9.]+), attention (-?[0-9.]+) \(L log L: 1\.29, L\^2: 2\)",
                 lines[4])
assert m and len(lines) == 5, lines[4:]
PY
else
    bad "bench-autocorr.sh at tiny lengths: $(tail -5 "$tmp/bench.log")"
fi
LENGTHS="16 32" bash "$root/recipes/autoformer/bench-autocorr.sh" /bin/false "$tmp/bench-bad" >/dev/null 2>&1 &&
    bad "bench-autocorr.sh with a failing cformer succeeded" || ok

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
