#!/usr/bin/env bash
# Raster tile benchmark: PNG tiles of `grade` and `density` at z12–z16 over urban Qingdao,
# requested with wrk (2 threads, 32 connections) from atlas on the embedded store with the
# tile cache off (every tile drawn for its request) and warm; and the median time to draw a
# z14 tile (one request at a time, cache off).
#   usage: benches/raster.sh [SECONDS] [SCALE]      (default 20 s, scale 1.0)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/postgis.sh
DUR=${1:-20}
SCALE=${2:-1.0}
command -v wrk >/dev/null || apt_install wrk
cargo build --release --locked -q
BIN=$PWD/target/release/atlas
WORK=$(mktemp -d /tmp/atlas-rbench.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

"$BIN" generate --out "$WORK/city" --scale "$SCALE" >/dev/null
"$BIN" import "$WORK/city/complaints.csv" --data "$WORK/city" >/dev/null 2>&1
start() { # NAME PORT ENV...
  local name=$1 port=$2; shift 2
  env "$@" "$BIN" serve --data "$WORK/city" --bind "127.0.0.1:$port" >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 1200); do curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "$name did not start"; cat "$WORK/$name.log"; exit 1
}
P1=$(free_port); start nocache "$P1" ATLAS_TILE_CACHE_MB=0
P2=$(free_port); start cache "$P2" ATLAS_TILE_CACHE_MB=1024
# BEFORE=/path/to/an/older/atlas: that binary too, on the same data (before/after in one run).
if [ -n "${BEFORE:-}" ]; then
  NOW=$BIN; BIN=$BEFORE
  PB1=$(free_port); start before_nocache "$PB1" ATLAS_TILE_CACHE_MB=0
  PB2=$(free_port); start before_cache "$PB2" ATLAS_TILE_CACHE_MB=1024
  BIN=$NOW
fi

python3 - "$WORK" <<'PY'
import math, random, sys
random.seed(20231126)
def tile(lon, lat, z):
    n = 2 ** z
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
out = {"grade": [], "density": []}
z14 = []
for z in range(12, 17):
    x0, y0 = tile(120.25, 36.25, z)
    x1, y1 = tile(120.55, 36.00, z)
    tiles = [(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
    random.shuffle(tiles)
    for s in out:
        out[s] += [f"/tiles/{s}/{z}/{x}/{y}.png" for z, x, y in tiles[:400]]
    if z == 14:
        z14 = [f"/tiles/{s}/{z}/{x}/{y}.png" for z, x, y in tiles[:50] for s in out]
for s, paths in out.items():
    random.shuffle(paths)
    open(f"{sys.argv[1]}/{s}.paths", "w").write("\n".join(paths) + "\n")
open(f"{sys.argv[1]}/z14.paths", "w").write("\n".join(z14) + "\n")
PY
cat >"$WORK/paths.lua" <<'LUA'
local paths = {}
for line in io.lines(os.getenv("PATHS")) do paths[#paths + 1] = line end
local i = 0
request = function()
  i = i + 1
  if i > #paths then i = 1 end
  return wrk.format("GET", paths[i])
end
LUA
# Warm the figures of the default window on both servers, and the cache of the second.
for p in "$P1" "$P2"; do curl -sf -o /dev/null "http://127.0.0.1:$p/tiles/grade/12/3418/1606.png"; done
for s in grade density; do while read -r path; do curl -s -o /dev/null "http://127.0.0.1:$P2$path"; done <"$WORK/$s.paths"; done
run() { # LABEL PORT PATHS
  local out rps p50 p99 non2xx
  out=$(PATHS="$3" wrk -t2 -c32 -d"${DUR}s" --latency -s "$WORK/paths.lua" "http://127.0.0.1:$2" 2>&1)
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
  p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
  non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
  printf '| %s | %s | %s | %s | %s |\n' "$1" "$rps" "$p50" "$p99" "${non2xx:-0}"
}
echo "## Raster tiles — $(date -u +%Y-%m-%d), $(nproc) cores shared by server and wrk, scale $SCALE"
echo
echo "PNG 256 px, z12–z16 over urban Qingdao (400 tiles a zoom a style), wrk -t2 -c32 -d${DUR}s"
echo
echo "| tileset, cache | tiles/s | p50 | p99 | non-2xx |"
echo "| --- | ---: | ---: | ---: | ---: |"
for s in grade density; do
  run "$s, cache off (drawn per request)" "$P1" "$WORK/$s.paths"
  [ -z "${BEFORE:-}" ] || run "before: $s, cache off" "$PB1" "$WORK/$s.paths"
  run "$s, cache warm" "$P2" "$WORK/$s.paths"
  [ -z "${BEFORE:-}" ] || run "before: $s, cache warm" "$PB2" "$WORK/$s.paths"
done
for s in grade density; do
  grep "/$s/" "$WORK/z14.paths" | while read -r path; do
    curl -s -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$P1$path"
  done | sort -n | awk -v s="$s" '{a[NR]=$1} END {printf "median z14 %s tile, drawn and encoded (one request at a time, cache off): %.1f ms over %d tiles\n", s, a[int((NR + 1) / 2)] * 1000, NR}'
done
bytes=$(while read -r path; do curl -s -o /dev/null -w '%{size_download}\n' "http://127.0.0.1:$P2$path"; done <"$WORK/z14.paths" | awk '{s+=$1} END {printf "%d", s/NR}')
echo "mean z14 PNG size: $bytes bytes"
