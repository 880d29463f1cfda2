#!/usr/bin/env bash
# The monthly report (issue 16, part 8): `GET /api/report.pdf?district=&month=` for N random
# (district, month) pairs never asked before (default 20), each the first time and the same
# request again (served from the kept answers), from atlas on the embedded store and on
# PostGIS, one request at a time.
#   usage: benches/report.sh [N] [SCALE]      (default 20 reports, scale 1.0)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-20}
SCALE=${2:-1.0}
. benches/serve.sh
bench_begin rbench
BEFORE="" serve_both atlas_rbench  # no older binary: it has no report
# Warm each server: the statistics, the geography, the grades (a first answer of a trend).
for s in "${SERVERS[@]}"; do
  curl -sf -o /dev/null "http://127.0.0.1:${s##*:}/api/stats/trend"
  curl -sf -o /dev/null "http://127.0.0.1:${s##*:}/api/grades"
done

# N distinct (district, month) pairs inside the data, drawn once: every server gets the same.
curl -sf "http://127.0.0.1:${SERVERS[0]##*:}/api/meta" >"$WORK/meta.json"
python3 - "$N" "$WORK/meta.json" >"$WORK/queries" <<'PY'
import json, random, sys
n = int(sys.argv[1])
meta = json.load(open(sys.argv[2]))
def index(m):
    y, mm = m.split("-")
    return int(y) * 12 + int(mm) - 1
first, last = index(meta["months"]["first"]), index(meta["months"]["last"])
months = [f"{i // 12}-{i % 12 + 1:02d}" for i in range(first, last + 1)]
random.seed(20261207)
seen = set()
while len(seen) < n:
    q = f"district={random.choice(meta['districts'])['code']}&month={random.choice(months)}"
    if q not in seen:
        seen.add(q)
        print(q)
PY

for s in "${SERVERS[@]}"; do
  port=${s##*:}
  while read -r q; do
    for kind in first again; do
      seconds "$port" "/api/report.pdf?$q" >>"$WORK/${kind}_$port"
    done
  done <"$WORK/queries"
done

echo "## The monthly report — $(date -u +%Y-%m-%d), $(nproc) cores, scale $SCALE, $N reports"
echo
echo "| server | first request, ms: median / 90th / worst | repeated, ms: median / 90th / worst |"
echo "| --- | ---: | ---: |"
for s in "${SERVERS[@]}"; do
  port=${s##*:}
  echo "| ${s%:*} | $(ms_spread "$WORK/first_$port") | $(ms_spread "$WORK/again_$port") |"
done
