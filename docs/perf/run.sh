#!/usr/bin/env bash
# Side-by-side measurement of clientreg, node-oidc-provider and Ory Hydra with
# cmd/clientreg-bench, on this machine, in one run. See docs/performance.md.
#
#   docs/perf/run.sh [KIT]
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
#      WARMUP=200 PORT=18080 OUT=docs/perf/results MAX_OTHER_PCT=15 RETRIES=4
#      QUIET_PCT=10 QUIET_WAIT=600 (before each run, wait up to QUIET_WAIT s
#      until the machine is at most QUIET_PCT % busy: other builds and tests
#      on the same cores would distort the figures)
#      CROSSCHECK=1 (one dcrload run against clientreg, from the kit)
#      NICE=-10 (run every server and load generator at this niceness: on a
#      machine shared with other work, as root, a negative value gives the
#      measured processes the CPU first; the same for every server)
#      CLIENTREG_BIN=path (a clientreg binary to measure instead of building
#      ./cmd/clientreg; CLIENTREG_REV=commit names what it was built from)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
KIT="$(cd "${1:-/tmp/bench}" && pwd)"
SERVERS="${SERVERS:-clientreg op-open hydra-shm}"
N="${N:-2000}"
C="${C:-16}"
D="${D:-30s}"
REPS="${REPS:-3}"
WARMUP="${WARMUP:-200}"
PORT="${PORT:-18080}"
OUT="${OUT:-$ROOT/docs/perf/results}"
MAX_OTHER_PCT="${MAX_OTHER_PCT:-15}"
RETRIES="${RETRIES:-4}"
QUIET_PCT="${QUIET_PCT:-10}"
QUIET_WAIT="${QUIET_WAIT:-600}"
CROSSCHECK="${CROSSCHECK:-1}"
TMP="$(mktemp -d /tmp/clientreg-perf.XXXXXX)"
BENCH="$TMP/clientreg-bench"
CLIENTREG="${CLIENTREG_BIN:-$TMP/clientreg}"
CR_PID=""
STARTED="" # the peers this run started, the only ones cleanup stops

log() { echo "[perf $(date -u +%H:%M:%S)] $*" >&2; }

cleanup() {
  if [ -n "$CR_PID" ] && kill -0 "$CR_PID" 2>/dev/null; then
    kill -TERM "$CR_PID" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$CR_PID" 2>/dev/null || break; sleep 0.25; done
    kill -KILL "$CR_PID" 2>/dev/null || true
  fi
  for p in $STARTED; do "$KIT/bench.sh" stop "$p" >/dev/null 2>&1 || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -n "${NICE:-}" ]; then
  renice -n "$NICE" -p $$ >/dev/null   # inherited by everything started below
  # With autogroup scheduling, niceness only counts within a session's
  # group; the group's own niceness decides against other sessions.
  if [ -w "/proc/$$/autogroup" ]; then echo "$NICE" >"/proc/$$/autogroup" || true; fi
fi
mkdir -p "$OUT"
log "building clientreg-bench$([ -n "${CLIENTREG_BIN:-}" ] || echo ' and clientreg') from $ROOT"
(cd "$ROOT" && go build -o "$BENCH" ./cmd/clientreg-bench)
[ -n "${CLIENTREG_BIN:-}" ] || (cd "$ROOT" && go build -o "$CLIENTREG" ./cmd/clientreg)

# Since commit 37e6e75, serve rate-limits registrations per address by
# default (burst 60): a load test from one address must turn that off.
CR_FLAGS=()
case "$("$CLIENTREG" serve -help 2>&1 || true)" in *--rate-limits*) CR_FLAGS+=(--rate-limits=false) ;; esac

