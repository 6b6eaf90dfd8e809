#!/usr/bin/env bash
# Measures the bot server end to end on this machine and compares it with a plain
# pgbench of one bot-shaped transaction on the same PostgreSQL. Prints one table.
#
# Usage: scripts/bench-server.sh
# Environment:
#   MESSAGES (default 20000)   webhooks of the throughput runs (as fast as possible)
#   ACK_MESSAGES (10000)       webhooks of the latency runs, sent at ACK_RATE
#   ACK_RATE (1000)            requests/s of the latency runs
#   CHATS (10000)              chats the messages are spread over
#   WORKERS (4) SENDERS (1)    the server's turn workers and reply senders
#   TURN_BATCH (32) SEND_BATCH (128)  chats per worker claim, replies per sender round
#   PGBENCH_SECS (15) PGBENCH_CLIENTS (8)
#   DATABASE_URL               a PostgreSQL where databases can be created (else
#                              scripts/lib/postgres.sh finds or starts one)
#   LOADGEN                    a fraser-loadgen binary to use instead of building one
#                              (e.g. one built from an older commit, for before/after)
# Only loopback traffic; every run is bounded in messages and time.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/postgres.sh
source scripts/lib/postgres.sh
ensure_postgres

messages=${MESSAGES:-20000}
ack_messages=${ACK_MESSAGES:-10000}
ack_rate=${ACK_RATE:-1000}
chats=${CHATS:-10000}
workers=${WORKERS:-4}
senders=${SENDERS:-1}
pgbench_secs=${PGBENCH_SECS:-15}
pgbench_clients=${PGBENCH_CLIENTS:-8}
target=${CARGO_TARGET_DIR:-target}

loadgen=${LOADGEN:-}
if [ -z "$loadgen" ]; then
  cargo build --release --locked -q -p server --features testing --bin fraser-loadgen
  loadgen=$target/release/fraser-loadgen
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "machine: $(nproc) cores; $(uptime)"
# The acknowledgement waits for one WAL flush, and a request that arrives while another
# flush runs waits for that one too: its p99 cannot go below about two flushes.
pg_bindir=$(pg_config --bindir 2>/dev/null || true)
if [ -x "$pg_bindir/pg_test_fsync" ]; then
  data_dir=$(psql -Atq "$DATABASE_URL" -c 'SHOW data_directory' 2>/dev/null || true)
  fsync_dir=$(mktemp -d "${data_dir:+$(dirname "$data_dir")/}fraser-fsync.XXXXXX" 2>/dev/null || mktemp -d)
  fsync_us=$({ "$pg_bindir/pg_test_fsync" -s 1 -f "$fsync_dir/probe" 2>/dev/null || true; } |
    awk '/^ *fdatasync / && !seen { print $(NF-1); seen = 1 }')
  rm -rf "$fsync_dir"
  echo "one WAL flush (pg_test_fsync fdatasync, 8 kB): ${fsync_us:-?} us"
fi
common=(--chats "$chats" --workers "$workers" --senders "$senders"
  --turn-batch "${TURN_BATCH:-32}" --send-batch "${SEND_BATCH:-128}")
"$loadgen" --header --label throughput --store postgres --messages "$messages" "${common[@]}" | tee "$out/pg"
"$loadgen" --label ack --store postgres --messages "$ack_messages" --rate "$ack_rate" "${common[@]}"
"$loadgen" --label throughput --store sqlite --messages "$messages" "${common[@]}" | tee "$out/sqlite"
"$loadgen" --label ack --store sqlite --messages "$ack_messages" --rate "$ack_rate" "${common[@]}"

# pgbench: one bot-shaped transaction (store the message, update the chat's state,
# queue the reply), one commit, on a fresh database of the same server.
bench_db="fraser_pgbench_$$"
admin_url=$DATABASE_URL
bench_url=${admin_url%/*}/$bench_db
psql -q "$admin_url" -c "CREATE DATABASE $bench_db" >/dev/null
cleanup_db() { psql -q "$admin_url" -c "DROP DATABASE IF EXISTS $bench_db WITH (FORCE)" >/dev/null 2>&1 || true; rm -rf "$out"; }
trap cleanup_db EXIT
psql -q "$bench_url" >/dev/null <<SQL
CREATE TABLE bench_inbox (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, platform text NOT NULL,
    chat_id text NOT NULL, message_id text NOT NULL, text text NOT NULL,
    status text NOT NULL DEFAULT 'done', received_at_ms bigint NOT NULL,
    UNIQUE (platform, message_id));
CREATE TABLE bench_chats (
    platform text NOT NULL, chat_id text NOT NULL, state jsonb NOT NULL DEFAULT 'null',
    version bigint NOT NULL DEFAULT 0, PRIMARY KEY (platform, chat_id));
INSERT INTO bench_chats (platform, chat_id)
    SELECT 'load', 'c' || n FROM generate_series(0, $chats - 1) AS n;
CREATE TABLE bench_outbox (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, platform text NOT NULL,
    chat_id text NOT NULL, reply jsonb NOT NULL, status text NOT NULL DEFAULT 'pending');
VACUUM ANALYZE;
SQL
cat >"$out/turn.sql" <<SQL
\set chat random(0, $chats - 1)
BEGIN;
INSERT INTO bench_inbox (platform, chat_id, message_id, text, received_at_ms)
    VALUES ('load', 'c' || :chat, gen_random_uuid()::text, 'hello', 0);
UPDATE bench_chats SET state = jsonb_build_object('count', version + 1, 'last', 'hello'),
    version = version + 1 WHERE platform = 'load' AND chat_id = 'c' || :chat;
INSERT INTO bench_outbox (platform, chat_id, reply)
    VALUES ('load', 'c' || :chat, '{"text": "#1: hello"}');
END;
SQL
pgbench -n -c "$pgbench_clients" -j 2 -T "$pgbench_secs" -f "$out/turn.sql" "$bench_url" >"$out/pgbench" 2>&1 || {
  echo "bench: pgbench failed:" >&2; cat "$out/pgbench" >&2; exit 1; }
tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$out/pgbench" | head -1)
echo "pgbench: $pgbench_clients clients, ${pgbench_secs}s, one bot-shaped transaction: $tps tx/s"

column() { # file -> turns/s column of the row
  awk -F'|' '/\| throughput \|/ { gsub(/ /, "", $11); print $11 }' "$1"
}
pg_turns=$(column "$out/pg")
sqlite_turns=$(column "$out/sqlite")
ratio=$(awk -v a="$pg_turns" -v b="$tps" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "?" }')
echo "fraser turns/s (PostgreSQL) : pgbench tx/s = $pg_turns : $tps = $ratio"
echo "fraser turns/s (SQLite): $sqlite_turns"
echo "after: $(uptime)"
