#!/usr/bin/env bash
# Side-by-side measurement of clientreg, node-oidc-provider and Ory Hydra with
# cmd/clientreg-bench, on this machine, in one run. See docs/performance.md.
#
#   tools/perf/run.sh [KIT]
#
# KIT is a writable copy of the shared benchmark kit (shared/bench) on which
# `./bench.sh install` has run (default /tmp/bench); its bench.sh starts and
# stops the peers on 127.0.0.1. clientreg is built from this tree and served
# on a fresh SQLite file in a temporary directory.
#
# Every server is started here, on loopback only, under `timeout`, and stopped
# by PID at the end (also on error or Ctrl-C). Every load run is bounded by a
# request count (N) and a time (D per phase, and `timeout`).
#
# Env: SERVERS="clientreg op-open hydra-shm" N=2000 C=16 D=30s REPS=3
#      WARMUP=200 PORT=18080 OUT=perf-results/run MAX_OTHER_PCT=15 RETRIES=4
#      QUIET_PCT=10 QUIET_WAIT=600 (before each run, wait up to QUIET_WAIT s
#      until the machine is at most QUIET_PCT % busy: other builds and tests
#      on the same cores would distort the figures)
#      CROSSCHECK=1 (one dcrload run against clientreg, from the kit)
#      NICE=-10 (run every server and load generator at this niceness: on a
#      machine shared with other work, as root, a negative value gives the
#      measured processes the CPU first; the same for every server)
#      CLIENTREG_BIN=path (a clientreg binary to measure instead of building
#      ./cmd/clientreg; CLIENTREG_REV=commit names what it was built from)
#      and the rest of lib.sh's (BENCH_BIN, SERVER_TIMEOUT, PERF_RESULTS),
#      whose helpers this script shares with scale.sh, sync.sh and pg.sh
#
# Writes to OUT: the JSON report of every run (SERVER-rN.json), runs.tsv (CPU
# per run, retries included), machine.txt, the dcrload cross-check's report
# and text, and run.log. OUT is not committed: docs/performance.md quotes the
# tables tools/perf/chart prints from it.
set -euo pipefail

KIT="$(cd "${1:-/tmp/bench}" && pwd)"
. "$(dirname "$0")/lib.sh" # N C D REPS WARMUP QUIET_* NICE CLIENTREG_BIN, log, wait_quiet, ...
SERVERS="${SERVERS:-clientreg op-open hydra-shm}"
PORT="${PORT:-18080}"
OUT="${OUT:-$PERF_RESULTS/run}"
MAX_OTHER_PCT="${MAX_OTHER_PCT:-15}"
RETRIES="${RETRIES:-4}"
CROSSCHECK="${CROSSCHECK:-1}"
STARTED="" # the peers this run started, the only ones cleanup stops
EXTRA_CLEANUP='for p in $STARTED; do "$KIT/bench.sh" stop "$p" >/dev/null 2>&1 || true; done'

open_out
build_bins

# Since commit 37e6e75, serve rate-limits registrations per address by
# default (burst 60): a load test from one address must turn that off.
CR_FLAGS=()
case "$("$CLIENTREG" serve -help 2>&1 || true)" in *--rate-limits*) CR_FLAGS+=(--rate-limits=false) ;; esac

# The machine, the versions and the commands, for docs/performance.md.
machine_info "node: $(node --version)" \
  "oidc-provider: $(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$KIT/peers/oidc-provider/node_modules/oidc-provider/package.json")" \
  "hydra: $("$KIT/peers/hydra/bin/hydra" version 2>/dev/null | awk '/^Version:/ {print $2}')" \
  "clientreg serve flags: --db <temp>/clientreg.db ${CR_FLAGS[*]}" >"$OUT/machine.txt"
cat "$OUT/machine.txt" >&2

# server_base NAME, server_pid NAME: where a started server listens, and
# the PID of its process (for its CPU time).
server_base() {
  case "$1" in
    clientreg) cr_base clientreg ;;
    op-*) echo "http://127.0.0.1:${OP_PORT:-3000}" ;;
    hydra*) echo "http://127.0.0.1:${HYDRA_PORT:-4444}" ;;
  esac
}
server_pid() {
  case "$1" in
    clientreg) cr_pid clientreg ;;
    *) cat "$KIT/.run/$1.pid" ;;
  esac
}
start_server() {
  if [ "$1" = clientreg ]; then
    rm -f "$TMP/clientreg.db"*
    start_cr clientreg "$PORT" --db "$TMP/clientreg.db" "${CR_FLAGS[@]}"
  else
    STARTED="$STARTED $1"
    "$KIT/bench.sh" start "$1"
  fi
}
stop_server() {
  if [ "$1" = clientreg ]; then stop_cr clientreg; else "$KIT/bench.sh" stop "$1"; fi
}

for s in $SERVERS; do
  start_server "$s"
  base="$(server_base "$s")"
  pid="$(server_pid "$s")"
  log "$s: up at $base (pid $pid); warm-up of $WARMUP cycles"
  timeout 120 "$BENCH" -base "$base" -c 4 -warmup "$WARMUP" -phases "" -d 60s -q >/dev/null || true
  for r in $(seq 1 "$REPS"); do
    out="$OUT/$s-r$r.json"
    for try in $(seq 0 "$RETRIES"); do
      wait_quiet
      b0="$(busy_jiffies)"; p0="$(proc_jiffies "$pid")"
      timeout 600 "$BENCH" -base "$base" -c "$C" -n "$N" -d "$D" -label "$s" -o "$out" -q >"$TMP/last.txt" || true
      b1="$(busy_jiffies)"; p1="$(proc_jiffies "$pid")"
      other="$(other_pct "$out" "$((b1 - b0))" "$((p1 - p0))")"
      printf '%s\tr%s\ttry%s\tserver_cpu_s=%s\tloadgen_cpu_s=%s\twall_s=%s\tother_pct=%s\n' "$s" "$r" "$try" "$(cpu_s "$((p1 - p0))")" \
        "$(jq .loadgen_cpu_s "$out")" "$(jq .wall_s "$out")" "$other" >>"$OUT/runs.tsv"
      cat "$TMP/last.txt" >&2
      if [ "$other" -le "$MAX_OTHER_PCT" ] || [ "$try" -eq "$RETRIES" ]; then break; fi
      log "$s run $r: other processes used ${other}% of the CPUs; repeating"
    done
  done
  if [ "$s" = clientreg ] && [ "$CROSSCHECK" = 1 ]; then
    log "clientreg: cross-check with the kit's dcrload"
    wait_quiet
    timeout 600 "$KIT/dcrload/dcrload" -base "$base" -c "$C" -n "$N" -d "$D" -label dcrload-clientreg \
      -o "$OUT/dcrload-clientreg.json" -q | tee "$OUT/dcrload-clientreg.txt" >&2 || true
  fi
  stop_server "$s"
done

log "results in $OUT; chart and tables: go run ./tools/perf/chart -dir $OUT -md (-svg docs/perf-chart.svg to update the chart of docs/performance.md)"
