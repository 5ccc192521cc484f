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
# Two parts. The registration phases (register, read, update, delete) of
# SERVERS, all started at once and measured in turn, run by run (A B C A B
# C ...). Then the token phases
# (token, introspect, code, refresh) of TOKEN_SERVERS, all started at once
# and measured in turn, run by run (A B A B ...): clientreg serve with
# --login header (the load tool sends the user's header, as a sign-in proxy
# would) and --consent-ttl 0 (its consent page every time, as
# node-oidc-provider's, whose every flow is a new browser session), and
# node-oidc-provider configured by tools/perf/peers/oidc-provider.mjs (PKCE
# required, refresh tokens rotating, a resource server with scope read),
# which this script copies into KIT/peers/oidc-provider to run it with the
# kit's node_modules. Both get the same requests: -scope read -resource
# https://mcp.example/ (node-oidc-provider grants no authorization without
# a scope, and without openid only a resource server's scope). The reports
# of the token runs carry the same labels as the registration runs, so that
# tools/perf/chart puts each server's phases together.
#
# Every server is started here, on loopback only, under `timeout`, and stopped
# by PID at the end (also on error or Ctrl-C). Every load run is bounded by a
# request count (N) and a time (D per phase, and `timeout`).
#
# Env: SERVERS="clientreg op-open hydra-shm" (empty: no registration phases) N=2000 C=16 D=30s REPS=3
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
#      TOKEN_SERVERS="clientreg op-open" (empty: no token phases; hydra-shm
#      may be added: Hydra has client_credentials, but no introspection
#      endpoint in its metadata and no sign-in app, so only its token phase
#      runs) TOKEN_PHASES=token,introspect,code,refresh TOKEN_N=10000
#      (requests per token phase: they are fast, and D bounds them anyway)
#      TOKEN_SCOPE=read TOKEN_RESOURCE=https://mcp.example/ TOKEN_CLIENTS=1
#      TOKEN_PORT=PORT+1 (clientreg) OP_TOKENS_PORT=3001 (node-oidc-provider)
#      BARE_PORT=PORT+2 (tools/perf/bare: the ceiling of the token and
#      introspect phases, a net/http server over two maps, measured in the
#      same run; TOKEN_SERVERS without "bare" leaves it out)
#      and the rest of lib.sh's (BENCH_BIN, SERVER_TIMEOUT, PERF_RESULTS),
#      whose helpers this script shares with scale.sh, sync.sh and pg.sh
#
# Writes to OUT: the JSON report of every run (SERVER-rN.json, and
# SERVER-tokens-rN.json for the token phases), runs.tsv (CPU per run,
# retries included), machine.txt, the dcrload cross-check's report and
# text, and run.log. OUT is not committed: docs/performance.md quotes the
# tables tools/perf/chart prints from it.
set -euo pipefail

KIT="$(cd "${1:-/tmp/bench}" && pwd)"
. "$(dirname "$0")/lib.sh" # N C D REPS WARMUP QUIET_* NICE CLIENTREG_BIN, log, wait_quiet, ...
SERVERS="${SERVERS-clientreg op-open hydra-shm}"
PORT="${PORT:-18080}"
OUT="${OUT:-$PERF_RESULTS/run}"
MAX_OTHER_PCT="${MAX_OTHER_PCT:-15}"
RETRIES="${RETRIES:-4}"
CROSSCHECK="${CROSSCHECK:-1}"
TOKEN_SERVERS="${TOKEN_SERVERS-clientreg op-open bare}"
TOKEN_PHASES="${TOKEN_PHASES:-token,introspect,code,refresh}"
TOKEN_N="${TOKEN_N:-10000}"
TOKEN_SCOPE="${TOKEN_SCOPE:-read}"
TOKEN_RESOURCE="${TOKEN_RESOURCE:-https://mcp.example/}"
TOKEN_CLIENTS="${TOKEN_CLIENTS:-1}"
TOKEN_PORT="${TOKEN_PORT:-$((PORT + 1))}"
BARE_PORT="${BARE_PORT:-$((PORT + 2))}"
OP_TOKENS_PORT="${OP_TOKENS_PORT:-3001}"
LOGIN_HEADER=X-Forwarded-User
STARTED="" # the peers this run started, the only ones cleanup stops
EXTRA_CLEANUP='for p in $STARTED; do "$KIT/bench.sh" stop "$p" >/dev/null 2>&1 || true; done'

open_out
build_bins

