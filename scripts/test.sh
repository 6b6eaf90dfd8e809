#!/usr/bin/env bash
# Runs Fraser's whole test suite: unit, crate integration and end-to-end tests.
# Finds PostgreSQL (DATABASE_URL, or a throw-away cluster) first; see scripts/lib/postgres.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/postgres.sh
source scripts/lib/postgres.sh
ensure_postgres
cargo test --workspace --locked "$@"
