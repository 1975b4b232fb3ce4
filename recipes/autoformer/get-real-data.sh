#!/usr/bin/env bash
# A real series in the ETT CSV layout: the weekly Mauna Loa atmospheric CO2 record (ppm, 1958-03-29 onwards,
# 2284 weeks, a yearly season of ~52 weeks on a rising trend, some weeks missing) that the Debian package
# python3-statsmodels ships as statsmodels/datasets/co2/co2.csv ("date,co2" with dates as YYYYMMDD).
# The output has the columns date ("YYYY-MM-DD 00:00:00") and OT (the CO2 value); missing weeks stay empty
# cells, which the co2 runs fill with data.nan: linear (README.md).
#
#   recipes/autoformer/get-real-data.sh [--out FILE] [--from RAW.csv]
#     --out   where to write (default: recipes/autoformer/data/co2.csv)
#     --from  convert this statsmodels-layout file instead of the installed one (no apt-get)
# Without --from, the package is installed with `apt-get install -y python3-statsmodels` when its file is absent.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out="$here/data/co2.csv" from=""
while [ $# -gt 0 ]; do
    case "$1" in
        --out) out=$2; shift 2 ;;
        --from) from=$2; shift 2 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "get-real-data.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
if [ -z "$from" ]; then
    from=/usr/lib/python3/dist-packages/statsmodels/datasets/co2/co2.csv
    if [ ! -f "$from" ]; then
        echo "installing python3-statsmodels (Debian) for $from"
        apt-get install -y python3-statsmodels >/dev/null
    fi
fi
[ -f "$from" ] || { echo "get-real-data.sh: $from not found" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
tmp="$out.tmp.$$"
awk -F, 'NR == 1 { if ($1 != "date") { print "line 1: expected a date column first" > "/dev/stderr"; exit 1 }
                   print "date,OT"; next }
         NF != 2 || $1 !~ /^[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]$/ { print "line " NR ": expected YYYYMMDD,value" > "/dev/stderr"; exit 1 }
         { printf "%s-%s-%s 00:00:00,%s\n", substr($1, 1, 4), substr($1, 5, 2), substr($1, 7, 2), $2 }' \
    "$from" >"$tmp" || { rm -f "$tmp"; exit 1; }
mv "$tmp" "$out"
echo "wrote $out: $(($(wc -l <"$out") - 1)) weekly rows from $from"
