#!/usr/bin/env bash
# The tiles' `hotspots` layer (issue 16 part 5): what it costs the first z12 tile of a window
# no request has asked for yet. Over N random windows each (default 20, drawn once, seeded,
# distinct, every server the same ones), one request at a time, from atlas on the embedded
# store and on PostGIS:
#   - "with": a 12-month window's first z12 tile (it carries the layer: the window's
#     hot-spot statistics are made, then the cells), then another z12 tile of that window
#     (statistics and cells kept), then the first tile again (from the tile cache);
#   - "without": a 9-month window's first z12 tile — too short for the statistics, so the same
#     tile without the layer; the window's figures cost the same whatever its length
#     (running totals), so the difference is the layer.
# With BEFORE=/path/to/an/older/atlas, that binary (no layer) on a city and database of its
# own making gets the 12-month windows too.
#   usage: benches/hotspots.sh [N] [SCALE]      (default 20 windows, scale 1.0)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/postgis.sh
N=${1:-20}
SCALE=${2:-1.0}
ensure_postgis
cargo build --release --locked -q
BIN=$PWD/target/release/atlas
WORK=$(mktemp -d /tmp/atlas-hbench.XXXXXX)
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
DB="$BASE/atlas_hbench"

make_city() { # BIN DIR DBNAME
  "$1" generate --out "$2" --scale "$SCALE" >/dev/null
  psql -q "$DATABASE_URL" -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $3" -c "CREATE DATABASE $3"
  "$1" import "$2" --database-url "$BASE/$3" >/dev/null
  "$1" import "$2/complaints.csv" --database-url "$BASE/$3" >/dev/null 2>&1
  psql -q "$BASE/$3" -c "VACUUM ANALYZE"
}
make_city "$BIN" "$WORK/city" atlas_hbench
[ -z "${BEFORE:-}" ] || make_city "$BEFORE" "$WORK/city-before" atlas_hbench_before

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
if [ -n "${BEFORE:-}" ]; then
  P=$(free_port); start before_embedded "$P" "$BEFORE" serve --data "$WORK/city-before"; SERVERS+=("before, embedded:$P")
  P=$(free_port); start before_postgis "$P" "$BEFORE" serve --database-url "$DB"_before; SERVERS+=("before, PostGIS:$P")
fi

# Two neighbouring z12 tiles over urban Qingdao (市南区/市北区).
TILE=/tiles/atlas/12/3417/1607.mvt
NEXT=/tiles/atlas/12/3418/1607.mvt
# Warm each server on the default window: the city index, the grades, the statistics.
for s in "${SERVERS[@]}"; do
  port=${s##*:}
  curl -sf -o /dev/null "http://127.0.0.1:$port/tiles/atlas/14/13670/6430.mvt"
  curl -sf -o /dev/null "http://127.0.0.1:$port$TILE"
done

python3 - "$N" >"$WORK/windows" <<'PY'
import random, sys
n = int(sys.argv[1])
random.seed(20261207)
months = [f"{y}-{m:02d}" for y in range(2018, 2024) for m in range(1, 13)][:67]
def windows(span, skip):
    starts = [i for i in range(len(months) - span + 1) if months[i] != skip]
    random.shuffle(starts)
    return [(months[i], months[i + span - 1]) for i in starts[:n]]
for a, b in windows(12, "2022-08"):  # not the default window, warmed above
    print("with", a, b)
for a, b in windows(9, None):
    print("without", a, b)
PY

for s in "${SERVERS[@]}"; do
  port=${s##*:}
  while read -r kind from to; do
    case "$s" in before*) [ "$kind" = with ] || continue ;; esac
    q="?from=$from&to=$to"
    t=$(curl -s -o "$WORK/tile" -w '%{http_code} %{time_total}' "http://127.0.0.1:$port$TILE$q")
    [ "${t%% *}" = 200 ] || { echo "$s: $TILE$q answered ${t%% *}"; exit 1; }
    echo "$kind ${t#* } $(stat -c %s "$WORK/tile")" >>"$WORK/times_$port"
    if [ "$kind" = with ]; then
      echo "next $(curl -s -o /dev/null -w '%{time_total}' "http://127.0.0.1:$port$NEXT$q") 0" >>"$WORK/times_$port"
      echo "cached $(curl -s -o /dev/null -w '%{time_total}' "http://127.0.0.1:$port$TILE$q") 0" >>"$WORK/times_$port"
    fi
  done <"$WORK/windows"
done

stat_ms() { # KIND FILE -> "median / worst" in ms
  awk -v k="$1" '$1 == k {print $2 * 1000}' "$2" | sort -n | awk '{a[NR]=$1} END {printf "%.1f / %.1f", a[int((NR + 1) / 2)], a[NR]}'
}
bytes() { # KIND FILE -> median bytes
  awk -v k="$1" '$1 == k {print $3}' "$2" | sort -n | awk '{a[NR]=$1} END {printf "%d", a[int((NR + 1) / 2)]}'
}
echo "## The hotspots layer in a never-seen window's first z12 tile — $(date -u +%Y-%m-%d), $(nproc) cores, scale $SCALE, $N windows each"
echo
echo "Median / worst in ms (curl's total time, one request at a time); tile $TILE, median bytes."
echo
echo "| server | first tile, 12 months (with the layer) | bytes | another tile, same window | the first again (cached) | first tile, 9 months (without) | bytes |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
for s in "${SERVERS[@]}"; do
  f="$WORK/times_${s##*:}"
  case "$s" in
    before*) printf '| %s | %s (no layer) | %s | %s | %s | | |\n' "${s%:*}" "$(stat_ms with "$f")" "$(bytes with "$f")" "$(stat_ms next "$f")" "$(stat_ms cached "$f")" ;;
    *) printf '| %s | %s | %s | %s | %s | %s | %s |\n' "${s%:*}" "$(stat_ms with "$f")" "$(bytes with "$f")" "$(stat_ms next "$f")" "$(stat_ms cached "$f")" "$(stat_ms without "$f")" "$(bytes without "$f")" ;;
  esac
done
for s in "${SERVERS[@]}"; do
  port=${s##*:}
  pid=$(pgrep -f -- "--bind 127.0.0.1:$port" | head -1)
  echo "${s%:*}: $(awk '/VmRSS/ {printf "%d MB", $2 / 1024}' "/proc/$pid/status") resident after the run"
done
