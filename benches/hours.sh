#!/usr/bin/env bash
# Time patterns (issue 16, part 7): `GET /api/stats/hours` for N random selections never asked
# before (default 100) — the city, a district, a street or a property company, with or
# without a category, over a random window inside the data — from atlas on the embedded store
# and on PostGIS, one request at a time; then the resident memory of each server.
#   usage: benches/hours.sh [N] [SCALE]      (default 100 selections, scale 1.0)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100}
SCALE=${2:-1.0}
. benches/serve.sh
bench_begin hours
BEFORE="" serve_both atlas_hours  # no older binary: it has no hour table
# Warm each server: the statistics and the geography (a first answer of the default window).
for s in "${SERVERS[@]}"; do
  curl -sf -o /dev/null "http://127.0.0.1:${s##*:}/api/stats/hours"
done

# N distinct selections, drawn once: every server gets the same ones.
curl -sf "http://127.0.0.1:${SERVERS[0]##*:}/api/meta" >"$WORK/meta.json"
curl -sf "http://127.0.0.1:${SERVERS[0]##*:}/api/companies" >"$WORK/companies.json"
python3 - "$N" "$WORK/meta.json" "$WORK/companies.json" >"$WORK/queries" <<'PY'
import json, random, sys
n = int(sys.argv[1])
meta = json.load(open(sys.argv[2]))
companies = [c["id"] for c in json.load(open(sys.argv[3]))["companies"]]
random.seed(20261207)
months = [f"{y}-{m:02d}" for y in range(2018, 2024) for m in range(1, 13)][:67]
cats = [c["code"] if isinstance(c, dict) else c for c in meta["categories"]]
seen = set()
while len(seen) < n:
    a, b = sorted(random.sample(range(len(months)), 2))
    kind = random.choice(["city", "district", "street", "company"])
    q = {"city": "", "district": f"district={random.choice(meta['districts'])['code']}&",
         "street": f"street={random.choice(meta['streets'])['code']}&",
         "company": f"company={random.choice(companies)}&"}[kind]
    if random.random() < 0.5:
        q += f"category={random.choice(cats)}&"
    q += f"from={months[a]}&to={months[b]}"
    if q not in seen:
        seen.add(q)
        print(q)
PY

for s in "${SERVERS[@]}"; do
  port=${s##*:}
  while read -r q; do
    seconds "$port" "/api/stats/hours?$q" >>"$WORK/times_$port"
  done <"$WORK/queries"
done

echo "## Time patterns — $(date -u +%Y-%m-%d), $(nproc) cores, scale $SCALE, $N selections"
echo
echo "| server | GET /api/stats/hours, ms: median / 90th / worst | resident after the run |"
echo "| --- | ---: | ---: |"
for s in "${SERVERS[@]}"; do
  echo "| ${s%:*} | $(ms_spread "$WORK/times_${s##*:}") | $(resident "${s##*:}") |"
done
