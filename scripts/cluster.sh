#!/usr/bin/env bash
# A local cluster on loopback, the production topology in miniature:
#   nginx (round-robin) -> 3 x `fraser serve` -> one PostgreSQL
#   one shared read-only index directory, one fake messenger platform (Telegram's API).
#
#   scripts/cluster.sh up       build, start everything, wait until it answers
#   scripts/cluster.sh status   what runs (by pid) and whether nginx answers
#   scripts/cluster.sh down     stop exactly what `up` started (by pid)
# and, for the fault scripts:
#   scripts/cluster.sh kill-server N | start-server N   kill -9 / start server N (1-based)
#   scripts/cluster.sh restart-postgres                  fast restart of PostgreSQL
#   scripts/cluster.sh fake MODE                         fake platform: ok|error|limit|hang
#   scripts/cluster.sh rebuild-index [BUILD FLAGS]       rebuild the index over its directory
#                                                        (the servers swap it in, no restart)
#
# Settings (environment):
#   FRASER_CLUSTER_DIR    state, pids and logs           (default out/cluster)
#   FRASER_CLUSTER_PORT   nginx port                      (default 18080)
#   FRASER_CLUSTER_SERVER_PORTS  the servers' ports       (default "18081 18082 18083")
#   FRASER_CLUSTER_PG_PORT       PostgreSQL port          (default 15432)
#   FRASER_CLUSTER_FAKE_PORT     fake platform port       (default 18090)
#   FRASER_CLUSTER_INDEX  index directory (default: DIR/index, built from the bundled
#                         sample when missing or unreadable by this build)
#   FRASER_CLUSTER_PROFILE  cargo profile of the binaries: release (default) or dev
#   FRASER_CLUSTER_BUILD  0: use the binaries as they are (default 1: cargo build first)
#   FRASER_CLUSTER_INDEX_RELOAD_SECS  how often servers look for a new index (default 2)
#   FRASER_CLUSTER_WORKERS  turn workers per server (default 2: three servers share two
#                         cores with PostgreSQL here; more only add contention)
#   FRASER_CLUSTER_DUMP   the dump the index is built from (default: the enwiki sample)
# Webhooks: POST http://127.0.0.1:$FRASER_CLUSTER_PORT/webhooks/telegram with the header
# X-Telegram-Bot-Api-Secret-Token: cluster-secret. Replies land in $DIR/fake-requests.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/postgres.sh
. scripts/lib/postgres.sh

dir=${FRASER_CLUSTER_DIR:-out/cluster}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
port=${FRASER_CLUSTER_PORT:-18080}
server_ports=${FRASER_CLUSTER_SERVER_PORTS:-"18081 18082 18083"}
pg_port=${FRASER_CLUSTER_PG_PORT:-15432}
fake_port=${FRASER_CLUSTER_FAKE_PORT:-18090}
index=${FRASER_CLUSTER_INDEX:-$dir/index}
secret=cluster-secret
profile=${FRASER_CLUSTER_PROFILE:-release}
case "$profile" in
  release) bin=${CARGO_TARGET_DIR:-target}/release; profile_flag=--release ;;
  dev|debug) bin=${CARGO_TARGET_DIR:-target}/debug; profile_flag= ;;
  *) echo "cluster: FRASER_CLUSTER_PROFILE must be release or dev" >&2; exit 2 ;;
esac
dump=${FRASER_CLUSTER_DUMP:-data/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2}

say() { echo "cluster: $*" >&2; }

alive() { [ -f "$1" ] && kill -0 "$(cat "$1" 2>/dev/null)" 2>/dev/null; }

wait_http() { # url seconds
  local i
  for i in $(seq 1 $(($2 * 10))); do
    if curl -fsS -o /dev/null --max-time 1 "$1" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}

need_nginx() {
  command -v nginx >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing nginx (Debian package)"
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >&2 \
      || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >&2
    # The package starts a system nginx on port 80: not ours, leave it alone unless it
    # was started by the install.
    command -v nginx >/dev/null && return 0
  fi
  say "nginx is missing: install it (Debian/Ubuntu: sudo apt-get install nginx) and retry"
  exit 1
}

