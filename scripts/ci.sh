#!/usr/bin/env bash
# The checks CI runs, in the same order locally: formatting, lints, tests,
# the cluster fault test, benches and fuzz targets compile.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
scripts/test.sh
# The local cluster under faults (nginx, 3 servers, PostgreSQL, fake platform; about
# 2 minutes with the debug binaries the tests already built).
FRASER_CLUSTER_PROFILE=dev scripts/cluster-faults.sh --short
cargo bench --workspace --no-run --locked
for fuzz in nlp/fuzz index/fuzz; do
  if [ -f "$fuzz/Cargo.toml" ]; then
    (cd "$fuzz" && cargo check --quiet)
  fi
done
