#!/usr/bin/env bash
# recipes/neuroformer/sweep-limits.sh without training anything: --help documents it, bad arguments are refused
# with exit 2 and a message, and --dry-run lists the grids (the reduced one: 7 distinct runs around a 400-step
# base; --full: 12 around a 2000-step base; --circuit movie names the movie-driven runs).
# Args: <cformer-binary> <source-dir> <build-dir>.
set -u
BIN="$1" SRC="$2"
sweep="$SRC/recipes/neuroformer/sweep-limits.sh"
failed=0
bad() { echo "FAIL: $*"; failed=1; }

out=$(bash "$sweep" --help) || bad "--help exits non-zero"
grep -q -- "--circuit spikes|movie" <<<"$out" || bad "--help does not document --circuit"
grep -q -- "--dry-run" <<<"$out" || bad "--help does not document --dry-run"

err=$(bash "$sweep" --bogus 2>&1 >/dev/null)
[ $? -eq 2 ] && grep -q "unknown argument '--bogus'" <<<"$err" || bad "unknown argument: '$err'"
err=$(bash "$sweep" --circuit retina --dry-run 2>&1 >/dev/null)
[ $? -eq 2 ] && grep -q "spikes or movie, not 'retina'" <<<"$err" || bad "bad --circuit: '$err'"
err=$(bash "$sweep" --cformer /nonexistent/cformer --out "${TMPDIR:-/tmp}/nf-sweep-never" 2>&1 >/dev/null)
[ $? -eq 2 ] && grep -q "no cformer at /nonexistent/cformer" <<<"$err" || bad "missing binary: '$err'"

runs() { bash "$sweep" --cformer "$BIN" "$@" | sed -n 's/^sweep: .* -> //p' | sort -u; }
r=$(runs --dry-run) || bad "--dry-run failed"
[ "$(wc -l <<<"$r")" -eq 7 ] || bad "reduced grid: $(wc -l <<<"$r") runs, expected 7: $r"
grep -qx "spikes-s400-d64-t1000-w2.5" <<<"$r" || bad "reduced grid lacks its base run: $r"
r=$(runs --dry-run --full --circuit movie) || bad "--dry-run --full failed"
[ "$(wc -l <<<"$r")" -eq 12 ] || bad "full grid: $(wc -l <<<"$r") runs, expected 12: $r"
grep -qx "movie-s2000-d64-t1000-w2.5" <<<"$r" || bad "full movie grid lacks its base run: $r"
[ -e sweep-limits ] && bad "--dry-run wrote sweep-limits/"
[ $failed -eq 0 ] && echo "test_neuroformer_sweep: passed"
exit $failed
