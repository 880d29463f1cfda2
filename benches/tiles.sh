#!/usr/bin/env bash
# Tile serving benchmark, side by side in one run on this machine: the same list of non-empty
# z12–z16 tiles over urban Qingdao, requested with wrk (2 threads, 32 connections) from
#   - atlas, embedded store, tile cache off (every tile encoded for its request),
#   - atlas, PostGIS store, tile cache off,
#   - atlas, embedded store, tile cache warm,
#   - nginx serving the same tile bytes as static files,
#   - Martin (when installed: MARTIN=/path/to/martin, or `martin` on PATH) serving the same
#     layers from the same PostGIS with the function source of benches/martin/atlas_function.sql
#     (ST_AsMVT over the same figures materialised in schema `bench`), its cache off.
#   - with BEFORE=/path/to/an/older/atlas, that binary too (embedded store cache off and warm,
#     PostGIS cache off) on the same city made by itself (same seed: the same geography and
#     complaints; stores change format between versions), for a before/after comparison.
#   usage: [BEFORE=bin] benches/tiles.sh [SECONDS] [SCALE]      (default 20 s, scale 1.0)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/postgis.sh
DUR=${1:-20}
SCALE=${2:-1.0}
command -v wrk >/dev/null || apt_install wrk
command -v nginx >/dev/null || apt_install nginx-light
ensure_postgis
cargo build --release --locked -q
BIN=$PWD/target/release/atlas
WORK=$(mktemp -d /tmp/atlas-tbench.XXXXXX)
chmod 755 "$WORK"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
  stop_cluster
  rm -rf "$WORK"
}
trap cleanup EXIT
[ -n "${DATABASE_URL:-}" ] || start_cluster
BASE=${DATABASE_URL%/*}

"$BIN" generate --out "$WORK/city" --scale "$SCALE" >/dev/null
psql -q "$DATABASE_URL" -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS atlas_tbench" -c "CREATE DATABASE atlas_tbench"
"$BIN" import "$WORK/city" --database-url "$BASE/atlas_tbench" >/dev/null
"$BIN" import "$WORK/city/complaints.csv" --database-url "$BASE/atlas_tbench" >/dev/null 2>&1
if [ -n "${BEFORE:-}" ]; then
  "$BEFORE" generate --out "$WORK/city-before" --scale "$SCALE" >/dev/null
  psql -q "$DATABASE_URL" -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS atlas_tbench_before" -c "CREATE DATABASE atlas_tbench_before"
  "$BEFORE" import "$WORK/city-before" --database-url "$BASE/atlas_tbench_before" >/dev/null
  "$BEFORE" import "$WORK/city-before/complaints.csv" --database-url "$BASE/atlas_tbench_before" >/dev/null 2>&1
  "$BEFORE" grade --database-url "$BASE/atlas_tbench_before" >/dev/null
fi

start() { # NAME PORT ENV... -- ARGS...
  local name=$1 port=$2; shift 2
  env "$@" --bind "127.0.0.1:$port" >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 1200); do curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "$name did not start"; cat "$WORK/$name.log"; exit 1
}
"$BIN" grade --database-url "$BASE/atlas_tbench" >/dev/null
MARTIN=${MARTIN:-$(command -v martin || true)}
[ -n "$MARTIN" ] || { [ -x /opt/martin/bin/martin ] && MARTIN=/opt/martin/bin/martin; } || true
P1=$(free_port); start emb_nocache "$P1" ATLAS_TILE_CACHE_MB=0 "$BIN" serve --data "$WORK/city"
P2=$(free_port); start pg_nocache "$P2" ATLAS_TILE_CACHE_MB=0 "$BIN" serve --database-url "$BASE/atlas_tbench"
P3=$(free_port); start emb_cache "$P3" ATLAS_TILE_CACHE_MB=1024 "$BIN" serve --data "$WORK/city"
if [ -n "${BEFORE:-}" ]; then
  PB1=$(free_port); start before_nocache "$PB1" ATLAS_TILE_CACHE_MB=0 "$BEFORE" serve --data "$WORK/city-before"
  PB2=$(free_port); start before_pg_nocache "$PB2" ATLAS_TILE_CACHE_MB=0 "$BEFORE" serve --database-url "$BASE/atlas_tbench_before"
  PB3=$(free_port); start before_cache "$PB3" ATLAS_TILE_CACHE_MB=1024 "$BEFORE" serve --data "$WORK/city-before"
fi

# The tile list: every z12-z16 tile over urban Qingdao, sampled, keeping the non-empty ones.
python3 - "$WORK/candidates" <<'PY'
import math, random, sys
random.seed(20231)
def tile(lon, lat, z):
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.log(math.tan(math.radians(lat)) + 1 / math.cos(math.radians(lat))) / math.pi) / 2 * n)
    return x, y
out = []
for z in range(12, 17):
    x0, y0 = tile(120.25, 36.25, z)
    x1, y1 = tile(120.55, 36.00, z)
    tiles = [(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
    random.shuffle(tiles)
    out += tiles[:600]
random.shuffle(out)
open(sys.argv[1], "w").write("".join(f"/tiles/atlas/{z}/{x}/{y}.mvt\n" for z, x, y in out))
PY
mkdir -p "$WORK/static"
: >"$WORK/paths"
bytes=0; n=0
while read -r p; do
  f="$WORK/static${p}"
  mkdir -p "$(dirname "$f")"
  code=$(curl -s -o "$f" -w '%{http_code}' "http://127.0.0.1:$P3$p")
  if [ "$code" = 200 ]; then echo "$p" >>"$WORK/paths"; bytes=$((bytes + $(stat -c %s "$f"))); n=$((n + 1)); else rm -f "$f"; fi
done <"$WORK/candidates"
chmod -R a+rX "$WORK/static"
# The same tiles as MapLibre Tiles: bytes beside MVT's (uncompressed and gzip, as clients fetch
# them), and the paths for the MLT rows below.
sed 's#\.mvt$#.mlt#' "$WORK/paths" >"$WORK/mlt_paths"
mltbytes=0; mvtgz=0; mltgz=0
while read -r p; do
  mltbytes=$((mltbytes + $(curl -s -o /dev/null -w '%{size_download}' "http://127.0.0.1:$P3$p")))
  mltgz=$((mltgz + $(curl -s -o /dev/null -H 'Accept-Encoding: gzip' -w '%{size_download}' "http://127.0.0.1:$P3$p")))
done <"$WORK/mlt_paths"
while read -r p; do
  mvtgz=$((mvtgz + $(curl -s -o /dev/null -H 'Accept-Encoding: gzip' -w '%{size_download}' "http://127.0.0.1:$P3$p")))
done <"$WORK/paths"

P4=$(free_port)
cat >"$WORK/nginx.conf" <<NGX
worker_processes 2;
pid $WORK/nginx.pid;
error_log $WORK/nginx.err;
events { worker_connections 1024; }
http {
  access_log off;
  types { application/vnd.mapbox-vector-tile mvt; }
  server { listen 127.0.0.1:$P4; root $WORK/static; }
}
NGX
nginx -c "$WORK/nginx.conf"

P5=""
if [ -n "$MARTIN" ]; then
  PGOPTIONS="-c client_min_messages=warning" psql -q -v ON_ERROR_STOP=1 "$BASE/atlas_tbench" -f benches/martin/atlas_function.sql >/dev/null
  P5=$(free_port)
  cat >"$WORK/martin.yaml" <<YML
listen_addresses: "127.0.0.1:$P5"
cache_size_mb: 0
postgres:
  connection_string: "$BASE/atlas_tbench"
  auto_publish: false
  functions:
    atlas:
      schema: bench
      function: atlas
      minzoom: 0
      maxzoom: 22
YML
  "$MARTIN" --config "$WORK/martin.yaml" >"$WORK/martin.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$P5/catalog" >/dev/null 2>&1 && break; sleep 0.1; done
  sed 's#^/tiles/atlas/#/atlas/#; s#\.mvt$##' "$WORK/paths" >"$WORK/martin_paths"
  mbytes=0
  while read -r p; do
    mbytes=$((mbytes + $(curl -s -o /dev/null -w '%{size_download}' "http://127.0.0.1:$P5$p")))
  done <"$WORK/martin_paths"
fi

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
run() { # LABEL PORT [PATHS]
  local out
  # Warm up first: one request, which waits for the store to load (the PostGIS store's first
  # tile takes ~4 s: geography, statistics, city index, grades, the window's figures), then
  # 3 s of load, so that no second of the measured run is spent loading.
  curl -s -o /dev/null --max-time 120 "http://127.0.0.1:$2$(head -1 "${3:-$WORK/paths}")"
  PATHS="${3:-$WORK/paths}" wrk -t2 -c32 -d3s -s "$WORK/paths.lua" "http://127.0.0.1:$2" >/dev/null 2>&1
  out=$(PATHS="${3:-$WORK/paths}" wrk -t2 -c32 -d"${DUR}s" --latency -s "$WORK/paths.lua" "http://127.0.0.1:$2" 2>&1)
  local rps p50 p99 non2xx
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
  p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
  non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
  printf '| %s | %s | %s | %s | %s |\n' "$1" "$rps" "$p50" "$p99" "${non2xx:-0}"
}
echo "## Tile serving — $(date -u +%Y-%m-%d), $(nproc) cores shared by server and wrk, scale $SCALE"
echo
echo "$n non-empty tiles (z12–z16 over urban Qingdao), mean $((bytes / (n > 0 ? n : 1))) bytes (uncompressed MVT); wrk -t2 -c32 -d${DUR}s"
echo
echo "| server | tiles/s | p50 | p99 | non-2xx |"
echo "| --- | ---: | ---: | ---: | ---: |"
run "atlas embedded, cache off (encoded per request)" "$P1"
[ -z "${BEFORE:-}" ] || run "before ($("$BEFORE" --version | awk '{print $2}'), $BEFORE): embedded, cache off" "$PB1"
run "atlas PostGIS, cache off (encoded per request)" "$P2"
[ -z "${BEFORE:-}" ] || run "before: PostGIS, cache off" "$PB2"
run "atlas embedded, MLT, cache off (MVT built and re-encoded per request)" "$P1" "$WORK/mlt_paths"
run "atlas embedded, cache warm" "$P3"
[ -z "${BEFORE:-}" ] || run "before: embedded, cache warm" "$PB3"
run "atlas embedded, MLT, cache warm" "$P3" "$WORK/mlt_paths"
run "nginx, same tile bytes as static files" "$P4"
echo
echo "MapLibre Tiles, the same $n tiles: mean $((mltbytes / (n > 0 ? n : 1))) bytes against MVT's $((bytes / (n > 0 ? n : 1))) ($(awk -v a="$mltbytes" -v b="$bytes" 'BEGIN { printf "%.0f%%", 100 * a / (b > 0 ? b : 1) }') of MVT); gzip-compressed $((mltgz / (n > 0 ? n : 1))) against $((mvtgz / (n > 0 ? n : 1))) ($(awk -v a="$mltgz" -v b="$mvtgz" 'BEGIN { printf "%.0f%%", 100 * a / (b > 0 ? b : 1) }'))."
echo
if [ -n "$P5" ]; then
  run "Martin $("$MARTIN" --version 2>/dev/null | awk '{print $2}'), PostGIS function source, cache off" "$P5" "$WORK/martin_paths"
  echo
  echo "Mean tile size: atlas $((bytes / (n > 0 ? n : 1))) bytes, Martin $((mbytes / (n > 0 ? n : 1))) bytes (same tiles, uncompressed)."
else
  echo
  echo "Martin not installed: its row is missing (MARTIN=/path/to/martin to include it)."
fi

# Seeding: the same box over urban Qingdao into MBTiles (gzip tiles), from the same PostGIS
# database — `atlas seed` (each store) against martin-cp (beside martin) with two workers — for
# two jobs: z12–z16 (~2,800 tiles, where loading the city and a year of statistics is a good
# part of our time) and z12–z17 (~10,400 tiles). Wall time, start to finish; the seeders take
# turns, three rounds, and each row gives the median of its three runs (single runs here move
# by ±30%).
BBOX=120.25,36.00,120.55,36.25
# The servers above are stopped first: seeding is a batch job run on its own, and on this VM
# runs beside the idle servers were slower and noisier (measured 2026-11-27: the same PostGIS
# z12–z16 seed took 1.32–1.37 s alone, 1.32–2.38 s beside them).
for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
[ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
for p in "${PIDS[@]}"; do while kill -0 "$p" 2>/dev/null; do sleep 0.1; done; done
PIDS=()
seed_row() { # LABEL FILE SECONDS...  (the median of the runs)
  local label=$1 file=$2 n s
  shift 2
  n=$(sqlite3 "$file" "SELECT count(*) FROM tiles" 2>/dev/null || echo 0)
  s=$(printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
  printf '| %s | %s | %.2f s (runs: %s) | %s |\n' "$label" "$n" "$s" "$(printf '%.2f ' "$@" | sed 's/ $//')" \
    "$(awk -v n="$n" -v s="$s" 'BEGIN { printf "%.0f", n / s }')"
}
timed() { # FILE CMD... → seconds (the command's log in FILE.log)
  local t0 t1 log=$1.log
  rm -f "$1"; shift
  t0=$(date +%s.%N)
  "$@" >/dev/null 2>"$log"
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l
}
phases() { # LABEL LOG: what an `atlas seed --log compound_atlas=debug` run spent on loading
  # (each phase's own time; phases overlap; "seeding starts" counts from the start of `seed`)
  printf '%s, last run: %s\n\n' "$1" "$(grep -o 'DEBUG.*' "$2" | grep -v 'layer read' \
    | sed -E 's/^DEBUG [a-z_:]+: //; s/ ms=([0-9]+)/ \1 ms/' | paste -sd ';' | sed 's/;/; /g')"
}
command -v sqlite3 >/dev/null || apt_install sqlite3
command -v bc >/dev/null || apt_install bc
MARTIN_CP=${MARTIN_CP:-$(dirname "${MARTIN:-/nonexistent}")/martin-cp}
for MAXZ in 16 17; do
  echo
  echo "Seeding z12–z$MAXZ over $BBOX into MBTiles (gzip tiles):"
  echo
  echo "| seeder | tiles | wall time, median of 3 | tiles/s |"
  echo "| --- | ---: | ---: | ---: |"
  PG=() EMB=() MCP=()
  for _ in 1 2 3; do
    PG+=("$(timed "$WORK/seed.mbtiles" "$BIN" --log compound_atlas=debug seed --database-url "$BASE/atlas_tbench" --out "$WORK/seed.mbtiles" --minzoom 12 --maxzoom "$MAXZ" --bbox "$BBOX")")
    EMB+=("$(timed "$WORK/seed-emb.mbtiles" "$BIN" --log compound_atlas=debug seed --data "$WORK/city" --out "$WORK/seed-emb.mbtiles" --minzoom 12 --maxzoom "$MAXZ" --bbox "$BBOX")")
    if [ -x "$MARTIN_CP" ] && [ -f "$WORK/martin.yaml" ]; then
      MCP+=("$(timed "$WORK/martin.mbtiles" "$MARTIN_CP" --config "$WORK/martin.yaml" --source atlas --output-file "$WORK/martin.mbtiles" \
        --mbtiles-type flat --concurrency 2 --min-zoom 12 --max-zoom "$MAXZ" --bbox "$BBOX")")
    fi
  done
  seed_row "atlas seed, PostGIS store" "$WORK/seed.mbtiles" "${PG[@]}"
  seed_row "atlas seed, embedded store" "$WORK/seed-emb.mbtiles" "${EMB[@]}"
  if [ "${#MCP[@]}" -gt 0 ]; then
    seed_row "martin-cp $("$MARTIN_CP" --version 2>/dev/null | awk '{print $2}'), concurrency 2" "$WORK/martin.mbtiles" "${MCP[@]}"
  else
    echo
    echo "martin-cp not installed: its row is missing."
  fi
  echo
  phases "Loading, atlas seed, PostGIS store" "$WORK/seed.mbtiles.log"
  phases "Loading, atlas seed, embedded store" "$WORK/seed-emb.mbtiles.log"
done