# Since commit 37e6e75, serve rate-limits registrations per address by
# default (burst 60): a load test from one address must turn that off.
CR_FLAGS=()
case "$("$CLIENTREG" serve -help 2>&1 || true)" in *--rate-limits*) CR_FLAGS+=(--rate-limits=false) ;; esac

# The machine, the versions and the commands, for docs/performance.md.
CR_TOKEN_FLAGS=(--login header --login-header "$LOGIN_HEADER" --trusted-proxy 127.0.0.1/32 --consent-ttl 0)
TOKEN_ARGS=(-n "$TOKEN_N" -phases "$TOKEN_PHASES" -scope "$TOKEN_SCOPE" -resource "$TOKEN_RESOURCE" -token-clients "$TOKEN_CLIENTS")
machine_info "node: $(node --version)" \
  "oidc-provider: $(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$KIT/peers/oidc-provider/node_modules/oidc-provider/package.json")" \
  "hydra: $("$KIT/peers/hydra/bin/hydra" version 2>/dev/null | awk '/^Version:/ {print $2}')" \
  "clientreg serve flags: --db <temp>/clientreg.db ${CR_FLAGS[*]}" \
  "token phases: servers ${TOKEN_SERVERS:-none}, clientreg-bench ${TOKEN_ARGS[*]} (clientreg: -login-header $LOGIN_HEADER); clientreg serve ${CR_FLAGS[*]} ${CR_TOKEN_FLAGS[*]}; node-oidc-provider tools/perf/peers/oidc-provider.mjs" >"$OUT/machine.txt"
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

# measure_run SERVER LABEL OUT BASE PID BENCH_ARGS...: one measured run of
# clientreg-bench against BASE (PID: the server's process), repeated up to
# RETRIES times while other processes used more than MAX_OTHER_PCT % of the
# CPUs; a line per try in runs.tsv.
measure_run() {
  local s="$1" label="$2" out="$3" base="$4" pid="$5" try b0 b1 p0 p1 other run
  shift 5
  run="$(basename "$out" .json)"
  run="${run#"$s"-}" # r1, tokens-r1
  for try in $(seq 0 "$RETRIES"); do
    wait_quiet
    b0="$(busy_jiffies)"; p0="$(proc_jiffies "$pid")"
    timeout 600 "$BENCH" -base "$base" -c "$C" -n "$N" -d "$D" -label "$label" -o "$out" -q "$@" >"$TMP/last.txt" || true
    b1="$(busy_jiffies)"; p1="$(proc_jiffies "$pid")"
    if [ ! -s "$out" ]; then log "$s: no report"; cat "$TMP/last.txt" >&2; return 0; fi
    other="$(other_pct "$out" "$((b1 - b0))" "$((p1 - p0))")"
    printf '%s\t%s\ttry%s\tserver_cpu_s=%s\tloadgen_cpu_s=%s\twall_s=%s\tother_pct=%s\n' "$s" "$run" "$try" "$(cpu_s "$((p1 - p0))")" \
      "$(jq .loadgen_cpu_s "$out")" "$(jq .wall_s "$out")" "$other" >>"$OUT/runs.tsv"
    cat "$TMP/last.txt" >&2
    if [ "$other" -le "$MAX_OTHER_PCT" ] || [ "$try" -eq "$RETRIES" ]; then break; fi
    log "$s $run: other processes used ${other}% of the CPUs; repeating"
  done
}

# The registration phases. Their servers run side by side (on their own
# ports) and are measured in turn, run by run (A B C A B C ...), so that a
# drift of the machine's speed during the run (seen here: 50 % more CPU
# for the same work an hour apart) moves every server's runs alike.
for s in $SERVERS; do
  start_server "$s"
  log "$s: up at $(server_base "$s") (pid $(server_pid "$s")); warm-up of $WARMUP cycles"
  timeout 120 "$BENCH" -base "$(server_base "$s")" -c 4 -warmup "$WARMUP" -phases "" -d 60s -q >/dev/null || true
done
for r in $(seq 1 "$REPS"); do
  for s in $SERVERS; do
    measure_run "$s" "$s" "$OUT/$s-r$r.json" "$(server_base "$s")" "$(server_pid "$s")"
  done
done
if [[ " $SERVERS " == *" clientreg "* ]] && [ "$CROSSCHECK" = 1 ]; then
  log "clientreg: cross-check with the kit's dcrload"
  wait_quiet
  timeout 600 "$KIT/dcrload/dcrload" -base "$(server_base clientreg)" -c "$C" -n "$N" -d "$D" -label dcrload-clientreg \
    -o "$OUT/dcrload-clientreg.json" -q | tee "$OUT/dcrload-clientreg.txt" >&2 || true
