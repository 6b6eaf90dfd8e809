#!/usr/bin/env bash
# The main job on the bundled sample with the embedded store: builds the index
# of the English Wikipedia excerpt (206 pages) and serves the word games, with
# the web chat at http://127.0.0.1:8080/ (Ctrl-C stops).
#
# Environment: FRASER_LISTEN (default 127.0.0.1:8080), DATABASE_URL (default
# sqlite://out/fraser.sqlite), FRASER_DEMO_DUMP (another dump to index).
set -euo pipefail
cd "$(dirname "$0")/.."
dump=${FRASER_DEMO_DUMP:-data/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2}
cargo build --release --locked -q -p cli
mkdir -p out
target/release/fraser build "$dump" --out out/index
export DATABASE_URL=${DATABASE_URL:-sqlite://out/fraser.sqlite}
echo "web chat: http://${FRASER_LISTEN:-127.0.0.1:8080}/   (Ctrl-C to stop)"
exec target/release/fraser serve --index out/index
