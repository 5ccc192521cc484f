#!/usr/bin/env bash
# Power-loss durability: clientreg with --sqlite-synchronous full (a sync to
# disk on every commit, so every acknowledged write survives a power loss)
# beside the default (normal: WAL, survives a crash of the process), in one
# run. See docs/performance.md.
#
#   NICE=-10 tools/perf/sync.sh
#
# Both servers run side by side on fresh SQLite files on the local disk (a
# temporary directory under /tmp unless DBDIR is set), are warmed up, and
# are measured REPS times each with the four phases (N requests, C
# clients), alternating, so that both see the same state of the machine.
#
# Writes to OUT: normal-rN.json and full-rN.json, runs.tsv, machine.txt and
# run.log.
#
# Env (besides lib.sh's): PORT_NORMAL=18093 PORT_FULL=18094
#   OUT=perf-results/sync DBDIR=a directory on the disk to measure
set -euo pipefail
. "$(dirname "$0")/lib.sh"

PORT_NORMAL="${PORT_NORMAL:-18093}"
PORT_FULL="${PORT_FULL:-18094}"
OUT="${OUT:-$PERF_RESULTS/sync}"
use_dbdir sync
open_out

build_bins
case "$("$CLIENTREG" serve -help 2>&1 || true)" in
  *--sqlite-synchronous*) ;;
  *) log "this clientreg has no --sqlite-synchronous flag"; exit 1 ;;
esac
CR_FLAGS=(--rate-limits=false)
machine_info "clientreg serve flags: --db $DBDIR/NAME.db ${CR_FLAGS[*]} --sqlite-synchronous normal|full" \
  "db filesystem: $(db_fs)" >"$OUT/machine.txt"
cat "$OUT/machine.txt" >&2
: >"$OUT/runs.tsv"

start_cr normal "$PORT_NORMAL" --db "$DBDIR/normal.db" --sqlite-synchronous normal "${CR_FLAGS[@]}"
start_cr full "$PORT_FULL" --db "$DBDIR/full.db" --sqlite-synchronous full "${CR_FLAGS[@]}"
warm normal
warm full
for r in $(seq 1 "$REPS"); do
  # Alternate which goes first, so that neither always follows the other.
  order="normal full"
  [ $((r % 2)) -eq 0 ] && order="full normal"
  for name in $order; do
    log "$name run $r"
    measure "$name" "$OUT/$name-r$r.json" "$OUT/runs.tsv" "$name" -- -n "$N"
  done
done
stop_cr normal
stop_cr full
log "results in $OUT; tables: go run ./tools/perf/summarize -dir $OUT -ratio full/normal"
