#!/usr/bin/env bash
# Fault test of the local cluster (scripts/cluster.sh), loopback only and bounded in time.
#
# Under a steady load of signed webhooks across many chats (some very busy), injects:
# kill -9 of one server then another (each restarted), a PostgreSQL restart, and a fake
# platform that answers 500s, then 429s with retry-after, then hangs past the client
# timeout. Then checks that every accepted message made exactly one turn, every reply
# was delivered, per-chat order held, and counts duplicates; prints a report and exits
# non-zero when a check fails.
#
#   scripts/cluster-faults.sh           about 2 minutes of load (6,000 messages)
#   scripts/cluster-faults.sh --short   about 40 seconds (CI)
# FRASER_CLUSTER_PROFILE=dev uses debug binaries (CI builds them anyway).
set -euo pipefail
cd "$(dirname "$0")/.."

messages=6000 rate=50 chats=1000
if [ "${1:-}" = "--short" ]; then messages=1000 rate=25 chats=200; fi
duration=$((messages / rate))

export FRASER_CLUSTER_DIR=${FRASER_CLUSTER_DIR:-out/cluster-faults}
export FRASER_CLUSTER_PORT=${FRASER_CLUSTER_PORT:-18180}
export FRASER_CLUSTER_SERVER_PORTS=${FRASER_CLUSTER_SERVER_PORTS:-"18181 18182 18183"}
export FRASER_CLUSTER_PG_PORT=${FRASER_CLUSTER_PG_PORT:-15532}
export FRASER_CLUSTER_FAKE_PORT=${FRASER_CLUSTER_FAKE_PORT:-18190}
scripts/cluster.sh down >/dev/null 2>&1 || true
rm -rf "$FRASER_CLUSTER_DIR"
scripts/cluster.sh up
trap 'scripts/cluster.sh down' EXIT
dir=$(cd "$FRASER_CLUSTER_DIR" && pwd)
bin=$(cat "$dir/bin")
pg_port=$(cat "$dir/pg_port")

t0=$(date +%s%N)
elapsed() { echo $(( ($(date +%s%N) - t0) / 1000000 )); }
event() { echo "$(elapsed) ms  $*" | tee -a "$dir/events.log" >&2; }
at() { # seconds-share-of-duration (percent)
  local due=$(( t0 + duration * $1 * 10000000 ))
  local now
  now=$(date +%s%N)
  if [ "$due" -gt "$now" ]; then sleep "$(awk "BEGIN { print ($due - $now) / 1e9 }")"; fi
}

"$bin/fraser-webhook-load" --url "http://127.0.0.1:$FRASER_CLUSTER_PORT/webhooks/telegram" \
  --messages "$messages" --chats "$chats" --rate "$rate" --concurrency 64 \
  >"$dir/load.json" 2>"$dir/logs/load.log" &
load=$!
event "load: $messages messages, $chats chats, $rate/s"

at 10; event "kill -9 server 1"; scripts/cluster.sh kill-server 1
at 20; event "restart server 1"; scripts/cluster.sh start-server 1; event "server 1 ready"
at 30; event "kill -9 server 2"; scripts/cluster.sh kill-server 2
at 40; event "restart server 2"; scripts/cluster.sh start-server 2; event "server 2 ready"
at 50; event "restart PostgreSQL"; scripts/cluster.sh restart-postgres; event "PostgreSQL up"
at 60; event "platform answers 500"; scripts/cluster.sh fake error
at 68; event "platform answers 429 retry-after 2"; scripts/cluster.sh fake limit
at 76; event "platform hangs"; scripts/cluster.sh fake hang
at 84; event "platform healthy"; scripts/cluster.sh fake ok
wait "$load"
event "load done"

psql_q() {
  psql -h 127.0.0.1 -p "$pg_port" -U postgres -d fraser -tAc "$1" 2>/dev/null \
    || runuser -u postgres -- psql -h 127.0.0.1 -p "$pg_port" -U postgres -d fraser -tAc "$1"
}
if ! command -v psql >/dev/null; then
  PATH="$(cat "$dir/pg/bindir"):$PATH"
fi