start_postgres() {
  if alive "$dir/postgres.pid"; then return 0; fi
  FRASER_PG_BIN=$(fraser_pg_bindir) || { fraser_pg_install && FRASER_PG_BIN=$(fraser_pg_bindir); } || {
    say "PostgreSQL's initdb/pg_ctl not found: install postgresql and retry"; exit 1; }
  # The real bin directory (initdb may be a symlink elsewhere; psql and createdb sit with it).
  FRASER_PG_BIN=$(dirname "$(readlink -f "$FRASER_PG_BIN/initdb")")
  if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
    useradd --system --no-create-home postgres
  fi
  mkdir -p "$dir/pg"
  chmod 755 "$dir/pg"
  [ "$(id -u)" = 0 ] && chown postgres "$dir/pg"
  if [ ! -f "$dir/pg/data/PG_VERSION" ]; then
    fraser_pg_as "$FRASER_PG_BIN/initdb" -D "$dir/pg/data" -U postgres --auth=trust -E UTF8 >/dev/null
  fi
  fraser_pg_as "$FRASER_PG_BIN/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/log" -w \
    -o "-h 127.0.0.1 -p $pg_port -k $dir/pg -c max_connections=300" start >/dev/null
  head -1 "$dir/pg/data/postmaster.pid" > "$dir/postgres.pid"
  echo "$FRASER_PG_BIN" > "$dir/pg/bindir"
  fraser_pg_as "$FRASER_PG_BIN/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -qtAc \
    "SELECT 1 FROM pg_database WHERE datname = 'fraser'" | grep -q 1 \
    || fraser_pg_as "$FRASER_PG_BIN/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres fraser
}

start_server() { # n port
  local n=$1 p=$2
  alive "$dir/server$n.pid" && return 0
  DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/fraser" \
  FRASER_LISTEN="127.0.0.1:$p" \
  FRASER_INDEX="$index" \
  FRASER_INDEX_RELOAD_SECS="${FRASER_CLUSTER_INDEX_RELOAD_SECS:-2}" \
  FRASER_WORKERS="${FRASER_CLUSTER_WORKERS:-2}" \
  FRASER_LOG_FORMAT=json \
  FRASER_TELEGRAM_TOKEN="cluster:token" \
  FRASER_TELEGRAM_WEBHOOK_SECRET="$secret" \
  FRASER_TELEGRAM_API_URL="http://127.0.0.1:$fake_port" \
  FRASER_TELEGRAM_SEND_LIMITS="${FRASER_CLUSTER_SEND_LIMITS:-off}" \
    nohup "$bin/fraser" serve >>"$dir/logs/server$n.log" 2>&1 &
  echo $! > "$dir/server$n.pid"
}

write_nginx_conf() {
  {
    echo "worker_processes 1;"
    echo "pid $dir/nginx.pid;"
    echo "error_log $dir/logs/nginx-error.log warn;"
    echo "events { worker_connections 4096; }"
    echo "http {"
    echo "  access_log off;"
    echo "  client_body_temp_path $dir/nginx-tmp;"
    echo "  proxy_temp_path $dir/nginx-tmp;"
    echo "  fastcgi_temp_path $dir/nginx-tmp;"
    echo "  uwsgi_temp_path $dir/nginx-tmp;"
    echo "  scgi_temp_path $dir/nginx-tmp;"
    echo "  upstream fraser {"
    for p in $server_ports; do echo "    server 127.0.0.1:$p max_fails=3 fail_timeout=2s;"; done
    echo "    keepalive 64;"
    echo "  }"
    echo "  server {"
    echo "    listen 127.0.0.1:$port;"
    echo "    client_max_body_size 1m;"
    echo "    location / {"
    echo "      proxy_pass http://fraser;"
    echo "      proxy_http_version 1.1;"
    echo "      proxy_set_header Connection \"\";"
    echo "      proxy_next_upstream error timeout http_502 http_503;"
    echo "      proxy_next_upstream_tries 3;"
    echo "      proxy_connect_timeout 1s;"
    echo "      proxy_read_timeout 30s;"
    echo "    }"
    echo "  }"
    echo "}"
  } > "$dir/nginx.conf"
  mkdir -p "$dir/nginx-tmp"
}

