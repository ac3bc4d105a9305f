#!/usr/bin/env bash
# The benchmark of issue 6: loopback load on the hot paths, every response checked.
#
#   bench/run.sh [--postgres] [--scale] [--peers] [--duration S] [--conns "64 256"]
#                [--only "b d"] [--wrk-sched batch|normal]
#
# Installs wrk (Debian) when missing, builds the release binary, starts the server on
# a fresh SQLite database (PostgreSQL with --postgres), seeds it (1 M users and 10 M
# tokens with --scale, by bulk inserts), then for each scenario runs a 2 s warm-up and
# a measured run per connection count, sampling the server's RSS and CPU. Each
# scenario's ratio to (a) is taken against (a) measured again right before it, and
# with --peers node-oidc-provider (bench/peer) is measured right after (b), (c) RS256
# and (d): these machines' speed drifts within a run (docs/benchmark-ceiling.md).
# Prints a Markdown table.
#
# wrk runs under the SCHED_BATCH policy unless --wrk-sched normal: on the cores it
# shares with the server, its threads then do not preempt the server's on every
# response they are woken for (docs/load-generator.md).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ARGS="$*"
DURATION=10 CONNS="64 256" POSTGRES="" SCALE="" PEERS="" ONLY="" WRK_SCHED=batch
while [ $# -gt 0 ]; do
  case "$1" in
    --postgres) POSTGRES=1 ;;
    --scale) SCALE=1 ;;
    --peers) PEERS=1 ;;
    --duration) DURATION=$2; shift ;;
    --conns) CONNS=$2; shift ;;
    --only) ONLY=$2; shift ;; # scenario letters, e.g. "a d e" (ratios to (a) need a among them)
    --wrk-sched) WRK_SCHED=$2; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
THREADS=2
export BENCH_LUA="$ROOT/bench/lua" THREADS

command -v wrk >/dev/null || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk; }
case "$WRK_SCHED" in
  batch) command -v chrt >/dev/null || { echo "chrt (util-linux) is needed" >&2; exit 1; }
         WRK=(chrt --batch 0 wrk) ;;
  normal) WRK=(wrk) ;;
  *) echo "--wrk-sched is batch or normal" >&2; exit 2 ;;
esac
command -v openssl >/dev/null || { echo "openssl is needed" >&2; exit 1; }
cargo build --release --locked --bin usercenter --example bench_seed
BIN="$ROOT/target/release/usercenter"

WORK=$(mktemp -d)
SERVER_PID="" PEER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  [ -n "$PEER_PID" ] && kill "$PEER_PID" 2>/dev/null || true
  [ -n "$POSTGRES" ] && psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS uc_bench WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

export USERCENTER_SECRET_KEY=$(openssl rand -hex 32)
export USERCENTER_MAIL="$WORK/mail" USERCENTER_SMS="$WORK/sms" USERCENTER_LOG=info
if [ -n "$POSTGRES" ]; then
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS uc_bench WITH (FORCE)" >/dev/null
  export USERCENTER_DATABASE_URL="postgres://postgres@127.0.0.1:5432/uc_bench"
  BACKEND=PostgreSQL
else
  export USERCENTER_DATABASE_URL="sqlite://$WORK/bench.db"
  BACKEND=SQLite
fi

echo "seeding ($BACKEND${SCALE:+, 1 M users and 10 M tokens})…" >&2
SEED_ARGS=(--refresh 600000) # 4 regions: 2 connection counts × (warm-up + run)
[ -n "$SCALE" ] && SEED_ARGS+=(--users 1000000 --tokens 10000000)
BENCH_REFRESH_FILE="$WORK/refresh.txt" "$ROOT/target/release/examples/bench_seed" "${SEED_ARGS[@]}" > "$WORK/seed.env"
set -a; . "$WORK/seed.env"; set +a
# Settle PostgreSQL after the bulk load: otherwise autovacuum and the checkpoint of the
# seed run during the first scenarios and take their cores.
[ -n "$POSTGRES" ] && psql -h 127.0.0.1 -U postgres -d uc_bench -qc "VACUUM ANALYZE" -c "CHECKPOINT" >&2

