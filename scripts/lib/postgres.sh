# shellcheck shell=bash
# Finds or starts a PostgreSQL server for the tests and exports DATABASE_URL.
#
# Order: DATABASE_URL if already set; else a throw-away cluster made with the
# system's initdb/pg_ctl in a temporary directory (installing the distribution's
# PostgreSQL package first when it is missing and we are root); else fail and
# say how to get one. The tests never skip silently.

fraser_pg_bindir() {
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(command -v initdb)"
    return 0
  fi
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
      echo "$d"
      return 0
    fi
  done
  return 1
}

fraser_pg_install() {
  if [ "$(id -u)" != 0 ]; then
    return 1
  fi
  echo "test.sh: PostgreSQL not found; installing the distribution package" >&2
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
}

fraser_pg_stop() {
  if [ -n "${FRASER_PG_TMP:-}" ] && [ -d "$FRASER_PG_TMP" ]; then
    fraser_pg_as "$FRASER_PG_BIN/pg_ctl" -D "$FRASER_PG_TMP/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$FRASER_PG_TMP"
  fi
}

# Runs a command as the postgres user when we are root (initdb refuses root).
fraser_pg_as() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

ensure_postgres() {
  if [ -n "${DATABASE_URL:-}" ]; then
    case "$DATABASE_URL" in
      postgres://*|postgresql://*) ;;
      *) echo "test.sh: DATABASE_URL must be a postgres:// URL for the tests (got another scheme)" >&2; return 1 ;;
    esac
    echo "test.sh: using PostgreSQL from DATABASE_URL" >&2
    return 0
  fi
  FRASER_PG_BIN=$(fraser_pg_bindir) || { fraser_pg_install && FRASER_PG_BIN=$(fraser_pg_bindir); } || {
    cat >&2 <<MSG
test.sh: the tests need PostgreSQL and none was found.
  Either set DATABASE_URL=postgres://USER@HOST:PORT/DB to a server you can create databases on,
  or install PostgreSQL (Debian/Ubuntu: sudo apt-get install postgresql) so that a throw-away
  cluster can be started with initdb/pg_ctl.
MSG
    return 1
  }
  if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
    useradd --system --no-create-home postgres
  fi
  FRASER_PG_TMP=$(mktemp -d /tmp/fraser-pg.XXXXXX)
  chmod 755 "$FRASER_PG_TMP"
  [ "$(id -u)" = 0 ] && chown postgres "$FRASER_PG_TMP"
  local port=$((20000 + RANDOM % 20000))
  fraser_pg_as "$FRASER_PG_BIN/initdb" -D "$FRASER_PG_TMP/data" -U postgres --auth=trust -E UTF8 >/dev/null
  fraser_pg_as "$FRASER_PG_BIN/pg_ctl" -D "$FRASER_PG_TMP/data" -l "$FRASER_PG_TMP/log" -w \
    -o "-h 127.0.0.1 -p $port -k $FRASER_PG_TMP -c max_connections=200 -c fsync=off" start >/dev/null
  trap fraser_pg_stop EXIT
  export DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
  echo "test.sh: started a throw-away PostgreSQL cluster on port $port" >&2
}
