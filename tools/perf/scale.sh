#!/usr/bin/env bash
# Flat with size: clientreg's read and update latency with 1,000 and with
# 1,000,000 clients stored, and the server's resident memory. See
# docs/performance.md.
#
#   NICE=-10 tools/perf/scale.sh
#
# Two servers run side by side on the default SQLite store (default
# durability, database files on the local disk in a temporary directory):
# "1k" holds SMALL clients, "1m" holds LARGE clients, both registered over
# HTTP with clientreg-bench's register phase (the 1m population in chunks of
# POP_CHUNK at POP_C concurrent clients; each chunk's report is kept, so the
# registration rate as the table grows is on record). Each server is then
# restarted, so that its memory figures are those of a process serving the
# full database, warmed up, and measured REPS times, the two sizes
# alternating, with
#
#   sample: read and update (N requests each, C clients) of SAMPLE clients
#           of the population: at 1m a fresh random sample per run, disjoint
#           from the others; at 1k the same 1,000 clients each run (their
#           rotated tokens carried over, and each client read once,
#           unmeasured, after a run: the first use of a rotated token
#           retires the previous one, a write, which a read of a client
#           never updated does not do). Each client is read N/SAMPLE times.
#   fresh:  the usual four phases (register N new clients, read, update and
#           delete them), for register and delete at that size.
#
# Writes to OUT: the JSON report of every run (LABEL-rN.json), the
# population chunks' reports (pop-1m-K.json), runs.tsv (CPU and memory per
# run), memory.tsv (VmHWM and VmRSS of each server at each step),
# machine.txt, and run.log.
#
# Env (besides lib.sh's): SMALL=1000 LARGE=1000000 SAMPLE=1000 POP_C=32
#   POP_CHUNK=100000 PORT_SMALL=18091 PORT_LARGE=18092
#   OUT=perf-results/scale DBDIR=a directory on the disk to measure
#   (default: the temporary directory, under /tmp)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

SMALL="${SMALL:-1000}"
LARGE="${LARGE:-1000000}"
SAMPLE="${SAMPLE:-1000}"
POP_C="${POP_C:-32}"
POP_CHUNK="${POP_CHUNK:-100000}"
PORT_SMALL="${PORT_SMALL:-18091}"
PORT_LARGE="${PORT_LARGE:-18092}"
OUT="${OUT:-$PERF_RESULTS/scale}"
use_dbdir scale
open_out

build_bins
CR_FLAGS=(--rate-limits=false)
machine_info "clientreg serve flags: --db $DBDIR/NAME.db ${CR_FLAGS[*]}" \
  "db filesystem: $(db_fs)" \
  "scale: SMALL=$SMALL LARGE=$LARGE SAMPLE=$SAMPLE POP_C=$POP_C POP_CHUNK=$POP_CHUNK" >"$OUT/machine.txt"
cat "$OUT/machine.txt" >&2
: >"$OUT/runs.tsv"
printf 'server\tstep\tclients\tvmhwm_mb\tvmrss_mb\tdb_mb\n' >"$OUT/memory.tsv"

declare -A SIZE=([1k]="$SMALL" [1m]="$LARGE")
declare -A PORT=([1k]="$PORT_SMALL" [1m]="$PORT_LARGE")

db_mb() { du -cm "$DBDIR/$1.db"* | awk 'END {print $1}'; }
record_mem() { # NAME STEP CLIENTS
  printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$(mem "$1" | tr ' ' '\t')" "$(db_mb "$1")" >>"$OUT/memory.tsv"
}

