#!/usr/bin/env bash
# What limits Neuroformer on cformer's simulated circuits: one setting varied at a time around a base run --
# training budget (train.steps), model size (model.dim), recording length (data.simulate.seconds, 1000-4000 s)
# and coupling strength (data.simulate.hub_weight) -- each run trained, evaluated on the test split beside the
# GLM and trivial baselines, and the curves drawn with `cformer plot --x`.
#
#   recipes/neuroformer/sweep-limits.sh [--full] [--circuit spikes|movie] [--out DIR] [--cformer BIN] [--threads T]
#                                       [--dry-run]
#
# The default is the reduced grid that fits a shared 2-core machine (7 short runs; a base of 400 steps, 600 test
# windows scored); --full is the grid the question needs (2000-step base, every test window, 3-4 values per axis,
# 12 runs; hours on one core). --dry-run prints one line per run (its name) without training anything. --circuit movie sweeps sim-frames.yaml's movie-driven circuit instead of
# sim-pretrain.yaml's spike-only one. Runs are kept under DIR/runs and reused when their eval.json exists, so an
# interrupted sweep resumes. Writes DIR/<axis>.jsonl (one line per setting: the setting and the metrics) and
# DIR/<axis>.png per axis (steps, dim, seconds, hub_weight).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
full=false circuit=spikes out=sweep-limits cformer=$root/build/bin/cformer threads=1 dry=false
while [ $# -gt 0 ]; do
    case $1 in
    --full) full=true ;;
    --circuit) circuit=$2; shift ;;
    --out) out=$2; shift ;;
    --cformer) cformer=$2; shift ;;
    --threads) threads=$2; shift ;;
    --dry-run) dry=true ;;
    -h | --help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "sweep-limits.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done
case $circuit in
spikes) recipe=$here/sim-pretrain.yaml ;;
movie) recipe=$here/sim-frames.yaml ;;
*) echo "sweep-limits.sh: --circuit is spikes or movie, not '$circuit'" >&2; exit 2 ;;
esac
$dry || [ -x "$cformer" ] || { echo "sweep-limits.sh: no cformer at $cformer (build it, or --cformer BIN)" >&2; exit 2; }
if $full; then
    base_steps=2000 base_dim=64 base_seconds=1000 base_hub=2.5 windows=0
    axis_steps="500 1000 2000 4000" axis_dim="32 64 128" axis_seconds="1000 2000 3000 4000" axis_hub="1.5 2.5 3.5 5"
else
    base_steps=400 base_dim=64 base_seconds=1000 base_hub=2.5 windows=600
    axis_steps="200 400 800" axis_dim="32 64" axis_seconds="1000 2000" axis_hub="1.5 2.5 4"
fi
$dry || mkdir -p "$out/runs" "$out/data"
metrics=test_ce_id,test_ce_id_glm,test_ce_id_glm_rate,f1_sample,f1_model_topk,f1_rate_topk,f1_glm_topk,conn_auc_attention,conn_auc_grad,conn_auc_xcorr,conn_auc_glm
export OMP_NUM_THREADS=$threads

# run STEPS DIM SECONDS HUB: trains and evaluates one setting (reused when done); prints its eval.json path
run() {
    local steps=$1 dim=$2 seconds=$3 hub=$4
    local name="$circuit-s$steps-d$dim-t$seconds-w$hub" data="$out/data/$circuit-t$seconds-w$hub.sim.h5"
    local dir="$out/runs/$name" heads=$(($2 >= 64 ? 4 : 2))
    if $dry; then
        echo "$name"
        return
    fi
    local sets=(--set "data.path=$(realpath -m "$data")" --set "data.simulate.seconds=$seconds"
        --set "data.simulate.hub_weight=$hub" --set "model.dim=$dim" --set "model.heads=$heads"
        --set "train.threads=$threads")
    if [ ! -s "$dir/eval.json" ]; then
        echo "sweep: $name" >&2
        nice -n 5 "$cformer" train "$recipe" --run-dir "$dir" --steps "$steps" "${sets[@]}" --set log.every=100 \
            --set checkpoint.every="$steps" --quiet >"$dir.train.log" 2>&1 || { tail -5 "$dir.train.log" >&2; exit 1; }
        nice -n 5 "$cformer" eval "$recipe" --checkpoint "$(printf '%s/checkpoints/step-%08d.h5' "$dir" "$steps")" \
            --out "$dir/eval.json" "${sets[@]}" --set eval.max_windows=$windows --set eval.free_seconds=0 \
            --set eval.f1_samples=8 --set eval.grad_windows=300 >"$dir.eval.log" 2>&1 || { tail -5 "$dir.eval.log" >&2; exit 1; }
    fi
    echo "$dir/eval.json"
}

# axis KEY VALUES...: the runs along one axis, then DIR/KEY.jsonl and DIR/KEY.png
axis() {
    local key=$1
    shift
    $dry || : >"$out/$key.jsonl"
    for v in "$@"; do
        local s=$base_steps d=$base_dim t=$base_seconds w=$base_hub
        case $key in steps) s=$v ;; dim) d=$v ;; seconds) t=$v ;; hub_weight) w=$v ;; esac
        local ev
        ev=$(run "$s" "$d" "$t" "$w")
        if $dry; then
            echo "sweep: $key=$v -> $ev"
            continue
        fi
        /usr/bin/python3 - "$ev" "$key" "$v" "$metrics" >>"$out/$key.jsonl" <<'PY'
import json, sys
ev, key, v, keys = json.load(open(sys.argv[1])), sys.argv[2], float(sys.argv[3]), sys.argv[4].split(",")
row = {key: v}
row.update({k: ev.get(k) for k in keys})
print(json.dumps(row))
PY
    done
    $dry || "$cformer" plot "$out/$key.jsonl" --x "$key" --metrics "$metrics" --panel-height 160 -o "$out/$key.png" -q
}

axis steps $axis_steps
axis dim $axis_dim
axis seconds $axis_seconds
axis hub_weight $axis_hub
$dry || echo "sweep: $out/{steps,dim,seconds,hub_weight}.{jsonl,png}"