USERCENTER_BIND=127.0.0.1:0 "$BIN" serve 2> "$WORK/server.log" &
SERVER_PID=$!
for _ in $(seq 1 100); do grep -q "listening on" "$WORK/server.log" && break; sleep 0.1; done
BASE=$(grep -o "listening on http://[0-9.:]*" "$WORK/server.log" | head -n1 | sed 's/listening on //')
[ -n "$BASE" ] || { cat "$WORK/server.log" >&2; exit 1; }

basic() { printf '%s:%s' "$1" "$2" | base64 -w0; }
AUTH=$(basic "$CLIENT_ID" "$CLIENT_SECRET")
json_field() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p"; }
field() { local kv; for kv in $1; do [ "${kv%%=*}" = "$2" ] && echo "${kv#*=}"; done; return 0; } # field "k=v …" k
CC_TOKEN=$(curl -s -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=client_credentials "$BASE/oauth/token" | json_field access_token)
# A user's token for the resource API, through the code flow with the seeded session.
VERIFIER=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk CHALLENGE=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM
CODE=$(curl -s -o /dev/null -w '%{redirect_url}' -b "uc_session=$SESSION" \
  "$BASE/oauth/authorize?response_type=code&client_id=$CLIENT_ID&redirect_uri=http%3A%2F%2F127.0.0.1%2Fcb&scope=openid%20profile&code_challenge=$CHALLENGE&code_challenge_method=S256" |
  sed -n 's/.*[?&]code=\([^&]*\).*/\1/p')