fi
for s in $SERVERS; do stop_server "$s"; done

# The token phases. Their servers run side by side (on their own ports) and
# are measured in turn, run by run.
token_base() {
  case "$1" in
    bare) cr_base bare ;;
    clientreg) cr_base clientreg-tokens ;;
    op-open) cr_base op-tokens ;;
    hydra*) server_base "$1" ;;
  esac
}
token_pid() {
  case "$1" in
    bare) cr_pid bare ;;
    clientreg) cr_pid clientreg-tokens ;;
    op-open) cr_pid op-tokens ;;
    hydra*) server_pid "$1" ;;
  esac
}
# token_args SERVER: what that server's runs add to TOKEN_ARGS.
token_args() {
  case "$1" in
    bare) echo -phases token,introspect ;;
    clientreg) echo -login-header "$LOGIN_HEADER" ;;
    hydra*) echo -phases token ;;
  esac
}
start_token_server() {
  case "$1" in
    clientreg)
      rm -f "$TMP/clientreg-tokens.db"*
      start_cr clientreg-tokens "$TOKEN_PORT" --db "$TMP/clientreg-tokens.db" "${CR_FLAGS[@]}" "${CR_TOKEN_FLAGS[@]}" ;;
    op-open)
      # The configuration lives in this tree; it runs from the kit's copy
      # of oidc-provider, where `import 'oidc-provider'` resolves.
      cp "$(dirname "$0")/peers/oidc-provider.mjs" "$KIT/peers/oidc-provider/clientreg-tokens.mjs"
      (cd "$KIT/peers/oidc-provider" && PORT="$OP_TOKENS_PORT" exec timeout "$SERVER_TIMEOUT" node clientreg-tokens.mjs) >"$TMP/op-tokens.log" 2>&1 &
      CR_WRAPPER[op-tokens]=$!
      CR_PORT[op-tokens]="$OP_TOKENS_PORT"
      for _ in $(seq 1 100); do
        curl -sf -m 2 "http://127.0.0.1:$OP_TOKENS_PORT/.well-known/openid-configuration" >/dev/null 2>&1 && return 0
        kill -0 "${CR_WRAPPER[op-tokens]}" 2>/dev/null || break
        sleep 0.2
      done
      log "node-oidc-provider (token phases) did not start:"
      cat "$TMP/op-tokens.log" >&2
      return 1 ;;
    hydra*) start_server "$1" ;;
    bare)
      (cd "$(dirname "$0")/bare" && go build -o "$TMP/bare" .)
      timeout "$SERVER_TIMEOUT" "$TMP/bare" -addr "127.0.0.1:$BARE_PORT" 2>"$TMP/bare.log" &
      CR_WRAPPER[bare]=$!
      CR_PORT[bare]="$BARE_PORT"
      for _ in $(seq 1 100); do
        grep -q '^listening on' "$TMP/bare.log" 2>/dev/null && return 0
        sleep 0.1
      done
      log "bare did not start:"
      cat "$TMP/bare.log" >&2
      return 1 ;;
    *) log "unknown token server $1"; return 1 ;;
  esac
}
stop_token_server() {
  case "$1" in
    bare) stop_cr bare ;;
    clientreg) stop_cr clientreg-tokens ;;
    op-open) stop_cr op-tokens ;;
    hydra*) stop_server "$1" ;;
  esac
}

if [ -n "$TOKEN_SERVERS" ]; then
  for s in $TOKEN_SERVERS; do
    start_token_server "$s"
    log "$s (token phases): up at $(token_base "$s") (pid $(token_pid "$s")); warm-up"
    # shellcheck disable=SC2046 # token_args is words by design
    timeout 300 "$BENCH" -base "$(token_base "$s")" -c 4 -d 60s -q "${TOKEN_ARGS[@]}" -n "$WARMUP" $(token_args "$s") >/dev/null || true
  done
  for r in $(seq 1 "$REPS"); do
    for s in $TOKEN_SERVERS; do
      # shellcheck disable=SC2046
      measure_run "$s" "$s" "$OUT/$s-tokens-r$r.json" "$(token_base "$s")" "$(token_pid "$s")" "${TOKEN_ARGS[@]}" $(token_args "$s")
    done
  done
  for s in $TOKEN_SERVERS; do stop_token_server "$s"; done
fi

log "results in $OUT; chart and tables: go run ./tools/perf/chart -dir $OUT -md (-svg docs/perf-chart.svg to update the chart of docs/performance.md)"
