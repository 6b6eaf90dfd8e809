#!/usr/bin/env bash
# Load report of the local cluster (scripts/cluster.sh), loopback only, bounded in count
# and time. Each run starts a fresh cluster (nginx, N servers, PostgreSQL, the fake
# platform), sends signed group-chat webhooks at a fixed rate, waits until every turn
# is played and delivered, and prints one JSON line: acknowledgement throughput and
# latency (webhook -> 200), end-to-end turn latency (webhook sent -> first reply
# received by the fake platform; group replies quote the message they answer),
# turns/s end to end, errors, and the load average before and after.
#
#   scripts/cluster-load.sh run [SERVERS [MESSAGES [CHATS [RATE]]]]   one run (default 3 20000 1000 1000)
#   scripts/cluster-load.sh matrix        1 vs 3 servers, 1k vs 10k chats, sample vs bigger index
#   scripts/cluster-load.sh soak [MINUTES [RATE]]   steady load (default 10 min at 200/s) on 3
#                                         servers, RSS of each server every 5 s: first, last,
#                                         max, and whether it stays flat
#
# FRASER_CLUSTER_WARMUP_SECS (default 5): an uncounted warm-up at the run's rate first.
# FRASER_CLUSTER_PROFILE (default release) picks the binaries; FRASER_CLUSTER_INDEX
# another index (the matrix builds a 20x one with scripts/make-big-dump.py).
# Results are appended to $FRASER_CLUSTER_DIR/../load-results.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."

export FRASER_CLUSTER_DIR=${FRASER_CLUSTER_DIR:-out/cluster-load}
export FRASER_CLUSTER_PORT=${FRASER_CLUSTER_PORT:-18380}
export FRASER_CLUSTER_PG_PORT=${FRASER_CLUSTER_PG_PORT:-15732}
export FRASER_CLUSTER_FAKE_PORT=${FRASER_CLUSTER_FAKE_PORT:-18390}
ports_base=${FRASER_CLUSTER_LOAD_PORT_BASE:-18381}
results=$(dirname "$FRASER_CLUSTER_DIR")/load-results.jsonl

