#!/usr/bin/env bash
# Re-runs every published table of a paper's README from this checkout and prints it beside the published
# numbers, with the mean, standard deviation, min / max and per-run values over training seeds:
#
#   tools/reproduce.sh PAPER [--seeds N] [--threads T] [--runs NAME,...] [--smoke] [--resume --out DIR] [--dry-run]
#                      [--build DIR]
#   make reproduce-PAPER [SEEDS=N] [THREADS=T]
#
# PAPER is a folder of recipes/ with a reproduce.json (recipes/PAPER/reproduce.json lists its runs and tables, with the
# published numbers). Each run is `cformer train RECIPE --run-dir DIR/runs/NAME-seedS --set train.seed=S`
# then `cformer eval --checkpoint` its last checkpoint; tools/reproduce/run.py combines the eval.json files.
# A spec's "prepare" steps (a script writing a data file the runs read) run first, from the repository root.
# Output: DIR (default reproduce/PAPER-YYYYmmdd-HHMMSS/) holds results.md, results.json, environment.json
# (commit, nproc, CPU model, the OpenBLAS kernel), runs/ (run directories, train and eval logs) and data/
# (--smoke's small data); .gitignore leaves out runs/ and data/.
#   --seeds N    seeds S = the recipe's train.seed + 0 .. N-1 (default 1: the published configuration)
#   --threads T  train.threads and OMP_NUM_THREADS (default: the recipes' own)
#   --runs LIST  only these runs of the spec (comma-separated names) and the table rows they fill
#   --smoke      every run a few steps with tiny evaluation settings, data in DIR (seconds, for CI: checks
#                the tables are produced, not their numbers)
#   --resume     with --out DIR of an interrupted reproduction: keep the trainings and evaluations it finished
#                with the same commands (their logs' first lines), run the rest
#   --dry-run    print the train and eval commands it would run, and run nothing
#   --build DIR  the build directory (default build; configured and built when it has no bin/cformer)
# Exit status: 0, 1 (a run failed or a table cell has no value), 2 (bad arguments).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
die() { echo "reproduce: $*" >&2; exit 2; }

paper="" seeds=1 threads=0 smoke=0 dry=0 resume=0 out="" runs="" build="$root/build"
while [ $# -gt 0 ]; do
    case $1 in
        --seeds) [ $# -ge 2 ] || die "--seeds needs a value"; seeds=$2; shift ;;
        --threads) [ $# -ge 2 ] || die "--threads needs a value"; threads=$2; shift ;;
        --runs) [ $# -ge 2 ] || die "--runs needs a list of run names"; runs=$2; shift ;;
        --out) [ $# -ge 2 ] || die "--out needs a directory"; out=$2; shift ;;
        --build) [ $# -ge 2 ] || die "--build needs a directory"; build=$2; shift ;;
        --smoke) smoke=1 ;;
        --resume) resume=1 ;;
        --dry-run) dry=1 ;;
        -h|--help) usage; exit 0 ;;
        -*) die "unknown option '$1' (see tools/reproduce.sh --help)" ;;
        *) [ -z "$paper" ] || die "one paper at a time (got '$paper' and '$1')"; paper=$1 ;;
    esac
    shift
done
[ -n "$paper" ] || { usage >&2; exit 2; }
spec=$root/recipes/$paper/reproduce.json
if [ ! -f "$spec" ]; then
    known=$(cd "$root/recipes" && ls */reproduce.json | sed 's#/reproduce\.json$##' | tr '\n' ' ')
    die "no reproduction for '$paper' (known: ${known% })"
fi
[[ $seeds =~ ^[1-9][0-9]{0,2}$ ]] || die "--seeds must be an integer from 1 to 999, got '$seeds'"
[[ $threads =~ ^[0-9]{1,4}$ ]] || die "--threads must be a non-negative integer, got '$threads'"
[[ $runs =~ ^[A-Za-z0-9_.,-]*$ ]] || die "--runs must be run names separated by commas, got '$runs'"
command -v python3 >/dev/null || die "python3 is needed to combine the results"
[ $resume = 0 ] || [ -n "$out" ] || die "--resume needs --out DIR (the interrupted reproduction's directory)"
[ -n "$out" ] || out=$root/reproduce/$paper-$(date -u +%Y%m%d-%H%M%S)
case $out in /*) ;; *) out=$PWD/$out ;; esac   # relative to where the command was given, not to $root
case $build in /*) ;; *) build=$PWD/$build ;; esac

cformer=$build/bin/cformer
if [ ! -x "$cformer" ]; then
    echo "reproduce: building cformer in $build" >&2
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
fi

cd "$root"   # the specs name recipes relative to the repository
args=("$spec" --cformer "$cformer" --out "$out" --seeds "$seeds" --threads "$threads")
if [ $smoke = 1 ]; then args+=(--smoke); fi
if [ -n "$runs" ]; then args+=(--runs "$runs"); fi
if [ $resume = 1 ]; then args+=(--resume); fi
if [ $dry = 1 ]; then exec python3 "$root/tools/reproduce/run.py" "${args[@]}" --dry-run; fi
mkdir -p "$out"
# The published measurements ran with passive waiting on shared cores (README.md, Threads).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
command_line="tools/reproduce.sh $paper --seeds $seeds"
if [ "$threads" != 0 ]; then command_line+=" --threads $threads"; fi
if [ -n "$runs" ]; then command_line+=" --runs $runs"; fi
if [ $smoke = 1 ]; then command_line+=" --smoke"; fi

python3 "$root/tools/reproduce/environment.py" --cformer "$cformer" --root "$root" --threads "$threads" \
    >"$out/environment.json.tmp"
mv "$out/environment.json.tmp" "$out/environment.json"
exec python3 "$root/tools/reproduce/run.py" "${args[@]}" --command "$command_line"
