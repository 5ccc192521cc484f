#!/usr/bin/env bash
# Flat with size: every phase of clientreg (register, read, update, delete;
# token, introspect, code, refresh) with 1,000 and with 1,000,000 clients
# and live refresh tokens stored, and the server's resident memory. See
# docs/performance.md. The target: at 1,000,000 every phase's p99 within
# 1.5x of its figure at 1,000, and the server's resident memory under 100 MB.
#
#   NICE=-10 tools/perf/scale.sh
#   go run ./tools/perf/summarize -dir perf-results/scale \
#     -ratio 1m-sample/1k-sample,1m-fresh/1k-fresh,1m-tokens/1k-tokens -p99-limit 1.5 -hwm-limit-mb 100
#
# Two servers, each on its own default SQLite store (default durability,
# database files on the local disk, in a temporary directory unless DBDIR
# is set): "1k" holds SMALL clients and SMALL grants, "1m" LARGE of each.
# Both run `clientreg serve --rate-limits=false --login header
# --login-header X-Forwarded-User --trusted-proxy 127.0.0.1/32
# --consent-ttl 0`, the flags of run.sh's token phases, for every phase.
#
# Population: seeded, not registered over HTTP. tools/perf/seed writes the
# clients (through clientreg's Handler.Register, under the server's key) and
# the grants, each with one live refresh token, held by nobody, and one
# access token (through the store contract, as the token endpoint writes
# them) into the database before a server opens it: 1,000,000 grants over
# HTTP would take about an hour, the seed tool takes minutes. It seeds in
# chunks of POP_CHUNK clients and as many grants; after each chunk a server
# is started on the database and registers POP_PROBE new clients over HTTP
# (pop-NAME-SEEDED.json: the registration rate and latency as the tables
# grow; POP_PROBE=0 skips it), and is stopped. The clients registered by
# the seed tool are public clients of an MCP kind (BODY: a loopback
# redirect URI, authorization_code and refresh_token, no secret); the grants
# go round-robin to them. The seed tool also writes a random sample of them
# (with their registration access tokens) for the sample runs.
#
# Then both servers are started on their full databases (so their memory
# figures are those of a process serving the full database from its start),
# warmed up (WARMUP registration cycles and WARMUP token-phase requests),
# and measured REPS times, run by run, the two sizes alternating (1k, then
# 1m, in each run), with
#
#   sample: read and update (N requests each, C clients) of SAMPLE seeded
#           clients (the update sends BODY with client_name changed): at 1m
#           a fresh random sample per run, disjoint from the others; at 1k
#           the same SAMPLE clients each run (their rotated tokens carried
#           over, and each client read once, unmeasured, after a run: the
#           first use of a rotated token retires the previous one, a write,
#           which a read of a client never updated does not do). Each client
#           is read N/SAMPLE times.
#   fresh:  the usual four phases (register N new clients, read, update and
#           delete them), for register and delete at that size.
#   tokens: token, introspect, code, refresh (TOKEN_N requests each, C
#           clients), as run.sh measures them: -scope read -resource
#           https://mcp.example/ -login-header X-Forwarded-User. These add
#           rows: each run about TOKEN_N grants (one per code flow, each
#           with a refresh token) and 3 * TOKEN_N access tokens (token,
#           code, refresh), the warm-up a share of WARMUP; so the "1k"
#           server ends with about SMALL + REPS * TOKEN_N grants, and
#           rows.tsv has the counts at the end. The default TOKEN_N=N keeps
#           that small (run.sh uses 10000).
#
# Writes to OUT: the JSON report of every run (1k-sample-rN.json,
# 1m-fresh-rN.json, 1m-tokens-rN.json, ...), the registration probes'
# reports (pop-NAME-SEEDED.json), seed.tsv (seconds per seeded chunk),
# runs.tsv (CPU and memory per run), memory.tsv (VmHWM and VmRSS of each
# server at each step, and the database size), rows.tsv (the rows of the
# main tables at the end, when sqlite3 is installed), machine.txt, run.log.
#
# Env (besides lib.sh's): SMALL=1000 LARGE=1000000 SAMPLE=1000
#   POP_CHUNK=100000 POP_PROBE=2000 SEED_C=4 (the seed tool's writers)
#   TOKEN_N=N TOKEN_PHASES=token,introspect,code,refresh TOKEN_SCOPE=read
#   TOKEN_RESOURCE=https://mcp.example/ TOKEN_CLIENTS=1
#   PORT_SMALL=18091 PORT_LARGE=18092 OUT=perf-results/scale
#   DBDIR=a directory on the disk to measure (default: the temporary
#   directory, under /tmp; 1,000,000 of each take about 1.5 GB)
#   SEED_BIN=path (a seed binary instead of building ./tools/perf/seed; it
#   writes this tree's schema, which CLIENTREG_BIN must accept)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