# populate NAME: registers SIZE[NAME] clients, in chunks; the clients go to
# $TMP/NAME-pop-K.jsonl.
populate() {
  local name="$1" size="${SIZE[$1]}" done=0 k=0 n
  while [ "$done" -lt "$size" ]; do
    k=$((k + 1))
    n=$((size - done < POP_CHUNK ? size - done : POP_CHUNK))
    timeout 900 "$BENCH" -base "$(cr_base "$name")" -phases register -n "$n" -c "$POP_C" -d 10m -q \
      -label "pop-$name-$k" -o "$OUT/pop-$name-$k.json" -clients-out "$TMP/$name-pop-$k.jsonl" >"$TMP/last.txt" || {
      cat "$TMP/last.txt" >&2
      log "population of $name: chunk $k failed"
      return 1
    }
    done=$((done + $(wc -l <"$TMP/$name-pop-$k.jsonl")))
    log "$name: $done clients ($(jq -r '.phases[0] | "\(.rps) req/s, p99 \(.p99_ms) ms"' "$OUT/pop-$name-$k.json")); server $(mem "$name" | awk '{print "VmHWM " $1 " MB, VmRSS " $2 " MB"}')"
    record_mem "$name" "population chunk $k" "$done"
  done
}

for name in 1k 1m; do
  start_cr "$name" "${PORT[$name]}" --db "$DBDIR/$name.db" "${CR_FLAGS[@]}"
  log "$name: populating with ${SIZE[$name]} clients"
  t0=$SECONDS
  populate "$name"
  log "$name: populated in $((SECONDS - t0)) s"
  record_mem "$name" "after population (same process)" "${SIZE[$name]}"
  stop_cr "$name"
done

# The samples: for 1m, REPS disjoint random samples of SAMPLE clients
# (fixed seed); for 1k, its whole population, carried from run to run.
cat "$TMP"/1m-pop-*.jsonl | shuf --random-source=<(yes) -n $((REPS * SAMPLE)) >"$TMP/1m-samples.jsonl"
for r in $(seq 1 "$REPS"); do
  sed -n "$(((r - 1) * SAMPLE + 1)),$((r * SAMPLE))p" "$TMP/1m-samples.jsonl" >"$TMP/1m-sample-$r.jsonl"
done
cat "$TMP"/1k-pop-*.jsonl | head -n "$SAMPLE" >"$TMP/1k-sample-1.jsonl"

for name in 1k 1m; do
  start_cr "$name" "${PORT[$name]}" --db "$DBDIR/$name.db" "${CR_FLAGS[@]}"
  record_mem "$name" "restarted" "${SIZE[$name]}"
  warm "$name"
  record_mem "$name" "after warm-up" "${SIZE[$name]}"
done

for r in $(seq 1 "$REPS"); do
  for name in 1k 1m; do
    log "$name run $r: read and update of $SAMPLE stored clients"
    measure "$name-sample" "$OUT/$name-sample-r$r.json" "$OUT/runs.tsv" "$name" -- \
      -n "$N" -phases read,update -clients-in "$TMP/$name-sample-$r.jsonl" -clients-out "$TMP/$name-after-$r.jsonl"
    if [ "$name" = 1k ]; then
      # Carry the clients over to the next run, and first read each once,
      # unmeasured: a client's first request with a rotated token retires
      # the previous one, a write, which the 1m samples (never updated
      # before) do not pay in their read phase.
      timeout 300 "$BENCH" -base "$(cr_base "$name")" -phases read -n "$SAMPLE" -c "$C" -q \
        -clients-in "$TMP/$name-after-$r.jsonl" -clients-out "$TMP/$name-sample-$((r + 1)).jsonl" >/dev/null
    fi
    log "$name run $r: register, read, update, delete of $N new clients"
    measure "$name-fresh" "$OUT/$name-fresh-r$r.json" "$OUT/runs.tsv" "$name" -- -n "$N"
  done
done

for name in 1k 1m; do
  record_mem "$name" "after the measured runs" "${SIZE[$name]}"
  stop_cr "$name"
done
cat "$OUT/memory.tsv" >&2
log "results in $OUT; tables: go run ./tools/perf/summarize -dir $OUT -ratio 1m-sample/1k-sample,1m-fresh/1k-fresh"
