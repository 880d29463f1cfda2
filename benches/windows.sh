#!/usr/bin/env bash
# A never-seen window (issues 19 and 16): the first answer for a window no request has asked
# for yet, over N random windows (default 50) — a z14 vector tile, a map picture, a page of OGC
# API features, the districts' statistics, and the analysts' companies, trend, effect, hot
# spots, hour tables, a month's alerts, repeat hot spots, the companies' lists and a district's
# monthly report — then the same request again, from atlas on the
# embedded store and on PostGIS (and, with BEFORE=/path/to/an/older/atlas, that binary on the
# same city made by itself: same seed, the same geography and complaints; stores change format
# between versions), side by side in one run; for tiles also another tile of the same window
# (its figures made). Each kind of answer gets its own windows, so every request measured is a
# window's first. KINDS=repeats,hours (a comma-separated list) measures only those kinds.
#   usage: [KINDS=…] benches/windows.sh [N] [SCALE]      (default 50 windows, scale 1.0)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-50}
SCALE=${2:-1.0}
. benches/serve.sh
bench_begin wbench
serve_both atlas_wbench
# Warm each server on the default window: the city index, the grades, the statistics.
for s in "${SERVERS[@]}"; do
  port=${s##*:}
  curl -sf -o /dev/null "http://127.0.0.1:$port/tiles/atlas/14/13670/6430.mvt"
  curl -sf -o /dev/null "http://127.0.0.1:$port/api/districts"
done

# N distinct windows inside the data (2018-01 … 2023-07) for each kind of answer, drawn once:
# every server gets the same ones, and no window comes twice. Hot spots need windows of at
# least 10 months; an effect's start needs two years of data before it (from 2020-01).
python3 - "$N" >"$WORK/windows" <<'PY'
import os, random, sys
n = int(sys.argv[1])
only = [k for k in os.environ.get("KINDS", "").split(",") if k]
random.seed(20261203)
months = [f"{y}-{m:02d}" for y in range(2018, 2024) for m in range(1, 13)][:67]
pairs = [(a, b) for i, a in enumerate(months) for b in months[i:]]
pairs.remove(("2022-08", "2023-07"))  # the default window, warmed above
random.shuffle(pairs)
def take(kind, ok):
    global pairs
    if only and kind not in only:
        return
    chosen = [p for p in pairs if ok(*p)][:n]
    pairs = [p for p in pairs if p not in chosen]
    for a, b in chosen:
        print(kind, a, b)
span = lambda a, b: months.index(b) - months.index(a) + 1
take("hotspots", lambda a, b: span(a, b) >= 10)
take("effect", lambda a, b: a >= "2020-01")
for kind in ["tile", "picture", "features", "districts", "companies", "trend", "hours"]:
    take(kind, lambda a, b: True)
# Alerts are made for a month (the window's last): distinct months from the first one the rule
# can test (two years of history), at most N.
alert_months = [m for m in months if m >= "2020-03" and m != "2023-07"]
random.shuffle(alert_months)
for m in alert_months[:n] if not only or "alerts" in only else []:
    print("alerts", m, m)
take("repeats", lambda a, b: True)
# The companies' lists of a quarter and a district's monthly report: distinct (quarter or
# month, district) pairs, at most N of each.
districts = ["370202", "370203", "370211", "370212", "370213", "370214", "370215", "370281", "370283", "370285"]
quarters = [f"{y}Q{q}" for y in range(2020, 2024) for q in range(1, 5)][:14]  # 2020Q1 … 2023Q2
for kind, times in [("lists", quarters), ("report", [m for m in months if m >= "2019-01"])]:
    if only and kind not in only:
        continue
    pairs_k = [(t, d) for t in times for d in districts]
    random.shuffle(pairs_k)
    for t, d in pairs_k[:n]:
        print(kind, t, d)
PY

# The answers: KIND FROM TO -> path.
path_of() {
  case $1 in
    tile) echo "/tiles/atlas/14/13670/6430.mvt?from=$2&to=$3" ;;
    picture) echo "/api/map.png?bbox=120.30,36.03,120.50,36.20&width=800&height=600&from=$2&to=$3" ;;
    features) echo "/ogc/collections/compounds/items?datetime=$2/$3&limit=100" ;;
    districts) echo "/api/districts?from=$2&to=$3" ;;
    companies) echo "/api/companies?from=$2&to=$3" ;;
    trend) echo "/api/stats/trend?district=370211&from=$2&to=$3" ;;
    effect) echo "/api/stats/effect?start=$2&to=$3" ;;
    hotspots) echo "/api/hotspots?from=$2&to=$3" ;;
    hours) echo "/api/stats/hours?district=370211&from=$2&to=$3" ;;
    alerts) echo "/api/alerts?month=$3" ;;
    repeats) echo "/api/repeats?from=$2&to=$3" ;;
    lists) echo "/api/companies/lists?period=$2&district=$3" ;;
    report) echo "/api/report.pdf?district=$3&month=$2" ;;
  esac
}
for s in "${SERVERS[@]}"; do
  port=${s##*:}
  while read -r kind from to; do
    path=$(path_of "$kind" "$from" "$to")
    t=$(seconds "$port" "$path") # a plain assignment: set -e stops the run on a refusal
    echo "$kind $t" >>"$WORK/times_$port"
    # The same request again (from a cache where the answer has one), and for tiles another
    # tile of the window (its figures made, the tile itself not yet cached).
    echo "$kind+ $(curl -s -o /dev/null -w '%{time_total}' "http://127.0.0.1:$port$path")" >>"$WORK/times_$port"
    if [ "$kind" = tile ]; then
      t=$(curl -s -o /dev/null -w '%{time_total}' "http://127.0.0.1:$port/tiles/atlas/14/13671/6430.mvt?from=$from&to=$to")
      echo "again $t" >>"$WORK/times_$port"
    fi
  done <"$WORK/windows"
done

echo "## A never-seen window — $(date -u +%Y-%m-%d), $(nproc) cores, scale $SCALE, $N windows per answer"
echo
echo "The first request of each window, median / worst in ms (curl's total time, one request at a time)."
echo
echo "| server | z14 tile | next tile, same window | map picture 800×600 | OGC features, 100 | districts |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
for s in "${SERVERS[@]}"; do
  f="$WORK/times_${s##*:}"
  printf '| %s | %s | %s | %s | %s | %s |\n' "${s%:*}" "$(ms_stat tile "$f")" "$(ms_stat again "$f")" "$(ms_stat picture "$f")" "$(ms_stat features "$f")" "$(ms_stat districts "$f")"
done
echo
echo "The analysts' answers (issue 16), first request of a window / the same request again, median / worst in ms:"
echo
echo "| server | companies | trend (a district) | effect (the city) | hot spots (res 9, ≥ 10 months) |"
echo "| --- | ---: | ---: | ---: | ---: |"
for s in "${SERVERS[@]}"; do
  f="$WORK/times_${s##*:}"
  row="| ${s%:*} |"
  for k in companies trend effect hotspots; do row="$row $(ms_stat "$k" "$f") · $(ms_stat "$k+" "$f") |"; done
  echo "$row"
done
echo
echo "Issue 16's other answers, first request / the same request again, median / worst in ms:"
echo
echo "| server | alerts (a month, the city) | hours (a district) | repeat hot spots (the city) | company lists (a quarter, a district) | monthly report (a district, PDF) |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
for s in "${SERVERS[@]}"; do
  f="$WORK/times_${s##*:}"
  row="| ${s%:*} |"
  for k in alerts hours repeats lists report; do row="$row $(ms_stat "$k" "$f") · $(ms_stat "$k+" "$f") |"; done
  echo "$row"
done
echo
echo "Repeated, the first four: tile $(ms_stat tile+ "$WORK/times_${SERVERS[0]##*:}"), picture $(ms_stat picture+ "$WORK/times_${SERVERS[0]##*:}"), features $(ms_stat features+ "$WORK/times_${SERVERS[0]##*:}"), districts $(ms_stat districts+ "$WORK/times_${SERVERS[0]##*:}") (embedded)."
for s in "${SERVERS[@]}"; do echo "${s%:*}: $(resident "${s##*:}") resident after the run"; done
