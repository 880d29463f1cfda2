#!/usr/bin/env bash
# A month's increment, as a hotline office sends it: the city holds every complaint but the
# last month's; the last month's export is posted to each server (`POST /api/complaints`,
# admin) and the first z14 tile of a window ending with that month is asked for at once. Per
# store: the post's seconds (read, geocode, store, statistics), the tile's, and their sum —
# issue 19 asks for under 2 s — beside the same month through `atlas import` on PostGIS.
#   usage: [BEFORE=/path/to/an/older/atlas] benches/increment.sh [SCALE]      (default 1.0)
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE=${1:-1.0}
. benches/serve.sh
bench_begin increment

"$BIN" generate --out "$WORK/city" --scale "$SCALE" >/dev/null
csv=$WORK/city/complaints.csv
# The rows are in ticket order, and a ticket's number begins with the day it came (YYYYMMDD).
last=$(tail -1 "$csv" | cut -c1-6)
head -1 "$csv" >"$WORK/month.csv"
head -1 "$csv" >"$WORK/before.csv"
tail -n +2 "$csv" | grep "^$last" >>"$WORK/month.csv"
tail -n +2 "$csv" | grep -v "^$last" >>"$WORK/before.csv"
rows=$(($(wc -l <"$WORK/month.csv") - 1))
month="${last:0:4}-${last:4:2}"
from=$(date -u -d "$month-01 -11 months" +%Y-%m)

# The z14 tile over 李沧区's old estates.
read -r x y < <(awk 'BEGIN { lon = 120.38; lat = 36.17; n = 2 ^ 14; pi = atan2(0, -1); r = lat * pi / 180;
  printf "%d %d\n", (lon + 180) / 360 * n, (1 - log(sin(r) / cos(r) + 1 / cos(r)) / pi) / 2 * n }')
tile="/tiles/atlas/14/$x/$y.mvt?from=$from&to=$month"
export ATLAS_ADMIN_TOKEN=bench-admin

increment() { # LABEL BIN TAG: the city without its last month in both stores, then the month
  local label=$1 bin=$2 tag=$3 db p s store port post t
  for db in "atlas_inc_$tag" "atlas_inc_cli_$tag"; do
    psql -q "$DATABASE_URL" -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
    "$bin" import "$WORK/city" --database-url "$BASE/$db" >/dev/null
    "$bin" import "$WORK/before.csv" --database-url "$BASE/$db" >/dev/null 2>&1
    psql -q "$BASE/$db" -c "VACUUM ANALYZE"
  done
  rm -rf "$WORK/data_$tag"
  mkdir "$WORK/data_$tag"
  "$bin" import "$WORK/city" --data "$WORK/data_$tag" >/dev/null
  "$bin" import "$WORK/before.csv" --data "$WORK/data_$tag" >/dev/null 2>&1
  local servers=()
  p=$(free_port); start "embedded_$tag" "$p" "$bin" serve --data "$WORK/data_$tag"; servers+=("embedded:$p")
  p=$(free_port); start "postgis_$tag" "$p" "$bin" serve --database-url "$BASE/atlas_inc_$tag"; servers+=("PostGIS:$p")
  for s in "${servers[@]}"; do
    store=${s%%:*} port=${s##*:}
    t=$(curl -s -o "$WORK/tile-before" -w "%{http_code}" "http://127.0.0.1:$port$tile")
    [ "$t" = 200 ] || { echo "$label $store: the tile before the month answered $t" >&2; exit 1; }
    post=$(curl -s -o "$WORK/post" -w '%{http_code} %{time_total}' -X POST \
      -H "authorization: Bearer $ATLAS_ADMIN_TOKEN" -H 'content-type: text/csv' \
      --data-binary "@$WORK/month.csv" "http://127.0.0.1:$port/api/complaints")
    if [ "${post%% *}" != 200 ]; then
      # A refusal is a result too (the server's request timeout stops a slow import): its row
      # says what came back and when.
      echo "| $label, $store | ${post%% *} after ${post#* } s: $(head -c 120 "$WORK/post" | tr '|' '/') | | |"
      continue
    fi
    t=$(curl -s -o "$WORK/tile-after" -w '%{http_code} %{time_total}' "http://127.0.0.1:$port$tile")
    [ "${t%% *}" = 200 ] || { echo "$label $store: the tile answered ${t%% *}" >&2; exit 1; }
    if cmp -s "$WORK/tile-before" "$WORK/tile-after"; then echo "$label $store: the tile did not change with the month" >&2; exit 1; fi
    awk -v l="$label, $store" -v a="${post#* }" -v b="${t#* }" 'BEGIN { printf "| %s | %.2f | %.3f | %.2f |\n", l, a, b, a + b }'
  done
  /usr/bin/time -f "%e" -o "$WORK/cli" "$bin" import "$WORK/month.csv" --database-url "$BASE/atlas_inc_cli_$tag" >/dev/null 2>&1
  CLI+=("$label: $(cat "$WORK/cli") s")
}

echo "## A month's increment — $(date -u +%Y-%m-%d), $(nproc) cores, scale $SCALE: $rows complaints of $month"
echo
echo "| server | post the month (s) | first tile of a window ending with it (s) | together (s) |"
echo "| --- | ---: | ---: | ---: |"
CLI=()
increment "atlas" "$BIN" now
[ -z "${BEFORE:-}" ] || increment "before" "$BEFORE" before
echo
echo "\`atlas import\` of the same month into PostGIS (a process of its own, which reads the geography first): ${CLI[*]}"