say() { echo "cluster-load: $*" >&2; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

start_cluster() { # servers
  local n=$1 ports="" i
  for i in $(seq 0 $((n - 1))); do ports="$ports $((ports_base + i))"; done
  export FRASER_CLUSTER_SERVER_PORTS="${ports# }"
  scripts/cluster.sh down >/dev/null 2>&1 || true
  rm -rf "$FRASER_CLUSTER_DIR/pg" "$FRASER_CLUSTER_DIR/logs" "$FRASER_CLUSTER_DIR"/fake-requests.jsonl
  scripts/cluster.sh up
}

sql() { # port query
  PATH="$(cat "$FRASER_CLUSTER_DIR/pg/bindir"):$PATH" psql -h 127.0.0.1 -p "$1" -U postgres -d fraser -tAc "$2"
}

drain() { # port: waits (bounded) until every turn is played and every reply delivered
  local deadline=$(( $(date +%s) + 120 )) pending
  while :; do
    pending=$(sql "$1" "SELECT (SELECT count(*) FROM inbox WHERE status = 'pending') + (SELECT count(*) FROM outbox WHERE status = 'pending')")
    [ "$pending" = 0 ] && break
    [ "$(date +%s)" -gt "$deadline" ] && { say "not drained after 120 s ($pending pending)"; break; }
    sleep 0.5
  done
}

# One measured run on a running cluster; prints the JSON line. A warm-up of
# FRASER_CLUSTER_WARMUP_SECS (default 5) at the same rate and on the same chats comes
# first, with its own update ids, and is not counted: freshly started servers open their
# database connections and PostgreSQL plans their statements during the first seconds.
measure() { # label servers messages chats rate
  local label=$1 servers=$2 messages=$3 chats=$4 rate=$5
  local dir bin pg_port before after warmup=${FRASER_CLUSTER_WARMUP_SECS:-5}
  dir=$(cd "$FRASER_CLUSTER_DIR" && pwd)
  bin=$(cat "$dir/bin")
  pg_port=$(cat "$dir/pg_port")
  if [ "$warmup" -gt 0 ]; then
    "$bin/fraser-webhook-load" --url "http://127.0.0.1:$FRASER_CLUSTER_PORT/webhooks/telegram" \
      --messages $(( warmup * rate )) --chats "$chats" --rate "$rate" --concurrency 256 --group \
      --busy-share 0 --give-up-secs 30 --first-update-id 1000000000 >/dev/null 2>"$dir/logs/warmup.log"
    drain "$pg_port"
  fi
  local done_before
  done_before=$(sql "$pg_port" "SELECT count(*) FROM inbox WHERE status = 'done'")
  before=$(loadavg)
  "$bin/fraser-webhook-load" --url "http://127.0.0.1:$FRASER_CLUSTER_PORT/webhooks/telegram" \
    --messages "$messages" --chats "$chats" --rate "$rate" --concurrency 256 --group \
    --busy-share 0 --give-up-secs 30 --trace "$dir/acks.jsonl" >"$dir/load.json" 2>"$dir/logs/load.log"
  drain "$pg_port"
  sleep 0.5 # the fake platform flushes its log every 200 ms
  after=$(loadavg)
  local dead
  dead=$(sql "$pg_port" "SELECT (SELECT count(*) FROM inbox WHERE status <> 'done') + (SELECT count(*) FROM outbox WHERE status <> 'sent')")
  local turns
  turns=$(sql "$pg_port" "SELECT count(*) - $done_before || ' ' || coalesce(max(finished_at_ms), 0) FROM inbox WHERE status = 'done'")
  python3 - "$dir" "$label" "$servers" "$chats" "$rate" "$before" "$after" "$dead" "$turns" <<'PY' | tee -a "$results"
import json, sys
d, label, servers, chats, rate, before, after, dead, turns = sys.argv[1:]
turns_done, last_turn_ms = (int(v) for v in turns.split())
load = json.load(open(f"{d}/load.json"))
sent = {}
for line in open(f"{d}/acks.jsonl"):
    e = json.loads(line)
    if e["status"] == "200":
        sent[e["update_id"]] = e["sent_ms"]
first_reply = {}
for line in open(f"{d}/fake-requests.jsonl"):
    e = json.loads(line)
    body = e["body"] if isinstance(e["body"], dict) else {}
    quoted = (body.get("reply_parameters") or {}).get("message_id")
    if e["mode"] == "ok" and quoted is not None and quoted not in first_reply:
        first_reply[quoted] = e["at_ms"]
lat = sorted(first_reply[u] - s for u, s in sent.items() if u in first_reply)
def pct(values, p):
    return values[min(len(values) - 1, round((len(values) - 1) * p))] if values else None
answered = [u for u in sent if u in first_reply]
span_ms = (max(first_reply[u] for u in answered) - min(sent[u] for u in answered)) if answered else 0
print(json.dumps({
    "run": label, "servers": int(servers), "chats": int(chats), "rate": int(rate),
    "messages": load["messages"], "accepted": load["accepted"],
    "never_accepted": load["never_accepted"], "non_200": sum(v for k, v in load["answers"].items() if k != "200"),
    "not_done_or_sent": int(dead),
    "ack_per_s": load["accepted_per_second"], "ack_ms": load["ack_ms"],
    "turns_done": turns_done,
    # every turn played (inbox -> game -> outbox committed), from the first webhook sent
    # to the later of the last turn committed and the last reply received
    "turns_per_s": round(turns_done / (max(last_turn_ms, max(first_reply.values(), default=0)) - min(sent.values()) ) * 1000, 1) if sent and turns_done else None,
    "turns_answered": len(answered),
    "turns_per_s_end_to_end": round(len(answered) / (span_ms / 1000), 1) if span_ms else None,
    "turn_ms": {"p50": pct(lat, 0.5), "p90": pct(lat, 0.9), "p99": pct(lat, 0.99), "max": pct(lat, 1.0)},
    "loadavg_before": before, "loadavg_after": after,
}))
PY
}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

soak() { # minutes rate
  local minutes=$1 rate=$2 dir pids p
  start_cluster 3
  dir=$(cd "$FRASER_CLUSTER_DIR" && pwd)
  pids=$(cat "$dir"/server*.pid)
  local messages=$(( minutes * 60 * rate ))
  : >"$dir/rss.tsv"
  (
    start=$(date +%s)
    while :; do
      line="$(( $(date +%s) - start ))"
      for p in $pids; do line="$line	$(rss_kib "$p")"; done
      echo "$line" >>"$dir/rss.tsv"
      sleep 5
    done
  ) &
  local sampler=$!
  measure "soak ${minutes}m" 3 "$messages" 10000 "$rate"
  kill "$sampler" 2>/dev/null || true
  python3 - "$dir/rss.tsv" "$(loadavg)" <<'PY' | tee -a "$results"
import json, sys
rows = [list(map(int, l.split())) for l in open(sys.argv[1]) if l.strip()]
out = {"run": "soak rss", "samples": len(rows), "loadavg_end": sys.argv[2], "servers": []}
for k in range(1, len(rows[0])):
    series = [r[k] / 1024 for r in rows if r[k] > 0]
    warm = series[len(series) // 10:]
    mean = sum(warm) / len(warm)
    tail = warm[-max(1, len(warm) // 10):]
    tail_mean = sum(tail) / len(tail)
    out["servers"].append({
        "first_mib": round(series[0], 1), "last_mib": round(series[-1], 1),
        "max_mib": round(max(series), 1), "mean_after_warmup_mib": round(mean, 1),
        "last_10pct_mean_mib": round(tail_mean, 1),
        "flat": abs(tail_mean - mean) <= 0.1 * mean,
        "grows": tail_mean > 1.1 * mean,
    })
print(json.dumps(out))
PY
  scripts/cluster.sh down
}

big_index() { # builds a 20x index from the sample once; echoes its directory
  local big=out/cluster-load-big
  if [ ! -f "$big/index/manifest.json" ]; then
    say "making the 20x dump and its index in $big"
    python3 scripts/make-big-dump.py \
      data/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2 "$big" 20 >&2
    "${CARGO_TARGET_DIR:-target}/release/fraser" -q build "$big/big.xml" --out "$big/index"
  fi
  (cd "$big/index" && pwd)
}

case "${1:-run}" in
  run)
    servers=${2:-3} messages=${3:-20000} chats=${4:-1000} rate=${5:-1000}
    start_cluster "$servers"
    trap 'scripts/cluster.sh down' EXIT
    measure "run" "$servers" "$messages" "$chats" "$rate" ;;
  matrix)
    trap 'scripts/cluster.sh down' EXIT
    for servers in 1 3; do
      for chats in 1000 10000; do
        start_cluster "$servers"
        measure "sample index" "$servers" 20000 "$chats" 1000
      done
    done
    FRASER_CLUSTER_INDEX=$(big_index) start_cluster 3
    measure "20x index" 3 20000 10000 1000 ;;
  soak)
    trap 'scripts/cluster.sh down' EXIT
    soak "${2:-10}" "${3:-200}" ;;
  *) echo "usage: scripts/cluster-load.sh run [SERVERS [MESSAGES [CHATS [RATE]]]] | matrix | soak [MINUTES [RATE]]" >&2; exit 2 ;;
esac
