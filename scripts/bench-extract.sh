#!/usr/bin/env bash
# Measures `fraser extract` against WikiExtractor 3.1.0 and the lbzip2
# decompression floor on the same input, in one run, and prints a table.
#
# Usage: scripts/bench-extract.sh [COPIES]
#   COPIES: how many times the enwiki sample's pages are repeated (default 20,
#   about 120 MB of XML; 200 gives the 10x input for the memory check).
# Needs: python3 (venv), lbzip2 and bzip2 (installed with apt-get when root).
# Environment: BENCH_DIR (default target/bench) holds the generated input and outputs.
set -euo pipefail
cd "$(dirname "$0")/.."
copies=${1:-20}
dir=${BENCH_DIR:-target/bench}/x$copies
mkdir -p "$dir"
sample=data/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2

need() { command -v "$1" >/dev/null 2>&1; }
if ! need lbzip2 || ! need bzip2; then
  [ "$(id -u)" = 0 ] || { echo "bench: install lbzip2 and bzip2 first" >&2; exit 1; }
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq lbzip2 bzip2
fi
venv=${BENCH_DIR:-target/bench}/wikiextractor-venv
if [ ! -x "$venv/bin/wikiextractor" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q wikiextractor==3.1.0
fi
[ -f "$dir/big.xml.bz2" ] || python3 scripts/make-big-dump.py "$sample" "$dir" "$copies"
cargo build --release --locked -q -p cli
fraser=${CARGO_TARGET_DIR:-target}/release/fraser
xml_bytes=$(stat -c %s "$dir/big.xml")

# Runs a command, records seconds and peak RSS (KiB) into $secs and $rss.
measure() {
  local log="$dir/time.log"
  /usr/bin/time -f "%e %M" -o "$log" "$@" >/dev/null 2>"$dir/stderr.log" || {
    echo "bench: command failed: $*" >&2; cat "$dir/stderr.log" >&2; exit 1; }
  read -r secs rss <"$log"
}
rows=()
row() { # name seconds rss
  local mbs; mbs=$(awk -v b="$xml_bytes" -v s="$2" 'BEGIN { printf "%.1f", b / s / 1e6 }')
  rows+=("$1|$2|$mbs|$(( $3 / 1024 ))")
  eval "mbs_$4=$mbs"
}

sync
measure lbzip2 -d -n2 -c "$dir/big.xml.bz2";                        row "lbzip2 -d -n2 (decompression floor)" "$secs" "$rss" floor
measure bzip2 -d -c "$dir/big.xml.bz2";                             row "bzip2 -d (single thread)" "$secs" "$rss" bzip2
measure "$fraser" -q extract "$dir/big.xml.bz2" -o "$dir/fraser-we.jsonl";              row "fraser extract .bz2 --format wikiextractor" "$secs" "$rss" we_bz2
measure "$fraser" -q extract "$dir/big-multistream.xml.bz2" -o "$dir/fraser-ms.jsonl";  row "fraser extract multistream .bz2 --format wikiextractor" "$secs" "$rss" we_ms
measure "$fraser" -q extract "$dir/big.xml.bz2" --format rich -o "$dir/fraser-rich.jsonl"; row "fraser extract .bz2 --format rich" "$secs" "$rss" rich
measure "$fraser" -q extract "$dir/big.xml" -o "$dir/fraser-xml.jsonl";                row "fraser extract .xml --format wikiextractor" "$secs" "$rss" we_xml
if [ "${SKIP_WIKIEXTRACTOR:-0}" != 1 ]; then
  rm -rf "$dir/we-out"
  measure "$venv/bin/wikiextractor" --json -q -o "$dir/we-out" "$dir/big.xml.bz2";     row "WikiExtractor 3.1.0 --json (default processes)" "$secs" "$rss" peer
fi

echo
echo "input: $(( xml_bytes / 1000000 )) MB of XML ($copies copies of the enwiki sample), $(nproc) cores"
echo
echo "| run | seconds | MB/s of XML | peak RSS MiB |"
echo "| --- | ---: | ---: | ---: |"
for r in "${rows[@]}"; do IFS='|' read -r a b c d <<<"$r"; echo "| $a | $b | $c | $d |"; done
echo
awk -v we="$mbs_we_bz2" -v floor="$mbs_floor" 'BEGIN { printf "fraser (.bz2, wikiextractor) / lbzip2 floor: %.0f%%\n", we / floor * 100 }'
if [ -n "${mbs_peer:-}" ]; then
  awk -v a="$mbs_we_bz2" -v b="$mbs_rich" -v p="$mbs_peer" 'BEGIN { printf "fraser / WikiExtractor: %.1fx (wikiextractor format), %.1fx (rich)\n", a / p, b / p }'
fi
