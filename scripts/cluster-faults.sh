#!/usr/bin/env bash
# Fault test of the local cluster (scripts/cluster.sh), loopback only and bounded in time.
#
# Under a steady load of signed webhooks across many chats (some very busy), injects:
# kill -9 of one server then another (each restarted), a new index build renamed over
# the served directory (the servers swap it in without a restart), a PostgreSQL
# restart, and a fake platform that answers 500s, then 429s with retry-after, then
# hangs past the client timeout. Then checks that every accepted message made exactly
# one turn, every reply was delivered, per-chat order held, the scores in the database
# equal the points announced in the replies, and every server serves the new index;
# counts duplicates, measures the time from each fault's end to the first accepted
# webhook and the first delivered reply; prints a report and exits non-zero when a
# check fails.
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

psql_q() {
  psql -h 127.0.0.1 -p "$pg_port" -U postgres -d fraser -tAc "$1" 2>/dev/null \
    || runuser -u postgres -- psql -h 127.0.0.1 -p "$pg_port" -U postgres -d fraser -tAc "$1"
}
if ! command -v psql >/dev/null; then
  PATH="$(cat "$dir/pg/bindir"):$PATH"
fi

elapsed() { echo $(( ($(date +%s%N) - t0) / 1000000 )); }
event() {
  echo "$(elapsed) ms  $*" | tee -a "$dir/events.log" >&2
  printf '{"at_ms": %s, "event": "%s"}\n' "$(( $(date +%s%N) / 1000000 ))" "$*" >>"$dir/events.jsonl"
}
server_builds() { # the index build id each server serves, one a line
  local p
  for p in $FRASER_CLUSTER_SERVER_PORTS; do
    curl -fsS --max-time 2 "http://127.0.0.1:$p/readyz" \
      | python3 -c 'import json, sys; print(json.load(sys.stdin)["index"]["build"])' 2>/dev/null \
      || echo "unreachable"
  done
}
first_build=$(server_builds | sed -n 1p)
# Guesses are titles of the sample, so some rounds are won and scores move.
bzcat "${FRASER_CLUSTER_DUMP:-data/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2}" \
  | sed -n 's|.*<title>\([^<:]*\)</title>.*|\1|p' >"$dir/guesses.txt"
# The next build of the index (another shard size, so another build id), swapped in
# under load.
"$bin/fraser" -q build "${FRASER_CLUSTER_DUMP:-data/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2}" \
  --shard-size 256KiB --out "$dir/index-next"
next_build=$(python3 -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest()[:12])' \
  "$dir/index-next/manifest.json")
at() { # seconds-share-of-duration (percent)
  local due=$(( t0 + duration * $1 * 10000000 ))
  local now
  now=$(date +%s%N)
  if [ "$due" -gt "$now" ]; then sleep "$(awk "BEGIN { print ($due - $now) / 1e9 }")"; fi
}

t0=$(date +%s%N)
"$bin/fraser-webhook-load" --url "http://127.0.0.1:$FRASER_CLUSTER_PORT/webhooks/telegram" \
  --messages "$messages" --chats "$chats" --rate "$rate" --concurrency 64 \
  --guesses "$dir/guesses.txt" --trace "$dir/acks.jsonl" \
  >"$dir/load.json" 2>"$dir/logs/load.log" &
load=$!
event "load: $messages messages, $chats chats, $rate/s"
# A player who knows the answers: every second, three chats with a round running get
# its title (read from the game state), redelivered until accepted, so rounds are won
# under the faults too and the scores check has points to compare.
touch "$dir/winning"
python3 - "$dir" "$FRASER_CLUSTER_PORT" "$pg_port" <<'PY' 2>"$dir/logs/winners.log" &
import json, os, subprocess, sys, time, urllib.request
d, port, pg_port = sys.argv[1:]
query = ("SELECT chat_id, state->'game'->'round'->>'title' FROM chats "
         "WHERE state->'game' IS NOT NULL ORDER BY random() LIMIT 3")
sent = accepted = 0
while os.path.exists(f"{d}/winning"):
    run = subprocess.run(["psql", "-h", "127.0.0.1", "-p", pg_port, "-U", "postgres", "-d", "fraser",
                          "-tAF", "\t", "-c", query], capture_output=True, text=True)
    for line in run.stdout.splitlines():
        chat, _, title = line.partition("\t")
        if not title:
            continue
        sent += 1
        update = 900_000_000 + sent
        body = json.dumps({"update_id": update, "message": {
            "message_id": update, "date": 1_700_000_000, "text": title,
            "from": {"id": int(chat), "is_bot": False, "first_name": f"Player {int(chat) - 1_000_000}"},
            "chat": {"id": int(chat), "type": "private"}}}).encode()
        give_up = time.time() + 60
        while time.time() < give_up:
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/webhooks/telegram", data=body, method="POST",
                headers={"content-type": "application/json",
                         "x-telegram-bot-api-secret-token": "cluster-secret"})
            try:
                with urllib.request.urlopen(request, timeout=10) as answer:
                    if answer.status == 200:
                        accepted += 1
                        break
            except Exception:
                pass
            time.sleep(0.1)
    time.sleep(1)
json.dump({"sent": sent, "accepted": accepted}, open(f"{d}/winners.json", "w"))
PY
winners=$!

