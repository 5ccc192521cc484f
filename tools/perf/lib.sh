# Shared helpers of tools/perf/run.sh, scale.sh, sync.sh and pg.sh; sourced,
# not run.
#
# Every clientreg server is started here on 127.0.0.1, under `timeout`, and
# stopped by PID on exit (also on error or Ctrl-C). Every load run is bounded
# by a request count, a time per phase and `timeout`.
#
# Common env: C=16 N=2000 D=30s REPS=3 WARMUP=200 NICE (e.g. -10)
#   QUIET_PCT=10 QUIET_WAIT=600 (before each measured run, wait up to
#   QUIET_WAIT s until the machine is at most QUIET_PCT % busy)
#   CLIENTREG_BIN, BENCH_BIN (binaries to use instead of building
#   ./cmd/clientreg and ./cmd/clientreg-bench from this tree; CLIENTREG_REV
#   names the commit CLIENTREG_BIN was built from)
#   SERVER_TIMEOUT=7200 (seconds a server may run at most)
#   PERF_RESULTS=perf-results (where each script's OUT defaults to
#   PERF_RESULTS/SCRIPT; relative to the repository root, ignored by git)

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
C="${C:-16}"
N="${N:-2000}"
D="${D:-30s}"
REPS="${REPS:-3}"
WARMUP="${WARMUP:-200}"
QUIET_PCT="${QUIET_PCT:-10}"
QUIET_WAIT="${QUIET_WAIT:-600}"
SERVER_TIMEOUT="${SERVER_TIMEOUT:-7200}"
PERF_RESULTS="${PERF_RESULTS:-perf-results}"
case "$PERF_RESULTS" in /*) ;; *) PERF_RESULTS="$ROOT/$PERF_RESULTS" ;; esac
TMP="$(mktemp -d "${PERF_TMPDIR:-/tmp}/clientreg-perf.XXXXXX")"
BENCH="${BENCH_BIN:-$TMP/clientreg-bench}"
CLIENTREG="${CLIENTREG_BIN:-$TMP/clientreg}"
TCK="$(getconf CLK_TCK)"
declare -A CR_WRAPPER=() # server name -> PID of its `timeout` wrapper
declare -A CR_PORT=()    # server name -> port
EXTRA_CLEANUP=""         # a command the script adds to cleanup

log() { echo "[perf $(date -u +%H:%M:%S)] $*" >&2; }

cleanup() {
  local name pid
  for name in "${!CR_WRAPPER[@]}"; do
    pid="${CR_WRAPPER[$name]}"
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  if [ -n "$EXTRA_CLEANUP" ]; then eval "$EXTRA_CLEANUP" || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -n "${NICE:-}" ]; then
  renice -n "$NICE" -p $$ >/dev/null # inherited by everything started below
  # With autogroup scheduling, niceness only counts within a session's
  # group; the group's own niceness decides against other sessions.
  if [ -w "/proc/$$/autogroup" ]; then echo "$NICE" >"/proc/$$/autogroup" || true; fi
fi

# open_out: creates OUT and copies the script's stderr (the log) to
# OUT/run.log from here on.
open_out() {
  mkdir -p "$OUT"
  exec 2> >(tee "$OUT/run.log" >&2)
}

# use_dbdir NAME: the databases go to a fresh directory under DBDIR, removed
# on exit, or to $TMP if DBDIR is not set.
use_dbdir() {
  if [ -z "${DBDIR:-}" ]; then DBDIR="$TMP"; return; fi
  DBDIR="$(mktemp -d "$DBDIR/clientreg-$1.XXXXXX")"
  EXTRA_CLEANUP="rm -rf '$DBDIR'"
}

# db_fs: the filesystem DBDIR is on, for machine.txt.
db_fs() { df -T "$DBDIR" | awk 'NR==2 {print $1, $2}'; }

build_bins() {
  if [ -z "${BENCH_BIN:-}" ]; then
    log "building clientreg-bench from $ROOT"
    (cd "$ROOT" && go build -o "$BENCH" ./cmd/clientreg-bench)
  fi
  if [ -z "${CLIENTREG_BIN:-}" ]; then
    log "building clientreg from $ROOT"
    (cd "$ROOT" && go build -o "$CLIENTREG" ./cmd/clientreg)
  fi
}

# machine_info [LINES...]: the machine, the versions and the settings, one
# "key: value" per line, on stdout.
machine_info() {
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "nproc: $(nproc)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
  echo "memory: $(free -g | awk '/Mem:/ {print $2}') GiB"
  echo "kernel: $(uname -sr)"
  echo "go: $(go version | cut -d' ' -f3)"
  if [ -n "${CLIENTREG_BIN:-}" ]; then
    echo "clientreg: $CLIENTREG_BIN ($("$CLIENTREG" version 2>&1 | head -1))${CLIENTREG_REV:+, built from $CLIENTREG_REV}"
  else
    echo "clientreg: $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)$(cd "$ROOT" && git diff --quiet HEAD -- . 2>/dev/null || echo ' (+ uncommitted changes)')"
  fi
  echo "settings: N=$N C=$C D=$D REPS=$REPS WARMUP=$WARMUP NICE=${NICE:-0} QUIET_PCT=$QUIET_PCT"
  local l
  for l in "$@"; do echo "$l"; done
}

# start_cr NAME PORT [serve flags...]: starts clientreg serve on
# 127.0.0.1:PORT, its stderr in $TMP/NAME.log, and waits until it listens.
start_cr() {
  local name="$1" port="$2"
  shift 2
  timeout "$SERVER_TIMEOUT" "$CLIENTREG" serve --addr "127.0.0.1:$port" "$@" 2>"$TMP/$name.log" &
  CR_WRAPPER[$name]=$!
  CR_PORT[$name]="$port"
  for _ in $(seq 1 300); do
    grep -q '^listening on' "$TMP/$name.log" 2>/dev/null && return 0
    kill -0 "${CR_WRAPPER[$name]}" 2>/dev/null || break
    sleep 0.1
  done
  log "$name did not start:"
  cat "$TMP/$name.log" >&2
  return 1
}

# cr_pid NAME: the PID of the server process (the child of its wrapper).
cr_pid() { pgrep -P "${CR_WRAPPER[$1]}" | head -1; }

cr_base() { echo "http://127.0.0.1:${CR_PORT[$1]}"; }

# stop_cr NAME: stops the server gracefully (SIGTERM) and waits for it.
stop_cr() {
  local pid="${CR_WRAPPER[$1]}"
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  unset "CR_WRAPPER[$1]"
}

# mem NAME: "VmHWM VmRSS" of the server in MB (peak and current resident
# memory, from /proc/PID/status).
mem() {
  awk '/^VmHWM:/ {h=$2} /^VmRSS:/ {r=$2} END {printf "%.1f %.1f\n", h/1024, r/1024}' "/proc/$(cr_pid "$1")/status"
}

busy_jiffies() { awk '/^cpu / {print $2+$3+$4+$7+$8+$9}' /proc/stat; }
proc_jiffies() { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $12+$13}' || echo 0; }

# cpu_s JIFFIES: in seconds, one decimal.
cpu_s() { awk -v p="$1" -v t="$TCK" 'BEGIN {printf "%.1f", p / t}'; }

# other_pct REPORT BUSY MEASURED: the CPU of everything but the measured
# processes (MEASURED jiffies of BUSY, the whole machine's) and the load
# generator (from its JSON REPORT), as a whole percentage of all CPUs over
# the run: other processes disturbing it.
other_pct() {
  jq -r --argjson b "$2" --argjson p "$3" --argjson tck "$TCK" --argjson n "$(nproc)" \
    '(($b - $p) / $tck - .loadgen_cpu_s) / (.wall_s * $n) * 100 | if . < 0 then 0 else . end | round' "$1"
}

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

# warm NAME...: unmeasured register/read/update/delete cycles on the
# servers (spread over them).
warm() {
  local args=() s
  for s in "$@"; do args+=(-base "$(cr_base "$s")"); done
  timeout 180 "$BENCH" "${args[@]}" -c 4 -warmup "$WARMUP" -phases "" -d 60s -q >/dev/null || true
}

# measure LABEL OUT TSV SERVERS -- BENCH_ARGS...: waits for a quiet machine,
# runs clientreg-bench against the servers (-base of each, round-robin),
# writes its JSON report to OUT and appends a line to TSV with the CPU
# seconds of the servers (together), of the load generator and of the rest
# of the machine (as a share of all CPUs), and the servers' memory after.
# Extra jiffies to attribute (e.g. PostgreSQL's) come from EXTRA_JIFFIES_CMD.
measure() {
  local label="$1" out="$2" tsv="$3" servers=() s pids=() args=() p0=0 p1=0 x0=0 x1=0 b0 b1 other
  shift 3
  while [ "$1" != "--" ]; do servers+=("$1"); shift; done
  shift
  for s in "${servers[@]}"; do pids+=("$(cr_pid "$s")"); args+=(-base "$(cr_base "$s")"); done
  wait_quiet
  b0="$(busy_jiffies)"
  for p in "${pids[@]}"; do p0=$((p0 + $(proc_jiffies "$p"))); done
  if [ -n "${EXTRA_JIFFIES_CMD:-}" ]; then x0="$(eval "$EXTRA_JIFFIES_CMD")"; fi
  timeout 900 "$BENCH" "${args[@]}" -c "$C" -d "$D" -label "$label" -o "$out" -q "$@" >"$TMP/last.txt" || true
  b1="$(busy_jiffies)"
  for p in "${pids[@]}"; do p1=$((p1 + $(proc_jiffies "$p"))); done
  if [ -n "${EXTRA_JIFFIES_CMD:-}" ]; then x1="$(eval "$EXTRA_JIFFIES_CMD")"; fi
  cat "$TMP/last.txt" >&2
  if [ ! -s "$out" ]; then log "$label: no report"; return 1; fi
  other="$(other_pct "$out" "$((b1 - b0))" "$((p1 - p0 + x1 - x0))")"
  local memcol=""
  for s in "${servers[@]}"; do memcol="$memcol${memcol:+,}$(mem "$s" | tr ' ' '/')"; done
  printf '%s\t%s\tserver_cpu_s=%s\textra_cpu_s=%s\tloadgen_cpu_s=%s\twall_s=%s\tother_pct=%s\thwm/rss_mb=%s\n' \
    "$label" "$(basename "$out")" "$(cpu_s "$((p1 - p0))")" "$(cpu_s "$((x1 - x0))")" \
    "$(jq .loadgen_cpu_s "$out")" "$(jq .wall_s "$out")" "$other" "$memcol" >>"$tsv"
}
