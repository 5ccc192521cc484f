#!/usr/bin/env bash
# clientreg on PostgreSQL: one instance against two instances on one
# database, in one run. See docs/performance.md.
#
#   NICE=-10 tools/perf/pg.sh
#
# Creates the database PGDB (dropped first if it exists, and dropped again
# on exit) on the PostgreSQL server PGHOST:PGPORT as PGUSER (through psql),
# starts two `clientreg serve` instances on 127.0.0.1 that share it, the
# same --secret-key-file and the same --issuer (the first's URL), warms both
# up, and measures REPS times, alternating which goes first:
#
#   one: the four phases (N requests, C clients) against the first instance
#        (the second is idle);
#   two: the same against both, clientreg-bench spreading the requests
#        round-robin (-base A -base B; discovery from A).
#
# Each instance uses the store's default connection pool (pgxpool: the
# greater of 4 and the number of CPUs) unless PG_POOL sets pool_max_conns.
#
# Writes to OUT: one-rN.json, two-rN.json, runs.tsv (extra_cpu_s is the CPU
# of the postgres processes), machine.txt and run.log.
#
# Env (besides lib.sh's): PGHOST=127.0.0.1 PGPORT=5432 PGUSER=postgres
#   PGDB=clientreg_perf PG_POOL= PORT_A=18095 PORT_B=18096 OUT=perf-results/pg
set -euo pipefail
. "$(dirname "$0")/lib.sh"

PGHOST="${PGHOST:-127.0.0.1}"
PGPORT="${PGPORT:-5432}"
PGUSER="${PGUSER:-postgres}"
PGDB="${PGDB:-clientreg_perf}"
PG_POOL="${PG_POOL:-}"
PORT_A="${PORT_A:-18095}"
PORT_B="${PORT_B:-18096}"
OUT="${OUT:-$PERF_RESULTS/pg}"
export PGHOST PGPORT PGUSER
open_out

case "$PGDB" in *[!a-z0-9_]*) log "PGDB must be a plain lower-case name"; exit 2 ;; esac
psql_admin() { timeout 60 psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "$1"; }
psql_admin "DROP DATABASE IF EXISTS $PGDB WITH (FORCE)"
psql_admin "CREATE DATABASE $PGDB"
EXTRA_CLEANUP="psql_admin 'DROP DATABASE IF EXISTS $PGDB WITH (FORCE)' && log 'dropped database $PGDB'"

build_bins
DSN="postgres://$PGUSER@$PGHOST:$PGPORT/$PGDB?sslmode=disable${PG_POOL:+&pool_max_conns=$PG_POOL}"
ISSUER="http://127.0.0.1:$PORT_A"
CR_FLAGS=(--rate-limits=false --db "$DSN" --secret-key-file "$TMP/server.key" --issuer "$ISSUER")
machine_info "postgresql: $(timeout 30 psql -X -At -d postgres -c 'SHOW server_version') at $PGHOST:$PGPORT, database $PGDB" \
  "postgresql settings: $(timeout 30 psql -X -At -d postgres -c "SELECT string_agg(name || '=' || setting, ' ') FROM pg_settings WHERE name IN ('synchronous_commit','fsync','shared_buffers','max_connections','wal_level')")" \
  "clientreg serve flags: ${CR_FLAGS[*]} (two instances, ports $PORT_A and $PORT_B)" >"$OUT/machine.txt"
cat "$OUT/machine.txt" >&2
: >"$OUT/runs.tsv"

# The CPU of every postgres process (the server's backends among them).
pg_jiffies() {
  local j=0 p
  for p in $(pgrep -x postgres); do j=$((j + $(proc_jiffies "$p"))); done
  echo "$j"
}
EXTRA_JIFFIES_CMD=pg_jiffies

start_cr a "$PORT_A" "${CR_FLAGS[@]}"
start_cr b "$PORT_B" "${CR_FLAGS[@]}"
warm a b
for r in $(seq 1 "$REPS"); do
  order="one two"
  [ $((r % 2)) -eq 0 ] && order="two one"
  for what in $order; do
    log "$what instance(s), run $r"
    if [ "$what" = one ]; then
      measure one "$OUT/one-r$r.json" "$OUT/runs.tsv" a -- -n "$N"
    else
      measure two "$OUT/two-r$r.json" "$OUT/runs.tsv" a b -- -n "$N"
    fi
  done
done
stop_cr a
stop_cr b
log "results in $OUT; tables: go run ./tools/perf/summarize -dir $OUT -ratio two/one"
