#!/usr/bin/env bash
# Planner benchmark, side by side in one run on this machine:
#   - `nearby` (radius 2 km, 20 nearest) at random points over urban Qingdao under 32
#     concurrent clients (wrk -t2 -c32) against atlas on the embedded store and on PostGIS;
#   - the same KNN query the PostGIS store runs (ST_DWithin + ST_Distance on geography),
#     run directly in PostGIS by pgbench with 32 clients (the baseline for the PostGIS store);
#   - a 50-stop inspection round planned through POST /api/plan/route (median of 30).
#   usage: benches/planner.sh [SECONDS] [SCALE]      (default 20 s, scale 1.0)
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-20}
SCALE=${2:-1.0}
. benches/serve.sh
command -v wrk >/dev/null || apt_install wrk
bench_begin pbench
serve_both atlas_pbench
DB="$BASE/atlas_pbench"
P1=${SERVERS[0]##*:}
P2=${SERVERS[1]##*:}
PORTS="$P1 $P2"
# BEFORE=/path/to/an/older/atlas: that binary too, on a city of its own making (side by side).
if [ -n "${BEFORE:-}" ]; then
  PB1=${SERVERS[2]##*:}
  PB2=${SERVERS[3]##*:}
  PORTS="$PORTS $PB1 $PB2"
fi
# Warm them: the first query of a window computes its figures and grades (seconds, once).
for port in $PORTS; do curl -sf -o /dev/null "http://127.0.0.1:$port/api/compounds/nearby?lon=120.38&lat=36.07"; done

# Random points over urban Qingdao: lon 120.30–120.50, lat 36.03–36.20 (the same box both ways).
cat >"$WORK/nearby.lua" <<'LUA'
math.randomseed(20231126)
request = function()
  local lon = 120.30 + math.random() * 0.20
  local lat = 36.03 + math.random() * 0.17
  return wrk.format("GET", string.format("/api/compounds/nearby?lon=%.6f&lat=%.6f&radius_m=2000&limit=20", lon, lat))
end
LUA
cat >"$WORK/knn.sql" <<'SQL'
\set x random(0, 1000000)
\set y random(0, 1000000)
SELECT c.id, ST_Distance(c.geom::geography, q.pt) AS d FROM compounds c, (SELECT ST_SetSRID(ST_MakePoint(120.30 + :x * 0.0000002, 36.03 + :y * 0.00000017), 4326)::geography AS pt) q WHERE ST_DWithin(c.geom::geography, q.pt, 2000) AND (NULL::bigint[] IS NULL OR c.id = ANY(NULL::bigint[])) ORDER BY d, c.id LIMIT 20;
SQL

wrk_row() { # LABEL PORT
  local out rps p50 p99 non2xx
  out=$(wrk -t2 -c32 -d"${DUR}s" --latency -s "$WORK/nearby.lua" "http://127.0.0.1:$2" 2>&1)
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
  p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
  non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
  printf '| %s | %s | %s | %s | %s |\n' "$1" "$rps" "$p50" "$p99" "${non2xx:-0}"
}
pgbench_row() {
  local out tps
  (cd "$WORK" && pgbench -n -c32 -j2 -T"$DUR" -f knn.sql -l --log-prefix=pgb "$DB" >"$WORK/pgbench.out" 2>&1)
  tps=$(awk '/^tps/ {printf "%.2f", $3; exit}' "$WORK/pgbench.out")
  cat "$WORK"/pgb.* | awk '{print $3}' | sort -n >"$WORK/lat"
  local n p50 p99
  n=$(wc -l <"$WORK/lat")
  p50=$(awk -v n="$n" 'NR == int(n * 0.50) + 1 {printf "%.2fms", $1 / 1000}' "$WORK/lat")
  p99=$(awk -v n="$n" 'NR == int(n * 0.99) + 1 {printf "%.2fms", $1 / 1000}' "$WORK/lat")
  printf '| %s | %s | %s | %s | %s |\n' "pgbench, the same KNN query straight in PostGIS" "$tps" "$p50" "$p99" 0
}

echo "## Planner queries — $(date -u +%Y-%m-%d), $(nproc) cores shared by servers, PostGIS and the load tool, scale $SCALE"
echo
echo "nearby: radius 2 km, 20 nearest, random points over urban Qingdao; 32 concurrent clients for ${DUR}s each"
echo
echo "| client → server | requests/s | p50 | p99 | non-2xx |"
echo "| --- | ---: | ---: | ---: | ---: |"
wrk_row "wrk → atlas, embedded store" "$P1"
[ -z "${BEFORE:-}" ] || wrk_row "before: wrk → atlas, embedded store" "$PB1"
wrk_row "wrk → atlas, PostGIS store" "$P2"
[ -z "${BEFORE:-}" ] || wrk_row "before: wrk → atlas, PostGIS store" "$PB2"
pgbench_row

# A 50-stop round: the 50 densest compounds of the city's core districts.
body='{"start":[120.38,36.07],"select":{"district":"市北区","limit":50}}'
for port in "$P1" "$P2"; do
  : >"$WORK/route_$port"
  for _ in $(seq 1 30); do
    curl -s -o "$WORK/route.json" -w '%{time_total}\n' -H 'content-type: application/json' -d "$body" "http://127.0.0.1:$port/api/plan/route" >>"$WORK/route_$port.wall"
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["planning_ms"], d["stops"], d["rounds"][0]["method"])' "$WORK/route.json" >>"$WORK/route_$port"
  done
done
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}'; }
echo
echo "50-stop round (POST /api/plan/route, median of 30): planning $(awk '{print $1}' "$WORK/route_$P1" | median) ms embedded, $(awk '{print $1}' "$WORK/route_$P2" | median) ms PostGIS; whole request $(median <"$WORK/route_$P1.wall" | awk '{printf "%.1f", $1 * 1000}') ms embedded, $(median <"$WORK/route_$P2.wall" | awk '{printf "%.1f", $1 * 1000}') ms PostGIS; $(head -1 "$WORK/route_$P1" | awk '{print $2 " stops, " $3}')"
