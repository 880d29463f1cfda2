# Shared by the benchmark scripts: a release build, a work directory, a PostGIS (throwaway
# unless DATABASE_URL is set), and `measure LABEL CMD...`, which records wall seconds and peak
# memory of a command into $WORK/results.
. scripts/postgis.sh
command -v /usr/bin/time >/dev/null || apt_install time
ensure_postgis
cargo build --release --locked -q
BIN=target/release/atlas
WORK=$(mktemp -d /tmp/atlas-bench.XXXXXX)
if [ -z "${DATABASE_URL:-}" ]; then start_cluster; trap 'stop_cluster; rm -rf "$WORK"' EXIT; else trap 'rm -rf "$WORK"' EXIT; fi
BASE=${DATABASE_URL%/*}

measure() {
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$WORK/time" "$@" >"$WORK/out" 2>"$WORK/err" || { cat "$WORK/err"; exit 1; }
  read -r secs kib <"$WORK/time"
  printf '%s\t%s\t%s\n' "$label" "$secs" "$((kib / 1024))" >>"$WORK/results"
}