USER_TOKEN=$(curl -s -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=authorization_code -d "code=$CODE" \
  -d redirect_uri=http://127.0.0.1/cb -d "code_verifier=$VERIFIER" "$BASE/oauth/token" | json_field access_token)
[ -n "$CC_TOKEN" ] && [ -n "$USER_TOKEN" ] || { echo "could not obtain the scenario tokens" >&2; exit 1; }

# rss_cpu PID START_TICKS: the peak RSS (MB) sampled during the run, and the CPU
# (cores) used since START_TICKS.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# The CPU ticks of every PostgreSQL process, with the exited children they reaped
# (autovacuum workers), so the sum only grows; 0 on SQLite. The database shares the cores.
db_ticks() {
  [ -n "$POSTGRES" ] || { echo 0; return; }
  # A process may exit between pgrep and cat (an autovacuum worker): not an error.
  local p; for p in $(pgrep -x postgres); do cat "/proc/$p/stat" 2>/dev/null || true; done | awk '{t += $14 + $15 + $16 + $17} END {print t + 0}'
}
sample_rss() { # PID OUTFILE: writes the max VmRSS (kB) seen until killed
  local max=0 v
  while true; do
    v=$(awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0)
    [ "${v:-0}" -gt "$max" ] && max=$v && echo "$max" > "$2"
    sleep 0.2
  done
}

# wanted NAME: whether --only asks for this scenario (its letter, after any "peer ").
wanted() {
  local letter=${1#peer }
  [ -z "$ONLY" ] || [[ " $ONLY " == *" ${letter%% *} "* ]]
}

RESULTS="$WORK/results.tsv"
CEILING="" # the req/s of the latest (a) run, the ratio's denominator for the next rows
RUN_NO=0
SPENT=0 # refresh tokens handed to earlier runs
REGION=150000 # refresh tokens per run: a warm-up and a measured run per connection count
: > "$RESULTS"
# run NAME TARGET_PID URL SCRIPT CONNS [ENV…]
run() {
  local name=$1 pid=$2 url=$3 script=$4 conns=$5; shift 5
  wanted "$name" || return 0
  local warm
  # Each refresh run (warm-up or measured) gets a region of tokens of its own.
  warm=$(env REFRESH_SKIP="$SPENT" REFRESH_REGION="$REGION" "$@" "${WRK[@]}" -t$THREADS -c"$conns" -d2s -s "$BENCH_LUA/$script" "$url" 2>&1 | grep '^RESULT' || true)
  [ "$script" = refresh.lua ] && SPENT=$((SPENT + REGION))
  RUN_NO=$((RUN_NO + 1))
  local t0 d0 rssf="$WORK/rss.$RUN_NO" sampler
  echo 0 > "$rssf"
  sample_rss "$pid" "$rssf" & sampler=$!
  t0=$(ticks "$pid") d0=$(db_ticks)
  local out
  out=$(env REFRESH_SKIP="$SPENT" REFRESH_REGION="$REGION" "$@" "${WRK[@]}" -t$THREADS -c"$conns" -d"${DURATION}s" --latency -s "$BENCH_LUA/$script" "$url" 2>&1 | grep '^RESULT' || true)
  [ "$script" = refresh.lua ] && SPENT=$((SPENT + REGION))
  local cpu
  cpu=$(awk -v a="$t0" -v b="$(ticks "$pid")" -v da="$d0" -v db="$(db_ticks)" -v d="$DURATION" -v hz="$(getconf CLK_TCK)" \
    'BEGIN {printf "%.2f", (b - a) / hz / d; if (db > da) printf " + db %.2f", (db - da) / hz / d}')
  kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true
  [ "$name" = "a healthz" ] && CEILING=$(field "${out#RESULT }" rps)
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$conns" "${out#RESULT }" "$(( $(cat "$rssf") / 1024 ))" "$cpu" "$CEILING" >> "$RESULTS"
  echo "$name c=$conns ${out#RESULT } rss=$(( $(cat "$rssf") / 1024 ))MB cpu=$cpu" >&2
}

# ceiling CONNS: (a) again, unless --only leaves it out: the next rows' ratios are
# taken against it, measured beside them rather than minutes before.
ceiling() {
  wanted a || return 0
  local out
  out=$("${WRK[@]}" -t$THREADS -c"$1" -d"${DURATION}s" -s "$BENCH_LUA/healthz.lua" "$BASE" 2>&1 | grep '^RESULT' || true)
  CEILING=$(field "${out#RESULT }" rps)
  echo "  (a) beside c=$1: ${CEILING:-none} req/s" >&2
}
# scenario NAME CONNS SCRIPT [ENV…]: the ceiling, then the scenario on this server.
scenario() {
  local name=$1 conns=$2 script=$3; shift 3
  wanted "$name" || return 0
  ceiling "$conns"
  run "$name" "$SERVER_PID" "$BASE" "$script" "$conns" "$@"
}

PAUTH=""
if [ -n "$PEERS" ] && { wanted "peer b" || wanted "peer c" || wanted "peer d"; }; then
  "$ROOT/bench/peer/install.sh" >&2
  PORT=3100 NODE_ENV=production node "$ROOT/bench/peer/server.js" > "$WORK/peer.log" 2>&1 &
  PEER_PID=$!
  for _ in $(seq 1 100); do curl -sf http://127.0.0.1:3100/.well-known/openid-configuration > /dev/null && break; sleep 0.1; done
  PAUTH=$(basic bench bench-secret)
fi
# peer LETTER CONNS: the peer's same scenario, right after ours.
peer() {
  [ -n "$PAUTH" ] || return 0
  case "$1" in
    b) run "peer b client_credentials opaque" "$PEER_PID" http://127.0.0.1:3100 client_credentials.lua "$2" AUTH="$PAUTH" TOKEN_PATH=/token TOKEN_BODY="grant_type=client_credentials&scope=api" ;;
    c) run "peer c client_credentials JWT RS256" "$PEER_PID" http://127.0.0.1:3100 client_credentials.lua "$2" AUTH="$PAUTH" TOKEN_PATH=/token TOKEN_BODY="grant_type=client_credentials&scope=api&resource=urn%3Abench%3Ajwt" ;;
    d) # The peer's in-memory store forgets old tokens: fetch one right before (d).
       wanted "peer d" || return 0
       local token
       token=$(curl -s -u bench:bench-secret -d grant_type=client_credentials -d scope=api http://127.0.0.1:3100/token | json_field access_token)
       run "peer d introspection" "$PEER_PID" http://127.0.0.1:3100 introspect.lua "$2" AUTH="$PAUTH" TOKEN="$token" INTROSPECT_PATH=/token/introspection ;;
  esac
}

for c in $CONNS; do
  run "a healthz" "$SERVER_PID" "$BASE" healthz.lua "$c"
  scenario "b client_credentials opaque" "$c" client_credentials.lua AUTH="$AUTH"
  peer b "$c"
  scenario "c client_credentials JWT ES256" "$c" client_credentials.lua AUTH="$(basic "$JWT_ES256_ID" "$JWT_ES256_SECRET")"
  scenario "c client_credentials JWT EdDSA" "$c" client_credentials.lua AUTH="$(basic "$JWT_EDDSA_ID" "$JWT_EDDSA_SECRET")"
  scenario "c client_credentials JWT RS256" "$c" client_credentials.lua AUTH="$(basic "$JWT_RS256_ID" "$JWT_RS256_SECRET")"
  peer c "$c"
  scenario "d introspection" "$c" introspect.lua AUTH="$AUTH" TOKEN="$CC_TOKEN"
  peer d "$c"
  scenario "e GET /api/user" "$c" api_user.lua TOKEN="$USER_TOKEN"
  scenario "f refresh rotation" "$c" refresh.lua AUTH="$AUTH" REFRESH_FILE="$REFRESH_FILE"
  scenario "g code flow (2 requests/flow)" "$c" authcode.lua AUTH="$AUTH" CLIENT_ID="$CLIENT_ID" SESSION="$SESSION"
done

# (h): logins saturate the hashing pool while (b) runs; (b)'s latency is what counts.
if wanted h; then
  ceiling 64
  env USER_LOGIN="$USER_LOGIN" USER_PASSWORD="$USER_PASSWORD" "${WRK[@]}" -t1 -c16 -d"$((DURATION + 4))s" -s "$BENCH_LUA/login.lua" "$BASE" > "$WORK/login.out" 2>&1 &
  LOGIN_PID=$!
  sleep 1
  run "h b while logins run" "$SERVER_PID" "$BASE" client_credentials.lua 64 AUTH="$AUTH"
  wait "$LOGIN_PID" || true
  echo "logins: $(grep '^RESULT' "$WORK/login.out" || echo none)" >&2
fi

# The table: one row per scenario and connection count, with ratios to (a) measured
# right before it and to the peer's same scenario measured right after it.
echo
echo "$(date -u +%Y-%m-%d) · $BACKEND${SCALE:+ · scale (1 M users, 10 M tokens)} · ${DURATION} s per run · \`bench/run.sh${ARGS:+ $ARGS}\`"
echo
awk -F'\t' '
  function v(s, k,   a, i, n) { n = split(s, a, " "); for (i = 1; i <= n; i++) if (index(a[i], k "=") == 1) return substr(a[i], length(k) + 2); return "" }
  { name[NR] = $1; conns[NR] = $2; res[NR] = $3; rss[NR] = $4; cpu[NR] = $5; ceil[NR] = $6; rps[NR] = v($3, "rps")
    if ($1 ~ /^peer /) { key = substr($1, 6); sub(/^[a-h] /, "", key); peer[key "|" $2] = v($3, "rps") } }
  END {
    print "| scenario | conns | req/s | p50 ms | p99 ms | errors | RSS MB | CPU cores | (a) beside | vs (a) | vs peer |"
    print "|---|---|---|---|---|---|---|---|---|---|---|"
    for (i = 1; i <= NR; i++) {
      mine = name[i] !~ /^peer /
      ra = (mine && ceil[i] > 0) ? sprintf("%.0f %%", 100 * rps[i] / ceil[i]) : "–"
      ca = (mine && ceil[i] > 0) ? ceil[i] : "–"
      pk = name[i]; sub(/^[a-h] /, "", pk)
      if (pk == "client_credentials JWT ES256" || pk == "client_credentials JWT EdDSA") pk = "client_credentials JWT RS256"
      rp = (peer[pk "|" conns[i]] > 0 && mine) ? sprintf("%.1f×", rps[i] / peer[pk "|" conns[i]]) : "–"
      printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", name[i], conns[i], rps[i], v(res[i], "p50_ms"), v(res[i], "p99_ms"), v(res[i], "errors"), rss[i], cpu[i], ca, ra, rp
    }
  }' "$RESULTS"