SMALL="${SMALL:-1000}"
LARGE="${LARGE:-1000000}"
SAMPLE="${SAMPLE:-1000}"
POP_CHUNK="${POP_CHUNK:-100000}"
POP_PROBE="${POP_PROBE:-2000}"
SEED_C="${SEED_C:-4}"
TOKEN_N="${TOKEN_N:-$N}"
TOKEN_PHASES="${TOKEN_PHASES:-token,introspect,code,refresh}"
TOKEN_SCOPE="${TOKEN_SCOPE:-read}"
TOKEN_RESOURCE="${TOKEN_RESOURCE:-https://mcp.example/}"
TOKEN_CLIENTS="${TOKEN_CLIENTS:-1}"
PORT_SMALL="${PORT_SMALL:-18091}"
PORT_LARGE="${PORT_LARGE:-18092}"
OUT="${OUT:-$PERF_RESULTS/scale}"
SEED="${SEED_BIN:-$TMP/seed}"
LOGIN_HEADER=X-Forwarded-User

if [ "$SAMPLE" -gt "$SMALL" ] || [ $((REPS * SAMPLE)) -gt "$LARGE" ] || [ "$POP_CHUNK" -lt 1 ]; then
  log "want SAMPLE <= SMALL, REPS * SAMPLE <= LARGE (disjoint samples) and POP_CHUNK >= 1"
  exit 1
fi
use_dbdir scale
open_out

build_bins
if [ -z "${SEED_BIN:-}" ]; then
  log "building seed from $ROOT"
  (cd "$ROOT" && go build -o "$SEED" ./tools/perf/seed)
fi
CR_FLAGS=(--rate-limits=false --login header --login-header "$LOGIN_HEADER" --trusted-proxy 127.0.0.1/32 --consent-ttl 0)
TOKEN_ARGS=(-phases "$TOKEN_PHASES" -scope "$TOKEN_SCOPE" -resource "$TOKEN_RESOURCE" -token-clients "$TOKEN_CLIENTS" -login-header "$LOGIN_HEADER")
# What the seed tool registers, and what the sample runs' updates send.
BODY="$TMP/body.json"
echo '{"client_name":"seeded client","redirect_uris":["http://127.0.0.1:9/callback"],"grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"none"}' >"$BODY"
machine_info "clientreg serve flags: --db $DBDIR/NAME.db ${CR_FLAGS[*]}" \
  "db filesystem: $(db_fs)" \
  "scale: SMALL=$SMALL LARGE=$LARGE (clients and grants, seeded) SAMPLE=$SAMPLE POP_CHUNK=$POP_CHUNK POP_PROBE=$POP_PROBE SEED_C=$SEED_C" \
  "seeded clients: $(cat "$BODY")" \
  "token phases: clientreg-bench -n $TOKEN_N ${TOKEN_ARGS[*]}" >"$OUT/machine.txt"
cat "$OUT/machine.txt" >&2
: >"$OUT/runs.tsv"
printf 'server\tstep\tseeded\tvmhwm_mb\tvmrss_mb\tdb_mb\n' >"$OUT/memory.tsv"
printf 'server\tchunk\tclients\tgrants\tseconds\n' >"$OUT/seed.tsv"

declare -A SIZE=([1k]="$SMALL" [1m]="$LARGE")
declare -A PORT=([1k]="$PORT_SMALL" [1m]="$PORT_LARGE")
# How many seeded clients each size's sample runs use, in all.
declare -A WANT=([1k]="$SAMPLE" [1m]="$((REPS * SAMPLE))")

db_mb() { du -cm "$DBDIR/$1.db"* | awk 'END {print $1}'; }
record_mem() { # NAME STEP SEEDED
  printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$(mem "$1" | tr ' ' '\t')" "$(db_mb "$1")" >>"$OUT/memory.tsv"
}
start_size() { start_cr "$1" "${PORT[$1]}" --db "$DBDIR/$1.db" "${CR_FLAGS[@]}"; }

