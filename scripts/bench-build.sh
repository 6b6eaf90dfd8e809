#!/usr/bin/env bash
# Measures `fraser build` against `fraser extract --format rich` (the same
# parsing, sentences, tokens and stems, written as JSON instead of an index)
# on the same input, in alternating rounds, and prints the build's throughput
# as a share of the extract's, by CPU time and by wall time, with the index
# size as a ratio of the .bz2 input.
#
# Usage: scripts/bench-build.sh [COPIES] [ROUNDS]
#   COPIES: how many times the enwiki sample's pages are repeated (default 20,
#   about 120 MB of XML; 200 gives the 10x input for the memory check).
#   ROUNDS: alternating rounds of the two commands (default 5).
# Environment: BENCH_DIR (default target/bench) holds the generated input and outputs.
set -euo pipefail
cd "$(dirname "$0")/.."
copies=${1:-20}
rounds=${2:-5}
dir=${BENCH_DIR:-target/bench}/x$copies
mkdir -p "$dir"
sample=data/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2
[ -f "$dir/big.xml.bz2" ] || python3 scripts/make-big-dump.py "$sample" "$dir" "$copies"
cargo build --release --locked -q -p cli
fraser=${CARGO_TARGET_DIR:-target}/release/fraser
input=$dir/big.xml.bz2
xml_bytes=$(stat -L -c %s "$dir/big.xml")

# Runs a command; appends "cpu_seconds wall_seconds peak_rss_kib" to file $1.
measure() {
  local out=$1
  shift
  local log="$dir/time.log"
  /usr/bin/time -f "%U %S %e %M" -o "$log" "$@" >/dev/null 2>"$dir/stderr.log" || {
    echo "bench: command failed: $*" >&2; cat "$dir/stderr.log" >&2; exit 1; }
  read -r user sys wall rss <"$log"
  echo "$(echo "$user + $sys" | bc) $wall $rss" >>"$out"
}
rm -f "$dir/extract.times" "$dir/build.times"
for round in $(seq "$rounds"); do
  measure "$dir/extract.times" "$fraser" -q extract "$input" --format rich -o "$dir/rich.jsonl"
  rm -rf "$dir/index"
  measure "$dir/build.times" "$fraser" -q build "$input" --out "$dir/index"
  echo "round $round of $rounds done" >&2
done
mean() { awk -v c="$2" '{s += $c; n++} END {printf "%.2f", s / n}' "$1"; }
range() { awk -v c="$2" 'NR == 1 {lo = $c; hi = $c} {if ($c < lo) lo = $c; if ($c > hi) hi = $c} END {printf "%.2f-%.2f", lo, hi}' "$1"; }
peak() { awk '{if ($3 > m) m = $3} END {printf "%d", m / 1024}' "$1"; }
index_bytes=$(du -sb "$dir/index" | cut -f1)
bz2_bytes=$(stat -L -c %s "$input")
echo
echo "input: $copies copies of the enwiki sample, $((xml_bytes / 1000000)) MB of XML, $((bz2_bytes / 1000)) KB bz2; $rounds rounds; load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| run | CPU s (mean, range) | wall s (mean, range) | MB/s of XML | peak RSS MiB |"
echo "| --- | ---: | ---: | ---: | ---: |"
for run in extract build; do
  f="$dir/$run.times"
  wall=$(mean "$f" 2)
  echo "| \`fraser ${run/extract/extract --format rich}\` | $(mean "$f" 1) ($(range "$f" 1)) | $wall ($(range "$f" 2)) | $(echo "scale=1; $xml_bytes / 1000000 / $wall" | bc) | $(peak "$f") |"
done
echo
cpu_share=$(echo "scale=3; $(mean "$dir/extract.times" 1) / $(mean "$dir/build.times" 1) * 100" | bc)
wall_share=$(echo "scale=3; $(mean "$dir/extract.times" 2) / $(mean "$dir/build.times" 2) * 100" | bc)
printf 'build throughput: %.0f%% of the rich extract by CPU time, %.0f%% by wall time\n' "$cpu_share" "$wall_share"
printf 'index: %d bytes, %.3fx the .bz2 input\n' "$index_bytes" "$(echo "scale=4; $index_bytes / $bz2_bytes" | bc)"
