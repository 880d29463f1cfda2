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
N=${1:-20}
SCALE=${2:-1.0}
. benches/serve.sh
bench_begin hbench
serve_both atlas_hbench

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
    before*) printf '| %s | %s (no layer) | %s | %s | %s | | |\n' "${s%:*}" "$(ms_stat with "$f")" "$(bytes with "$f")" "$(ms_stat next "$f")" "$(ms_stat cached "$f")" ;;
    *) printf '| %s | %s | %s | %s | %s | %s | %s |\n' "${s%:*}" "$(ms_stat with "$f")" "$(bytes with "$f")" "$(ms_stat next "$f")" "$(ms_stat cached "$f")" "$(ms_stat without "$f")" "$(bytes without "$f")" ;;
  esac
done
for s in "${SERVERS[@]}"; do echo "${s%:*}: $(resident "${s##*:}") resident after the run"; done
