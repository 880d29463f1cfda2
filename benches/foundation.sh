#!/usr/bin/env bash
# Foundation benchmark: generation of the full demo city, embedded store load, PostGIS import
# (and re-import), each with wall time and peak memory, and GDAL's ogr2ogr loading the same
# FlatGeobuf files into the same PostGIS as the peer to compare with, in the same run.
#   usage: benches/foundation.sh [SCALE]      (default 1.0)
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE=${1:-1.0}
. benches/lib.sh
command -v ogr2ogr >/dev/null || apt_install gdal-bin

measure "generate (scale $SCALE)" "$BIN" generate --out "$WORK/city" --scale "$SCALE"
grep -E '"(compounds|buildings|units|households|complaints)"' "$WORK/out" | tr -d ' ,' | paste -sd' ' >"$WORK/figures"

# Embedded load: from process start to "store ready", and the server's peak memory.
"$BIN" serve --data "$WORK/city" --bind 127.0.0.1:0 >"$WORK/serve.out" 2>"$WORK/serve.err" &
PID=$!
for _ in $(seq 1 600); do grep -q "serving http" "$WORK/serve.out" 2>/dev/null && break; sleep 0.05; done
LOAD=$(grep -o 'seconds=[0-9.]*' "$WORK/serve.err" | head -1 | cut -d= -f2)
RSS=$(awk '/VmHWM/ {print int($2/1024)}' /proc/$PID/status)
kill -TERM $PID; wait $PID || true
printf '%s\t%s\t%s\n' "embedded load (validate + index)" "$LOAD" "$RSS" >>"$WORK/results"

for db in atlas_bench ogr_bench; do psql -q "$DATABASE_URL" -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"; done
"$BIN" migrate --database-url "$BASE/atlas_bench" >/dev/null
measure "atlas import → PostGIS (all layers)" "$BIN" import "$WORK/city" --database-url "$BASE/atlas_bench"
measure "atlas import again (unchanged)" "$BIN" import "$WORK/city" --database-url "$BASE/atlas_bench"
psql -q "$BASE/ogr_bench" -c "CREATE EXTENSION postgis"
PGURL="PG:host=127.0.0.1 port=${PG_PORT:-5432} user=postgres dbname=ogr_bench"
ogr_all() {
  for l in districts streets compounds buildings units; do
    ogr2ogr -f PostgreSQL "$PGURL" "$WORK/city/$l.fgb" -nln "$l" -lco SPATIAL_INDEX=GIST --config PG_USE_COPY YES || return 1
  done
}
export -f ogr_all
export WORK PGURL
measure "ogr2ogr → PostGIS (same layers, peer)" bash -c ogr_all

echo "## Foundation benchmark — $(date -u +%Y-%m-%d), $(nproc) cores, scale $SCALE"
echo
echo "Dataset: $(cat "$WORK/figures")"
echo
echo "| step | seconds | peak MiB |"
echo "| --- | ---: | ---: |"
awk -F'\t' '{printf "| %s | %s | %s |\n", $1, $2, $3}' "$WORK/results"
ours=$(awk -F'\t' '/^atlas import →/ {print $2}' "$WORK/results")
peer=$(awk -F'\t' '/^ogr2ogr/ {print $2}' "$WORK/results")
echo
echo "atlas import / ogr2ogr time ratio: $(python3 -c "print(round($ours/$peer, 2))")"
