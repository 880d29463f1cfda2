#!/usr/bin/env bash
# How the costs grow with the city (issue 19): for each scale (default 0.5 1 2 4), generate the
# demo city, import it into PostGIS and into the embedded store, serve it from both, and
# measure, one scale after another in one run:
#   - generation, PostGIS import (geography, then complaints) and embedded import: wall
#     seconds and peak memory (/usr/bin/time);
#   - store open: seconds from `atlas serve` to /ready (the store answers and the default
#     window's figures are made), and resident memory then;
#   - tiles drawn per request (cache off) and from the cache, wrk -t2 -c32 for SECONDS over the
#     same z12–z16 tiles of urban Qingdao at every scale, embedded and PostGIS;
#   - nearby (radius 2 km, 20 nearest) p99 under 32 clients, embedded and PostGIS;
#   - a never-seen window's first z14 tile, median / worst of 10 windows (curl, one at a time);
#   - resident memory after all of it.
# The table is printed as Markdown (docs/scaling.md keeps the figures with their date).
#   usage: benches/scaling.sh [SECONDS] [SCALES...]      (default 10 s, scales 0.5 1 2 4)
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-10}
shift || true
SCALES=("${@:-0.5 1 2 4}")
read -r -a SCALES <<<"${SCALES[*]}"
SCALE=${SCALES[0]}
. benches/serve.sh
command -v wrk >/dev/null || apt_install wrk
command -v /usr/bin/time >/dev/null || apt_install time
bench_begin scaling
trap 'stop_servers; bench_end' EXIT

timed() { # LABEL CMD... -> "$LABEL seconds MiB" into $WORK/steps
  local label=$1 secs kib; shift
  /usr/bin/time -f "%e %M" -o "$WORK/time" "$@" >"$WORK/out" 2>"$WORK/err" || { cat "$WORK/err"; exit 1; }
  read -r secs kib <"$WORK/time"
  echo "$label $secs $((kib / 1024))" >>"$WORK/steps"
}

# Tiles over urban Qingdao (the same list at every scale) and random points for nearby.
python3 - >"$WORK/tiles.lua" <<'PY'
import math, random
random.seed(20261207)
def tile(lon, lat, z):
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.log(math.tan(math.radians(lat)) + 1 / math.cos(math.radians(lat))) / math.pi) / 2 * n)
    return x, y
