#!/usr/bin/env bash
# Complaint import benchmark: the full hotline export (1.1 M rows) read, validated, placed by
# the geocoder and stored with its monthly statistics, into each store; beside a plain
# PostgreSQL COPY of the same file into an unindexed table of text columns, in the same run.
#   usage: benches/complaints.sh [SCALE]      (default 1.0)
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE=${1:-1.0}
. benches/lib.sh
"$BIN" generate --out "$WORK/city" --scale "$SCALE" >/dev/null
ROWS=$(($(wc -l <"$WORK/city/complaints.csv") - 1))
psql -q "$DATABASE_URL" -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS atlas_cbench" -c "CREATE DATABASE atlas_cbench"
"$BIN" import "$WORK/city" --database-url "$BASE/atlas_cbench" >/dev/null
# As many text columns as the export has fields.
cols=$(head -1 "$WORK/city/complaints.csv" | awk -F, '{ for (i = 1; i <= NF; i++) printf "%sc%d text", (i > 1 ? ", " : ""), i }')
psql -q "$BASE/atlas_cbench" -c "DROP TABLE IF EXISTS raw_copy" -c "CREATE UNLOGGED TABLE raw_copy ($cols)"
cp -r "$WORK/city" "$WORK/embedded"

measure "plain COPY into an unindexed table (baseline)" psql -q "$BASE/atlas_cbench" -c "\\copy raw_copy FROM '$WORK/city/complaints.csv' CSV HEADER"
measure "atlas import → embedded (validate, geocode, store, statistics)" "$BIN" import "$WORK/city/complaints.csv" --data "$WORK/embedded"
measure "atlas import → PostGIS (validate, geocode, store, statistics)" "$BIN" import "$WORK/city/complaints.csv" --database-url "$BASE/atlas_cbench"
measure "atlas import → PostGIS again (all unchanged)" "$BIN" import "$WORK/city/complaints.csv" --database-url "$BASE/atlas_cbench"

echo "## Complaint import — $(date -u +%Y-%m-%d), $(nproc) cores, $ROWS rows"
echo
echo "| step | seconds | peak MiB | × COPY |"
echo "| --- | ---: | ---: | ---: |"
copy=$(awk -F'\t' 'NR==1 {print $2}' "$WORK/results")
awk -F'\t' -v c="$copy" '{printf "| %s | %s | %s | %.1f |\n", $1, $2, $3, $2 / c}' "$WORK/results"
