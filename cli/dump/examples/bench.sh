#!/usr/bin/env bash
# Reads the big test dump in every form and prints wall time, CPU time and
# peak RSS next to the `lbzip2 -d -n2` and `bzip2 -d` floors.
# Usage: cli/dump/examples/bench.sh DIR   (DIR made by the makebig example,
# plus `bzip2 -k -9 DIR/bigwiki-pages-articles.xml`)
set -euo pipefail
dir=${1:?usage: bench.sh DIR}
bin=${CARGO_TARGET_DIR:-target}/release/examples/readbench
single=$dir/bigwiki-pages-articles.xml.bz2
multi=$dir/bigwiki-pages-articles-multistream.xml.bz2
index=$dir/bigwiki-pages-articles-multistream-index.txt.bz2
cp -f "$multi" "$dir/noindex.bz2"
timing=$(mktemp)
run() {
  local label=$1
  shift
  local out
  out=$(/usr/bin/time -o "$timing" -f "%e s wall, %U s user, %S s sys, %M KB max RSS" "$@" | tail -1)
  printf '%-36s %s\n    %s\n' "$label" "$(cat "$timing")" "$out"
}
floor() {
  local label=$1
  shift
  /usr/bin/time -o "$timing" -f "%e s wall, %U s user, %S s sys, %M KB max RSS" "$@" >/dev/null
  printf '%-36s %s\n' "$label" "$(cat "$timing")"
}
floor "lbzip2 -d -n2 (single)" lbzip2 -d -n2 -c "$single"
floor "bzip2 -d (single)" bzip2 -d -c "$single"
run "bzip2 crate sequential (single)" "$bin" "$single" --sequential
run "dump raw decode (single)" "$bin" "$single" --raw
run "dump pages (single)" "$bin" "$single"
run "dump batches (single)" "$bin" "$single" --batches
run "dump pages (multistream + index)" "$bin" "$multi" --index "$index"
run "dump pages (multistream, no index)" "$bin" "$dir/noindex.bz2"
run "dump pages (plain xml)" "$bin" "$dir/bigwiki-pages-articles.xml"
floor "lbzip2 -d -n2 (single, again)" lbzip2 -d -n2 -c "$single"