out = []
for z in range(12, 17):
    x0, y0 = tile(120.30, 36.20, z)
    x1, y1 = tile(120.50, 36.03, z)
    tiles = [(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
    random.shuffle(tiles)
    out += tiles[:400]
random.shuffle(out)
print("local paths = {" + ",".join(f'"/tiles/atlas/{z}/{x}/{y}.mvt"' for z, x, y in out) + "}")
print("local i = 0")
print("request = function() i = i % #paths + 1; return wrk.format(nil, paths[i]) end")
PY
cat >"$WORK/nearby.lua" <<'LUA'
math.randomseed(20231126)
request = function()
  local lon = 120.30 + math.random() * 0.20
  local lat = 36.03 + math.random() * 0.17
  return wrk.format(nil, string.format("/api/compounds/nearby?lon=%.5f&lat=%.5f&radius=2000&limit=20", lon, lat))
end
LUA
python3 - >"$WORK/windows" <<'PY'
import random
random.seed(20261207)
months = [f"{y}-{m:02d}" for y in range(2018, 2024) for m in range(1, 13)][:67]
pairs = [(a, b) for i, a in enumerate(months) for b in months[i:] if (a, b) != ("2022-08", "2023-07")]
for a, b in random.sample(pairs, 10):
    print(a, b)
PY

rate() { # PORT LUA -> "requests/s p99"
  wrk -t2 -c32 -d"${DUR}s" --latency -s "$2" "http://127.0.0.1:$1" 2>&1 |
    awk '/Requests\/sec/ {r = $2} $1 == "99%" {p = $2} END {printf "%.0f %s", r, p}'
}

ready() { # NAME PORT ENV... -> seconds from start to /ready
  local name=$1 port=$2 t0; shift 2
  t0=$(date +%s.%N)
  env "$@" --bind "127.0.0.1:$port" >"$WORK/$name.log" 2>&1 &
  # Called as $(ready …), a subshell: the server's pid goes to a file the script reads back.
  echo $! >>"$WORK/server-pids"
  for _ in $(seq 1 6000); do
    if curl -sf "http://127.0.0.1:$port/ready" >/dev/null 2>&1; then
      echo "$(date +%s.%N) $t0" | awk '{printf "%.2f", $1 - $2}'
      return 0
    fi
    sleep 0.05
  done
  echo "$name did not get ready" >&2; cat "$WORK/$name.log" >&2; exit 1
}

first_tiles() { # PORT -> "median / worst" ms of a never-seen window's first z14 tile
  local port=$1
  while read -r a b; do
    curl -s -o /dev/null -w 'w %{time_total}\n' "http://127.0.0.1:$port/tiles/atlas/14/13670/6430.mvt?from=$a&to=$b"
  done <"$WORK/windows" >"$WORK/first_$port"
  ms_stat w "$WORK/first_$port"
}

stop_servers() {
  local p
  [ -f "$WORK/server-pids" ] || return 0
  while read -r p; do kill "$p" 2>/dev/null || true; done <"$WORK/server-pids"
  # Not this shell's children (started in subshells): wait until each has gone.
  while read -r p; do
    for _ in $(seq 1 200); do [ -d "/proc/$p" ] || break; sleep 0.05; done
  done <"$WORK/server-pids"
  rm -f "$WORK/server-pids"
}

ROWS=()
for SCALE in "${SCALES[@]}"; do
  city="$WORK/city-$SCALE"
  db="atlas_scale_${SCALE/./_}"
  : >"$WORK/steps"
  timed generate "$BIN" generate --out "$city" --scale "$SCALE"
  places=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["compounds"], d["complaints"], d["unplaced_compounds"])' "$WORK/out" 2>/dev/null || echo "? ? ?")
  psql -q "$DATABASE_URL" -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
  timed pg_geography "$BIN" import "$city" --database-url "$BASE/$db"
  timed pg_complaints "$BIN" import "$city/complaints.csv" --database-url "$BASE/$db"
  timed embedded "$BIN" import "$city/complaints.csv" --data "$city"
  psql -q "$BASE/$db" -c "VACUUM ANALYZE"
  step() { awk -v k="$1" '$1 == k {printf "%s s / %s MiB", $2, $3}' "$WORK/steps"; }

  pe=$(free_port); open_e=$(ready embedded "$pe" ATLAS_TILE_CACHE_MB=0 "$BIN" serve --data "$city")
  rss_e=$(resident "$pe")
  pp=$(free_port); open_p=$(ready postgis "$pp" ATLAS_TILE_CACHE_MB=0 "$BIN" serve --database-url "$BASE/$db")
  rss_p=$(resident "$pp")
  pc=$(free_port); ready cached "$pc" ATLAS_TILE_CACHE_MB=1024 "$BIN" serve --data "$city" >/dev/null
  read -r tiles_e _ <<<"$(rate "$pe" "$WORK/tiles.lua")"
  read -r tiles_p _ <<<"$(rate "$pp" "$WORK/tiles.lua")"
  rate "$pc" "$WORK/tiles.lua" >/dev/null # fills the cache
  read -r tiles_c _ <<<"$(rate "$pc" "$WORK/tiles.lua")"
  read -r _ near_e <<<"$(rate "$pe" "$WORK/nearby.lua")"
  read -r _ near_p <<<"$(rate "$pp" "$WORK/nearby.lua")"
  first_e=$(first_tiles "$pe")
  first_p=$(first_tiles "$pp")
  ROWS+=("| $SCALE | ${places// / / } | $(step generate) | $(step pg_geography) · $(step pg_complaints) | $(step embedded) | $open_e s · $open_p s | $rss_e · $rss_p | $tiles_e · $tiles_p | $tiles_c | $near_e · $near_p | $first_e · $first_p | $(resident "$pe") · $(resident "$pp") |")
  stop_servers
  psql -q "$DATABASE_URL" -c "SET client_min_messages = warning" -c "DROP DATABASE $db"
  rm -rf "$city"
done

echo "## How the costs grow — $(date -u +%Y-%m-%d), $(nproc) cores, ${DUR} s a wrk run"
echo
echo "Pairs are embedded · PostGIS. Steps are wall time / peak memory. Tiles/s: wrk -t2 -c32 over the same 2,000 z12–z16 tiles of urban Qingdao; the first tile: a never-seen window's first z14 tile, median / worst of 10 windows in ms."
echo
echo "| scale | compounds / complaints / unplaced | generate | PostGIS import: geography · complaints | embedded import | open to /ready | RSS after open | tiles/s, cache off | tiles/s, cached (embedded) | nearby p99 | first tile of a new window | RSS after |"
echo "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
printf '%s\n' "${ROWS[@]}"
