# Shared by the benchmarks that serve a generated city (windows, hotspots, hours, planner,
# load, analysts): sourced from the repository's root after SCALE is set.
#   bench_begin TAG            the release build ($BIN), a work directory ($WORK), PostGIS
#                              (throwaway unless DATABASE_URL is set; $BASE is its server URL),
#                              every server started here stopped on exit
#   make_city BIN DIR DB       generate DIR at $SCALE with BIN, import it into the database DB
#                              and the complaints into the embedded store too
#   start NAME PORT CMD...     run `CMD --bind 127.0.0.1:PORT` and wait for /health
#   serve_both DB              atlas on the embedded store ($WORK/city) and on PostGIS (DB),
#                              and with BEFORE=/path/to/an/older/atlas that binary on a city
#                              and database of its own making: "label:port" in SERVERS
#   seconds PORT PATH          curl's total seconds for a GET that must answer 200
#   ms_stat KIND FILE          "median / worst" in ms of the lines "KIND seconds …" of FILE
#   ms_spread FILE             "median / 90th / worst" in ms of the seconds FILE lists
#   resident PORT              the resident memory of the server on PORT
. scripts/postgis.sh

bench_begin() { # TAG
  ensure_postgis
  cargo build --release --locked -q
  BIN=$PWD/target/release/atlas
  WORK=$(mktemp -d "/tmp/atlas-$1.XXXXXX")
  chmod 755 "$WORK"
  PIDS=()
  trap bench_end EXIT
  [ -n "${DATABASE_URL:-}" ] || start_cluster
  BASE=${DATABASE_URL%/*}
}

bench_end() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  stop_cluster
  rm -rf "$WORK"
}

make_city() { # BIN DIR DB
  "$1" generate --out "$2" --scale "$SCALE" >/dev/null
  psql -q "$DATABASE_URL" -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $3" -c "CREATE DATABASE $3"
  "$1" import "$2" --database-url "$BASE/$3" >/dev/null
  "$1" import "$2/complaints.csv" --database-url "$BASE/$3" >/dev/null 2>&1
  "$1" import "$2/complaints.csv" --data "$2" >/dev/null 2>&1
  psql -q "$BASE/$3" -c "VACUUM ANALYZE"
}

start() { # NAME PORT CMD...
  local name=$1 port=$2; shift 2
  "$@" --bind "127.0.0.1:$port" >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 1200); do curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "$name did not start"; cat "$WORK/$name.log"; exit 1
}

serve_both() { # DB
  local p
  make_city "$BIN" "$WORK/city" "$1"
  SERVERS=()
  p=$(free_port); start embedded "$p" "$BIN" serve --data "$WORK/city"; SERVERS+=("embedded:$p")
  p=$(free_port); start postgis "$p" "$BIN" serve --database-url "$BASE/$1"; SERVERS+=("PostGIS:$p")
  if [ -n "${BEFORE:-}" ]; then
    make_city "$BEFORE" "$WORK/city-before" "$1_before"
    p=$(free_port); start before_embedded "$p" "$BEFORE" serve --data "$WORK/city-before"; SERVERS+=("before, embedded:$p")
    p=$(free_port); start before_postgis "$p" "$BEFORE" serve --database-url "$BASE/$1_before"; SERVERS+=("before, PostGIS:$p")
  fi
}

seconds() { # PORT PATH
  local t
  t=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' "http://127.0.0.1:$1$2")
  [ "${t%% *}" = 200 ] || { echo "port $1: $2 answered ${t%% *}" >&2; exit 1; }
  echo "${t#* }"
}

ms_stat() { # KIND FILE
  awk -v k="$1" '$1 == k {print $2 * 1000}' "$2" | sort -n | awk '{a[NR]=$1} END {printf "%.1f / %.1f", a[int((NR + 1) / 2)], a[NR]}'
}

ms_spread() { # FILE
  awk '{print $1 * 1000}' "$1" | sort -n | awk '{a[NR]=$1} END {printf "%.1f / %.1f / %.1f", a[int((NR + 1) / 2)], a[int(NR * 0.9 + 0.999)], a[NR]}'
}

resident() { # PORT
  local pid
  pid=$(pgrep -f -- "--bind 127.0.0.1:$1" | head -1)
  awk '/VmRSS/ {printf "%d MB", $2 / 1024}' "/proc/$pid/status"
}