# The machine, the versions and the commands, for docs/performance.md.
{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "nproc: $(nproc)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
  echo "memory: $(free -g | awk '/Mem:/ {print $2}') GiB"
  echo "kernel: $(uname -sr)"
  echo "go: $(go version | cut -d' ' -f3)"
  echo "node: $(node --version)"
  echo "oidc-provider: $(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$KIT/peers/oidc-provider/node_modules/oidc-provider/package.json")"
  echo "hydra: $("$KIT/peers/hydra/bin/hydra" version 2>/dev/null | awk '/^Version:/ {print $2}')"
  if [ -n "${CLIENTREG_BIN:-}" ]; then
    echo "clientreg: $CLIENTREG_BIN ($("$CLIENTREG" version 2>&1 | head -1))${CLIENTREG_REV:+, built from $CLIENTREG_REV}"
  else
    echo "clientreg: $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)$(cd "$ROOT" && git diff --quiet HEAD -- . 2>/dev/null || echo ' (+ uncommitted changes)')"
  fi
  echo "settings: N=$N C=$C D=$D REPS=$REPS WARMUP=$WARMUP NICE=${NICE:-0}"
  echo "clientreg serve flags: --db <temp>/clientreg.db ${CR_FLAGS[*]}"
} >"$OUT/machine.txt"
cat "$OUT/machine.txt" >&2

start_clientreg() {
  local db="$TMP/clientreg.db"
  rm -f "$db"*
  timeout 1800 "$CLIENTREG" serve --addr "127.0.0.1:$PORT" --db "$db" "${CR_FLAGS[@]}" 2>"$TMP/clientreg.log" &
  CR_PID=$!
  for _ in $(seq 1 100); do
    grep -q '^listening on' "$TMP/clientreg.log" 2>/dev/null && return 0
    kill -0 "$CR_PID" 2>/dev/null || break
    sleep 0.1
  done
  log "clientreg did not start:"; cat "$TMP/clientreg.log" >&2; return 1
}

# server_base NAME, server_pid NAME: where a started server listens, and
# the PID of its process (for its CPU time).
server_base() {
  case "$1" in
    clientreg) echo "http://127.0.0.1:$PORT" ;;
    op-*) echo "http://127.0.0.1:${OP_PORT:-3000}" ;;
    hydra*) echo "http://127.0.0.1:${HYDRA_PORT:-4444}" ;;
  esac
}
server_pid() {
  case "$1" in
    clientreg) pgrep -P "$CR_PID" | head -1 || echo "$CR_PID" ;;
    *) cat "$KIT/.run/$1.pid" ;;
  esac
}
start_server() {
  if [ "$1" = clientreg ]; then start_clientreg; else STARTED="$STARTED $1"; "$KIT/bench.sh" start "$1"; fi
}
stop_server() {
  if [ "$1" = clientreg ]; then
    kill -TERM "$CR_PID" 2>/dev/null || true
    wait "$CR_PID" 2>/dev/null || true
    CR_PID=""
  else
    "$KIT/bench.sh" stop "$1"
  fi
}

busy_jiffies() { awk '/^cpu / {print $2+$3+$4+$7+$8+$9}' /proc/stat; }
proc_jiffies() { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $12+$13}' || echo 0; }
TCK="$(getconf CLK_TCK)"

# wait_quiet: waits (at most QUIET_WAIT s) until the whole machine was at
# most QUIET_PCT % busy over 2 s.
wait_quiet() {
  local deadline=$((SECONDS + QUIET_WAIT)) b0 b1 pct
  while :; do
    b0="$(busy_jiffies)"; sleep 2; b1="$(busy_jiffies)"
    pct=$(( (b1 - b0) * 100 / (2 * TCK * $(nproc)) ))
    [ "$pct" -le "$QUIET_PCT" ] && return 0
    if [ "$SECONDS" -ge "$deadline" ]; then log "machine still ${pct}% busy; measuring anyway"; return 0; fi
    log "machine ${pct}% busy (other processes); waiting"
    sleep 3
  done
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
      # CPU of everything but the server and the load generator, as a share
      # of the machine: other processes disturbing the run.
      other="$(jq -r --argjson b "$((b1 - b0))" --argjson p "$((p1 - p0))" --argjson tck "$TCK" --argjson n "$(nproc)" \
        '(($b - $p) / $tck - .loadgen_cpu_s) / (.wall_s * $n) * 100 | if . < 0 then 0 else . end | round' "$out")"
      server_cpu="$(awk -v p="$((p1 - p0))" -v t="$TCK" 'BEGIN {printf "%.1f", p / t}')"
      printf '%s\tr%s\ttry%s\tserver_cpu_s=%s\tloadgen_cpu_s=%s\twall_s=%s\tother_pct=%s\n' "$s" "$r" "$try" "$server_cpu" \
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

log "results in $OUT; chart and table: go run ./docs/perf/chart"