up() {
  need_nginx
  mkdir -p "$dir/logs"
  if [ "${FRASER_CLUSTER_BUILD:-1}" = 1 ]; then
    say "building ($profile)"
    # shellcheck disable=SC2086
    cargo build $profile_flag --locked -q -p cli -p integration-tests \
      --bin fraser --bin fraser-fake-platform --bin fraser-webhook-load
  fi
  if [ -z "${FRASER_CLUSTER_INDEX:-}" ] && ! "$bin/fraser" verify "$index" >/dev/null 2>&1; then
    say "building the index of the bundled sample into $index"
    "$bin/fraser" -q build "$dump" --out "$index"
  fi
  index=$(cd "$index" && pwd)
  start_postgres
  if ! alive "$dir/fake.pid"; then
    nohup "$bin/fraser-fake-platform" --listen "127.0.0.1:$fake_port" \
      --log "$dir/fake-requests.jsonl" >>"$dir/logs/fake.log" 2>&1 &
    echo $! > "$dir/fake.pid"
  fi
  local n=1
  for p in $server_ports; do start_server "$n" "$p"; n=$((n + 1)); done
  write_nginx_conf
  if ! alive "$dir/nginx.pid"; then
    nginx -c "$dir/nginx.conf" -p "$dir" -e "$dir/logs/nginx-error.log"
  fi
  for p in $server_ports; do
    wait_http "http://127.0.0.1:$p/readyz" 60 || { say "server on port $p did not get ready; see $dir/logs"; exit 1; }
  done
  wait_http "http://127.0.0.1:$port/readyz" 10 || { say "nginx does not answer; see $dir/logs"; exit 1; }
  wait_http "http://127.0.0.1:$fake_port/_fake/stats" 10 || { say "the fake platform does not answer"; exit 1; }
  echo "$port" > "$dir/port"
  echo "$pg_port" > "$dir/pg_port"
  echo "$bin" > "$dir/bin"
  say "up: http://127.0.0.1:$port/ (web chat), webhooks at /webhooks/telegram (secret $secret)"
  say "state and logs in $dir"
}

status() {
  local name pidfile any=0
  for pidfile in "$dir"/*.pid; do
    [ -e "$pidfile" ] || continue
    any=1
    name=$(basename "$pidfile" .pid)
    if alive "$pidfile"; then echo "$name: running (pid $(cat "$pidfile"))"
    else echo "$name: stopped"; fi
  done
  [ "$any" = 1 ] || echo "nothing started (no pid files in $dir)"
  if curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$port/readyz" 2>/dev/null; then
    echo "nginx: http://127.0.0.1:$port/ answers"
  fi
}

stop_pid() { # pidfile
  local pid
  alive "$1" || { rm -f "$1"; return 0; }
  pid=$(cat "$1")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$1"
}

down() {
  if alive "$dir/nginx.pid"; then nginx -c "$dir/nginx.conf" -p "$dir" -s quit 2>/dev/null || stop_pid "$dir/nginx.pid"; fi
  for _ in $(seq 1 50); do alive "$dir/nginx.pid" || break; sleep 0.1; done
  stop_pid "$dir/nginx.pid"
  local f
  for f in "$dir"/server*.pid "$dir/fake.pid"; do [ -e "$f" ] && stop_pid "$f"; done
  if alive "$dir/postgres.pid"; then
    fraser_pg_as "$(cat "$dir/pg/bindir")/pg_ctl" -D "$dir/pg/data" -m fast -w stop >/dev/null || true
  fi
  rm -f "$dir/postgres.pid"
  say "down"
}

server_port() { # n
  local n=0 p
  for p in $server_ports; do n=$((n + 1)); [ "$n" = "$1" ] && { echo "$p"; return 0; }; done
  say "no server $1 (ports: $server_ports)"; exit 2
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  kill-server)
    p=$(server_port "${2:?server number}")
    if alive "$dir/server$2.pid"; then kill -KILL "$(cat "$dir/server$2.pid")"; fi
    rm -f "$dir/server$2.pid" ;;
  start-server)
    p=$(server_port "${2:?server number}")
    index=$(cd "$index" && pwd)
    start_server "$2" "$p"
    wait_http "http://127.0.0.1:$p/readyz" 60 || { say "server $2 did not get ready"; exit 1; } ;;
  restart-postgres)
    fraser_pg_as "$(cat "$dir/pg/bindir")/pg_ctl" -D "$dir/pg/data" -m fast -w restart \
      -o "-h 127.0.0.1 -p $pg_port -k $dir/pg -c max_connections=300" >/dev/null
    head -1 "$dir/pg/data/postmaster.pid" > "$dir/postgres.pid" ;;
  rebuild-index)
    shift
    # `fraser build` writes a new directory next to the index and renames it over.
    "$(cat "$dir/bin")/fraser" -q build "$dump" --out "$index" "$@" ;;
  fake)
    curl -fsS -X POST "http://127.0.0.1:$fake_port/_fake/mode/${2:?mode}" >/dev/null ;;
  *) echo "usage: scripts/cluster.sh up|down|status|kill-server N|start-server N|restart-postgres|fake MODE|rebuild-index [FLAGS]" >&2; exit 2 ;;
esac
