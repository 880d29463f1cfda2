#!/usr/bin/env bash
# Load: 1,000 concurrent connections for 60 s of mixed traffic (vector and PNG tiles across
# zooms, nearby, OGC API features, the page's static files) against each store, with wrk.
# Reports requests/s, p50/p99, errors (non-2xx/3xx and socket errors) and the server's peak
# memory (VmHWM).
#   usage: benches/load.sh [SECONDS] [SCALE] [CONNECTIONS]   (default 60 s, scale 1.0, 1000)
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-60}
SCALE=${2:-1.0}
CONNS=${3:-1000}
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(ulimit -n)" -ge $((CONNS + 200)) ] || { echo "open files limit $(ulimit -n) is below $((CONNS + 200)): raise it (ulimit -n)"; exit 1; }
. benches/serve.sh
command -v wrk >/dev/null || apt_install wrk
bench_begin load
make_city "$BIN" "$WORK/city" atlas_load
DB="$BASE/atlas_load"

cat >"$WORK/mixed.lua" <<'LUA'
math.randomseed(20231126)
local function tile(lon, lat, z)
  local n = 2 ^ z
  local x = math.floor((lon + 180) / 360 * n)
  local r = math.rad(lat)
  local y = math.floor((1 - math.log(math.tan(r) + 1 / math.cos(r)) / math.pi) / 2 * n)
  return x, y
end
request = function()
  local lon = 120.30 + math.random() * 0.20
  local lat = 36.03 + math.random() * 0.17
  local k = math.random(100)
  local path
  if k <= 45 then
    local z = math.random(12, 16)
    local x, y = tile(lon, lat, z)
    path = string.format("/tiles/atlas/%d/%d/%d.mvt", z, x, y)
  elseif k <= 60 then
    local z = math.random(12, 16)
    local x, y = tile(lon, lat, z)
    local set = (k % 2 == 0) and "grade" or "density"
    path = string.format("/tiles/%s/%d/%d/%d.png", set, z, x, y)
  elseif k <= 80 then
    path = string.format("/api/compounds/nearby?lon=%.5f&lat=%.5f&radius_m=1500&limit=10", lon, lat)
  elseif k <= 90 then
    path = string.format("/ogc/collections/compounds/items?bbox=%.4f,%.4f,%.4f,%.4f&limit=20", lon, lat, lon + 0.01, lat + 0.01)
  else
    local files = { "/", "/web/app.js", "/web/style.css", "/styles/grade.json", "/tiles/atlas.json" }
    path = files[math.random(#files)]
  end
  return wrk.format("GET", path)
end
LUA

start() { # NAME PORT ARGS...
  local name=$1 port=$2; shift 2
  "$BIN" serve "$@" --bind "127.0.0.1:$port" >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  LAST=$!
  for _ in $(seq 1 1200); do curl -sf "http://127.0.0.1:$port/ready" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "$name did not start"; cat "$WORK/$name.log"; exit 1
}
row() { # LABEL PORT PID
  local out rps p50 p99 non2xx sockerr rss
  out=$(wrk -t2 -c"$CONNS" -d"${DUR}s" --timeout 30s --latency -s "$WORK/mixed.lua" "http://127.0.0.1:$2" 2>&1)
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
  p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
  non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
  sockerr=$(echo "$out" | awk '/Socket errors/ {print $0}' | sed 's/.*Socket errors: //')
  rss=$(awk '/VmHWM/ {printf "%d MiB", $2 / 1024}' "/proc/$3/status")
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$rps" "$p50" "$p99" "${non2xx:-0}" "${sockerr:-none}" "$rss"
}
echo "## Load — $(date -u +%Y-%m-%d), $(nproc) cores shared by server, PostGIS and wrk, scale $SCALE"
echo
echo "$CONNS connections for ${DUR}s (wrk -t2), mixed: 45% vector tiles z12–16, 15% PNG tiles, 20% nearby, 10% OGC API features, 10% page files and TileJSON/styles"
echo
echo "| store | requests/s | p50 | p99 | non-2xx | socket errors | peak RSS |"
echo "| --- | ---: | ---: | ---: | ---: | --- | ---: |"
P1=$(free_port); start embedded "$P1" --data "$WORK/city"; row "embedded" "$P1" "$LAST"; kill "$LAST"
P2=$(free_port); start postgis "$P2" --database-url "$DB"; row "PostGIS" "$P2" "$LAST"; kill "$LAST"
