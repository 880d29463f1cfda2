# Functions to install and run a throwaway PostGIS cluster; sourced by scripts/test and the
# benchmarks. Works as root on a fresh Debian machine (installs what is missing) and as a
# normal user where PostgreSQL and PostGIS are installed.

pg_bindir() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

apt_install() {
  if [ "$(id -u)" != 0 ]; then
    echo "!! missing packages: $* — install them (apt-get install $*) or set DATABASE_URL" >&2
    return 1
  fi
  if [ -z "${ATLAS_APT_UPDATED:-}" ]; then
    apt-get update -qq >/dev/null
    export ATLAS_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

ensure_postgis() {
  local bin ver
  bin=$(pg_bindir)
  if [ -z "$bin" ]; then
    echo "== installing PostgreSQL and PostGIS" >&2
    apt_install postgresql postgresql-contrib
    bin=$(pg_bindir)
  fi
  ver=$(basename "$(dirname "$bin")")
  if [ ! -f "/usr/share/postgresql/$ver/extension/postgis.control" ]; then
    echo "== installing PostGIS for PostgreSQL $ver" >&2
    apt_install "postgresql-$ver-postgis-3"
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Starts a cluster in a fresh temporary directory and exports DATABASE_URL.
start_cluster() {
  local bin runas
  bin=$(pg_bindir)
  PG_TMP=$(mktemp -d /tmp/atlas-pg.XXXXXX)
  PG_PORT=$(free_port)
  runas=()
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    chown postgres "$PG_TMP"
    runas=(runuser -u postgres --)
  fi
  "${runas[@]}" "$bin/initdb" -D "$PG_TMP/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
  "${runas[@]}" "$bin/pg_ctl" -D "$PG_TMP/data" -l "$PG_TMP/log" -w -t 60 start \
    -o "-p $PG_PORT -k $PG_TMP -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 -c shared_buffers=256MB" >/dev/null
  export DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
  export PG_TMP PG_PORT
  echo "== throwaway PostGIS on port $PG_PORT ($PG_TMP)" >&2
}

stop_cluster() {
  local bin runas=()
  [ -n "${PG_TMP:-}" ] || return 0
  bin=$(pg_bindir)
  [ "$(id -u)" = 0 ] && runas=(runuser -u postgres --)
  "${runas[@]}" "$bin/pg_ctl" -D "$PG_TMP/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$PG_TMP"
}
