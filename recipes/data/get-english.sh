#!/usr/bin/env bash
# Writes real English prose for the language-model recipes that need more than the generated village text:
#
#   recipes/data/get-english.sh [OUT]        (default OUT: recipes/data/english/jargon.txt)
#
# Source: the Jargon File 4.4.7 (Eric S. Raymond et al.; public domain), as Debian's `jargon-text` package ships it
# (/usr/share/doc/jargon-text/jargon.txt.gz). Kept: the twelve essay chapters and the lexicon entries (about 1.5 MB
# of prose with definitions, quotations and cross-references); dropped: the front matter, the index of entry
# names, the appendices and the bibliography. Each paragraph's 3-space indentation is removed and blank-line runs
# are collapsed, so the file is plain text as `data.type: text` reads it (first 90% train, last 10% val).
# The package is installed with apt-get when missing (root, or say `sudo apt-get install jargon-text`).
# The output is written atomically (a temporary file, then rename) and its size and SHA-256 are printed; the
# same package version gives the same bytes.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$root/recipes/data/english/jargon.txt}
src=/usr/share/doc/jargon-text/jargon.txt.gz

if [ ! -r "$src" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "get-english: installing Debian's jargon-text" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends jargon-text >/dev/null
    fi
    [ -r "$src" ] || { echo "get-english: $src not found: install it with 'sudo apt-get install jargon-text'" >&2; exit 1; }
fi

mkdir -p "$(dirname "$out")"
tmp=$(mktemp "$out.XXXXXX")
trap 'rm -f "$tmp"' EXIT
# Chapters run from "Chapter 1." to "Glossary"; the lexicon from the first ":entry:" line to "Part III. Appendices"
# (the headings separate their words with non-breaking spaces, hence the ".+").
zcat "$src" | awk '
    /^Chapter.+1\..+Hacker Slang/ { keep = 1 }
    /^Glossary$/                { keep = 0 }
    /^   :/ && !lexicon          { lexicon = 1; keep = 1 }
    /Part.+III\..+Appendices/  { keep = 0 }
    keep {
        sub(/^   /, "")
        if ($0 ~ /^[ \t]*$/) { if (!blank) print ""; blank = 1 } else { print; blank = 0 }
    }' > "$tmp"
bytes=$(wc -c < "$tmp")
[ "$bytes" -gt 1000000 ] || { echo "get-english: only $bytes bytes extracted from $src (a different jargon-text layout?)" >&2; exit 1; }
mv "$tmp" "$out"
trap - EXIT
echo "get-english: wrote $out ($bytes bytes, sha256 $(sha256sum "$out" | cut -d' ' -f1))"
