#!/usr/bin/env bash
# Rebuilds the small committed fixtures under data/fixtures/ from the bundled
# samples. The end-to-end test `fixtures::committed_fixtures_are_up_to_date`
# fails when they differ from what the current code produces.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -q -p cli
fraser=${CARGO_TARGET_DIR:-target}/release/fraser
sample=data/simplewiki-2019-sample-7pages.xml.bz2
mkdir -p data/fixtures
"$fraser" -q build "$sample" --out data/fixtures/simplewiki-index
for format in wikiextractor rich; do
  "$fraser" -q extract "$sample" --format "$format" -o "data/fixtures/simplewiki.$format.jsonl"
done
echo "fixtures rewritten under data/fixtures/"