at 10; event "kill -9 server 1"; scripts/cluster.sh kill-server 1
at 20; event "restart server 1"; scripts/cluster.sh start-server 1; event "server 1 ready"
at 30; event "kill -9 server 2"; scripts/cluster.sh kill-server 2
at 40; event "restart server 2"; scripts/cluster.sh start-server 2; event "server 2 ready"
at 44; event "new index build renamed over the served directory"
# As `fraser build --out` replaces a directory: the old one renamed aside, the new one in.
mv "$dir/index" "$dir/index.old" && mv "$dir/index-next" "$dir/index" && rm -rf "$dir/index.old"
for _ in $(seq 1 100); do
  [ "$(server_builds | sort -u)" = "$next_build" ] && break
  sleep 0.1
done
event "new index served by every server"
at 50; event "restart PostgreSQL"; scripts/cluster.sh restart-postgres; event "PostgreSQL up"
at 60; event "platform answers 500"; scripts/cluster.sh fake error
at 68; event "platform answers 429 retry-after 2"; scripts/cluster.sh fake limit
at 76; event "platform hangs"; scripts/cluster.sh fake hang
at 84; event "platform healthy"; scripts/cluster.sh fake ok
wait "$load"
event "load done"
rm -f "$dir/winning"
wait "$winners"

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
server_builds >"$dir/builds.txt"

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
# Scores three ways: the players table (score deltas applied in each turn), the game
# state's own scoreboard, and (in Python below) the points the replies announced.
psql_q "COPY (SELECT c.chat_id,
    (SELECT coalesce(sum(p.score), 0) FROM players p WHERE p.platform = c.platform AND p.chat_id = c.chat_id),
    (SELECT coalesce(sum((s->>'points')::bigint), 0) FROM jsonb_array_elements(
        CASE WHEN jsonb_typeof(c.state->'scores') = 'array' THEN c.state->'scores' ELSE '[]'::jsonb END) s)
  FROM chats c) TO STDOUT WITH (FORMAT csv)" >"$dir/scores.csv"

python3 - "$dir" "$counts" "$first_build" "$next_build" <<'PY'
import csv, json, re, sys
from collections import defaultdict
d, counts, first_build, next_build = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3], sys.argv[4]
load = json.load(open(f"{d}/load.json"))
winners = json.load(open(f"{d}/winners.json"))
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
# Scores: what the replies announced ("+N points (total T)") against the database.
won = re.compile(r" got it: .*! \+(\d+) points? \(total (-?\d+)\)")
announced, wins = defaultdict(int), 0
for chat, texts in expected.items():
    for text in texts:
        m = won.search(text)
        if m:
            announced[chat] += int(m.group(1))
            wins += 1
score_mismatches = 0
chats_scored = 0
for chat, players, state in csv.reader(open(f"{d}/scores.csv")):
    players, state = int(players), int(state)
    chats_scored += players > 0
    if not (players == state == announced.get(chat, 0)):
        score_mismatches += 1
# Recovery: from each fault's end to the first accepted webhook and delivered reply.
acks = sorted(e["at_ms"] for e in map(json.loads, open(f"{d}/acks.jsonl")) if e["status"] == "200")
deliveries = []
for line in open(f"{d}/fake-requests.jsonl"):
    entry = json.loads(line)
    if entry["path"].endswith("/sendMessage") and entry["mode"] == "ok":
        deliveries.append(entry["at_ms"])
deliveries.sort()
def first_after(times, t):
    import bisect
    i = bisect.bisect_left(times, t)
    return times[i] - t if i < len(times) else None
recovery = {}
for event in map(json.loads, open(f"{d}/events.jsonl")):
    name = event["event"]
    if name.startswith(("server", "PostgreSQL up", "platform healthy", "new index", "kill", "restart")):
        recovery[name] = {
            "first_ack_ms": first_after(acks, event["at_ms"]),
            "first_delivery_ms": first_after(deliveries, event["at_ms"]),
        }
builds = open(f"{d}/builds.txt").read().split()
events = open(f"{d}/events.log").read()
lost = load["accepted"] + winners["accepted"] - counts["inbox"]
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
    "answers_sent_by_the_player_who_knows": winners,
    "rounds_won": wins,
    "chats_with_points": chats_scored,
    "score_mismatches": score_mismatches,
    "index_builds": {"before": first_build, "swapped_in": next_build, "served_after": builds},
    "recovery": recovery,
    "loadavg_at_the_end": open("/proc/loadavg").read().split()[:3],
}
print(json.dumps(report, indent=2))
print(events, end="")
failed = [
    name for name, bad in [
        ("messages lost", report["lost"] != 0),
        ("messages never accepted",
         report["never_accepted"] != 0 or winners["accepted"] != winners["sent"]),
        ("turns not exactly once", report["turns_done_twice"] != 0 or counts["inbox_pending"] != 0),
        ("dead letters", report["dead_letters"] != 0),
        ("replies undelivered", undelivered != 0 or counts["outbox_pending"] != 0),
        ("per-chat order", order_errors != 0),
        ("scores differ from the replies", score_mismatches != 0),
        ("no round won", wins == 0),
        ("index not replaced on every server",
         set(builds) != {next_build} or next_build == first_build),
    ] if bad
]
if failed:
    print("FAILED: " + ", ".join(failed))
    sys.exit(1)
print("ok: nothing lost, one turn per message, every reply delivered in order,"
      f" scores match the replies ({wins} rounds won), new index served everywhere"
      f" ({duplicates} duplicate deliveries: Telegram's API has no idempotency key)")
PY