# Drain: everything accepted is played and delivered (bounded).
deadline=$(( $(date +%s) + 300 ))
while :; do
  pending=$(psql_q "SELECT (SELECT count(*) FROM inbox WHERE status = 'pending') + (SELECT count(*) FROM outbox WHERE status = 'pending')")
  [ "$pending" = 0 ] && break
  if [ "$(date +%s)" -gt "$deadline" ]; then event "not drained after 300 s ($pending pending)"; break; fi
  sleep 1
done
event "drained"
sleep 1

psql_q "COPY (SELECT chat_id, id, reply->>'text' FROM outbox WHERE status = 'sent' ORDER BY chat_id, id) TO STDOUT WITH (FORMAT csv)" >"$dir/outbox.csv"
counts=$(psql_q "SELECT json_build_object(
  'inbox', (SELECT count(*) FROM inbox),
  'inbox_done', (SELECT count(*) FROM inbox WHERE status = 'done'),
  'inbox_dead', (SELECT count(*) FROM inbox WHERE status = 'dead'),
  'inbox_pending', (SELECT count(*) FROM inbox WHERE status = 'pending'),
  'turns', (SELECT coalesce(sum(version), 0) FROM chats),
  'outbox_sent', (SELECT count(*) FROM outbox WHERE status = 'sent'),
  'outbox_dead', (SELECT count(*) FROM outbox WHERE status = 'dead'),
  'outbox_pending', (SELECT count(*) FROM outbox WHERE status = 'pending'))")

python3 - "$dir" "$counts" <<'PY'
import csv, json, sys
from collections import defaultdict
d, counts = sys.argv[1], json.loads(sys.argv[2])
load = json.load(open(f"{d}/load.json"))
expected = defaultdict(list)
for chat, _id, text in csv.reader(open(f"{d}/outbox.csv")):
    expected[chat].append(text)
delivered = defaultdict(list)
attempts = 0
for line in open(f"{d}/fake-requests.jsonl"):
    entry = json.loads(line)
    if not entry["path"].endswith("/sendMessage"):
        continue
    attempts += 1
    if entry["mode"] != "ok":
        continue
    body = entry["body"]
    delivered[str(body["chat_id"])].append(body["text"])
duplicates = order_errors = undelivered = 0
for chat in set(expected) | set(delivered):
    want, got, j = expected.get(chat, []), delivered.get(chat, []), 0
    for text in got:
        if j < len(want) and text == want[j]:
            j += 1
        elif j > 0 and text == want[j - 1]:
            duplicates += 1
        else:
            order_errors += 1
    undelivered += len(want) - j
events = open(f"{d}/events.log").read()
lost = load["accepted"] - counts["inbox"]
report = {
    "messages_sent": load["messages"],
    "accepted": load["accepted"],
    "never_accepted": load["never_accepted"],
    "redeliveries_by_the_platform": load["redeliveries"],
    "answers": load["answers"],
    "ack_ms": load["ack_ms"],
    "stored": counts["inbox"],
    "lost": max(lost, 0),
    "turns": counts["turns"],
    "turns_done_twice": counts["turns"] - counts["inbox_done"],
    "dead_letters": counts["inbox_dead"] + counts["outbox_dead"],
    "replies": counts["outbox_sent"],
    "send_attempts": attempts,
    "replies_undelivered": undelivered,
    "replies_duplicated": duplicates,
    "order_violations": order_errors,
    "refused_by_second": load["refused_by_second"],
}
print(json.dumps(report, indent=2))
print(events, end="")
failed = [
    name for name, bad in [
        ("messages lost", report["lost"] != 0),
        ("messages never accepted", report["never_accepted"] != 0),
        ("turns not exactly once", report["turns_done_twice"] != 0 or counts["inbox_pending"] != 0),
        ("dead letters", report["dead_letters"] != 0),
        ("replies undelivered", undelivered != 0 or counts["outbox_pending"] != 0),
        ("per-chat order", order_errors != 0),
    ] if bad
]
if failed:
    print("FAILED: " + ", ".join(failed))
    sys.exit(1)
print("ok: nothing lost, one turn per message, every reply delivered in order"
      f" ({duplicates} duplicate deliveries: Telegram's API has no idempotency key)")
PY