# populate NAME: seeds SIZE[NAME] clients and as many grants, in chunks,
# each followed by a registration probe; the chunks' shares of the sample
# go to $TMP/NAME-part-K.jsonl.
populate() {
  local name="$1" size="${SIZE[$1]}" seeded=0 k=0 n share t0
  while [ "$seeded" -lt "$size" ]; do
    k=$((k + 1))
    n=$((size - seeded < POP_CHUNK ? size - seeded : POP_CHUNK))
    share=$(((${WANT[$name]} * n + size - 1) / size))
    t0=$(date +%s.%N)
    timeout "$SERVER_TIMEOUT" "$SEED" -db "$DBDIR/$name.db" -clients "$n" -grants "$n" -c "$SEED_C" \
      -issuer "http://127.0.0.1:${PORT[$name]}" -body "$BODY" -clients-out "$TMP/$name-part-$k.jsonl" -sample "$share"
    seeded=$((seeded + n))
    printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$k" "$n" "$n" "$(awk -v t0="$t0" -v t1="$(date +%s.%N)" 'BEGIN {printf "%.1f", t1 - t0}')" >>"$OUT/seed.tsv"
    log "$name: $seeded clients and grants seeded ($(db_mb "$name") MB)"
    if [ "$POP_PROBE" -gt 0 ]; then
      start_size "$name"
      measure "pop-$name-$seeded" "$OUT/pop-$name-$seeded.json" "$OUT/runs.tsv" "$name" -- -phases register -n "$POP_PROBE"
      log "$name: registration at $seeded: $(jq -r '.phases[0] | "\(.rps) req/s, p99 \(.p99_ms) ms"' "$OUT/pop-$name-$seeded.json"); server $(mem "$name" | awk '{print "VmHWM " $1 " MB, VmRSS " $2 " MB"}')"
      record_mem "$name" "register probe after seeding $seeded" "$seeded"
      stop_cr "$name"
    fi
  done
}

for name in 1k 1m; do
  log "$name: seeding ${SIZE[$name]} clients and ${SIZE[$name]} grants"
  t0=$SECONDS
  populate "$name"
  log "$name: populated in $((SECONDS - t0)) s"
done

# The samples: for 1m, REPS disjoint random samples of SAMPLE clients; for
# 1k, SAMPLE clients, carried from run to run. The seed tool picked them at
# random within each chunk; shuf (fixed seed) mixes the chunks.
for name in 1k 1m; do
  cat "$TMP/$name"-part-*.jsonl | shuf --random-source=<(yes) -n "${WANT[$name]}" >"$TMP/$name-samples.jsonl"
done
for r in $(seq 1 "$REPS"); do
  sed -n "$(((r - 1) * SAMPLE + 1)),$((r * SAMPLE))p" "$TMP/1m-samples.jsonl" >"$TMP/1m-sample-$r.jsonl"
done
cp "$TMP/1k-samples.jsonl" "$TMP/1k-sample-1.jsonl"

for name in 1k 1m; do
  start_size "$name"
  record_mem "$name" "started on the seeded database" "${SIZE[$name]}"
  warm "$name"
  timeout 300 "$BENCH" -base "$(cr_base "$name")" -c 4 -d 60s -q -n "$WARMUP" "${TOKEN_ARGS[@]}" >/dev/null || true
  record_mem "$name" "after warm-up" "${SIZE[$name]}"
done

for r in $(seq 1 "$REPS"); do
  for name in 1k 1m; do
    log "$name run $r: read and update of $SAMPLE seeded clients"
    measure "$name-sample" "$OUT/$name-sample-r$r.json" "$OUT/runs.tsv" "$name" -- \
      -n "$N" -phases read,update -body "$BODY" -clients-in "$TMP/$name-sample-$r.jsonl" -clients-out "$TMP/$name-after-$r.jsonl"
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
    log "$name run $r: $TOKEN_PHASES"
    measure "$name-tokens" "$OUT/$name-tokens-r$r.json" "$OUT/runs.tsv" "$name" -- -n "$TOKEN_N" "${TOKEN_ARGS[@]}"
  done
done

for name in 1k 1m; do
  record_mem "$name" "after the measured runs" "${SIZE[$name]}"
  stop_cr "$name"
done
# The rows the runs left (the token phases add grants and access tokens).
if command -v sqlite3 >/dev/null; then
  printf 'server\tclients\tgrants\trefresh_tokens\taccess_tokens\n' >"$OUT/rows.tsv"
  for name in 1k 1m; do
    printf '%s\t%s\n' "$name" "$(sqlite3 -readonly -separator $'\t' "$DBDIR/$name.db" \
      'SELECT (SELECT count(*) FROM clients), (SELECT count(*) FROM grants), (SELECT count(*) FROM refresh_tokens), (SELECT count(*) FROM access_tokens)' 2>&1)" >>"$OUT/rows.tsv"
  done
  cat "$OUT/rows.tsv" >&2
fi
cat "$OUT/memory.tsv" >&2
log "results in $OUT; tables: go run ./tools/perf/summarize -dir $OUT -ratio 1m-sample/1k-sample,1m-fresh/1k-fresh,1m-tokens/1k-tokens -p99-limit 1.5 -hwm-limit-mb 100"
