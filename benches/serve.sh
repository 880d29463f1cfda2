# Shared by benches/hours.sh and benches/report.sh: a release build, the demo city at $SCALE
# generated into a work directory and imported into the embedded store and into a PostGIS
# database atlas_$NAME (on a throwaway cluster unless DATABASE_URL is set), and atlas serving
# each: SERVERS holds `embedded:PORT` and `PostGIS:PORT`, the work directory is $WORK, `stat FILE`
# gives the median / 90th / worst of the seconds a file lists, in ms; the
# servers, the cluster and the directory go when the script exits.
#   usage: NAME=x SCALE=1.0 . benches/serve.sh
. scripts/postgis.sh
ensure_postgis
cargo build --release --locked -q
BIN=$PWD/target/release/atlas
WORK=$(mktemp -d "/tmp/atlas-$NAME.XXXXXX")
chmod 755 "$WORK"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  stop_cluster
  rm -rf "$WORK"
}
trap cleanup EXIT
[ -n "${DATABASE_URL:-}" ] || start_cluster
BASE=${DATABASE_URL%/*}
DB="$BASE/atlas_$NAME"

"$BIN" generate --out "$WORK/city" --scale "$SCALE" >/dev/null
psql -q "$DATABASE_URL" -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS atlas_$NAME" -c "CREATE DATABASE atlas_$NAME"
"$BIN" import "$WORK/city" --database-url "$DB" >/dev/null
"$BIN" import "$WORK/city/complaints.csv" --database-url "$DB" >/dev/null 2>&1
"$BIN" import "$WORK/city/complaints.csv" --data "$WORK/city" >/dev/null 2>&1
psql -q "$DB" -c "VACUUM ANALYZE"

start() { # NAME PORT CMD...
  local name=$1 port=$2; shift 2
  "$@" --bind "127.0.0.1:$port" >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 1200); do curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "$name did not start"; cat "$WORK/$name.log"; exit 1
}
SERVERS=()
P=$(free_port); start embedded "$P" "$BIN" serve --data "$WORK/city"; SERVERS+=("embedded:$P")
P=$(free_port); start postgis "$P" "$BIN" serve --database-url "$DB"; SERVERS+=("PostGIS:$P")

stat() { # FILE -> "median / 90th / worst" in ms
  awk '{print $1 * 1000}' "$1" | sort -n | awk '{a[NR]=$1} END {printf "%.1f / %.1f / %.1f", a[int((NR + 1) / 2)], a[int(NR * 0.9 + 0.999)], a[NR]}'
}
