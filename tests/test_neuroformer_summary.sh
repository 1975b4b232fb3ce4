#!/usr/bin/env bash
# `cformer demo --summary EVAL.json`: the demo's results table for an existing evaluation -- each metric beside
# the baselines eval.json holds, and "beats" / "loses" against the best of them (lower is better for a
# cross-entropy, higher for F1, AUC and R^2); rows whose metric is absent are left out; a missing file or one
# that is not a Neuroformer evaluation is refused naming the file.
# Args: <cformer-binary> <source-dir> <build-dir>.
set -u
BIN="$1"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nf_summary_XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
failed=0
bad() { echo "FAIL: $*"; failed=1; }

cat >"$tmp/eval.json" <<'JSON'
{
  "test_ce_id": 2.9, "test_ce_id_glm": 3.0, "test_ce_id_glm_rate": 3.2, "unigram_ce_id": 3.6,
  "test_ce_dt": 0.7, "test_ce_dt_glm": 0.65,
  "f1_model_topk": 0.36, "f1_rate_topk": 0.33, "f1_glm_topk": 0.35, "f1_poisson": 0.25,
  "f1_sample": 0.31,
  "conn_auc_attention": 0.77, "conn_auc_grad": 0.9, "conn_auc_xcorr": 0.84, "conn_auc_glm": 0.87,
  "conn_auc_shuffled": 0.55
}
JSON
out=$("$BIN" demo --summary "$tmp/eval.json") || bad "--summary failed: $out"
row() { grep -F "$1" <<<"$out" | head -1; }
grep -q "beats coupled GLM 3.000" <<<"$(row "CE, neuron ID")" || bad "CE id row: $(row "CE, neuron ID")"
grep -q "loses coupled GLM 0.650" <<<"$(row "CE, time offset")" || bad "CE dt row (lower is better): $(row "CE, time offset")"
grep -q "0.360  beats top-rate units 0.330, GLM top-k 0.350, Poisson 0.250" <<<"$(row "model top-k")" ||
    bad "top-k F1 row: $(row "model top-k")"
grep -q "0.310  loses" <<<"$(row "sampled windows")" || bad "sampled F1 row: $(row "sampled windows")"
grep -q "loses cross-correlation 0.840, GLM coupling filters 0.870" <<<"$(row "AUC, attention")" ||
    bad "attention AUC row: $(row "AUC, attention")"
grep -q "0.900  beats" <<<"$(row "gradient x input")" || bad "grad AUC row: $(row "gradient x input")"
grep -q "0.550" <<<"$(row "ablation")" || bad "ablation row: $(row "ablation")"
grep -q "expected count\|behaviour\|head maximum" <<<"$out" && bad "rows without a metric are printed: $out"

err=$("$BIN" demo --summary "$tmp/none.json" 2>&1) && bad "a missing file is accepted"
grep -q "$tmp/none.json" <<<"$err" || bad "missing file: '$err'"
echo '{"loss": 1.0}' >"$tmp/other.json"
err=$("$BIN" demo --summary "$tmp/other.json" 2>&1) && bad "another paper's eval.json is accepted"
grep -q "other.json: not a Neuroformer eval.json" <<<"$err" || bad "not neuroformer: '$err'"
[ $failed -eq 0 ] && echo "test_neuroformer_summary: passed"
exit $failed
