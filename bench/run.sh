#!/usr/bin/env bash
# The benchmark of issue 6: loopback load on the hot paths, every response checked.
#
#   bench/run.sh [--postgres] [--scale] [--peers] [--beside BINARY] [--duration S]
#                [--conns "64 256"] [--only "b d"] [--wrk-sched batch|normal]
#
# Installs wrk (Debian) when missing, builds the release binary, starts the server on
# a fresh SQLite database (PostgreSQL with --postgres), seeds it (1 M users and 10 M
# tokens with --scale, by bulk inserts), then for each scenario runs a 2 s warm-up and
# a measured run per connection count, sampling the server's RSS and CPU. Each
# scenario's ratio to (a) is taken against (a) measured again right before it. With
# --scale a second server runs on an empty database; with --beside BINARY a second
# server runs that binary (another build of usercenter, to measure a change) on a
# fresh database seeded alike; and with --peers
# node-oidc-provider (bench/peer) serves (b), (c) RS256 and (d): each scenario is then
# measured on every server in alternating rounds (ours, empty, peer, peer, empty,
# ours), since these machines' speed drifts within a run (docs/benchmark-ceiling.md).
# The second server's rows are marked "· empty" or "· beside", and ours are compared
# with them in a last column.
# Prints a Markdown table.
#
# wrk runs under the SCHED_BATCH policy unless --wrk-sched normal: on the cores it
# shares with the server, its threads then do not preempt the server's on every
# response they are woken for (docs/load-generator.md).
set -euo pipefail
CALLED_FROM=$PWD
cd "$(dirname "$0")/.."
ROOT=$PWD
ARGS="$*"
DURATION=10 CONNS="64 256" POSTGRES="" SCALE="" PEERS="" BESIDE="" ONLY="" WRK_SCHED=batch
while [ $# -gt 0 ]; do
  case "$1" in
    --postgres) POSTGRES=1 ;;
    --scale) SCALE=1 ;;
    --peers) PEERS=1 ;;
    --beside) BESIDE=$(cd "$CALLED_FROM" && realpath "$2"); shift ;;
    --duration) DURATION=$2; shift ;;
    --conns) CONNS=$2; shift ;;
    --only) ONLY=$2; shift ;; # scenario letters, e.g. "a d e" (ratios to (a) need a among them)
    --wrk-sched) WRK_SCHED=$2; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$SCALE" ] && [ -n "$BESIDE" ] && { echo "--scale and --beside both need the second server" >&2; exit 2; }
[ -z "$BESIDE" ] || [ -x "$BESIDE" ] || { echo "--beside: $BESIDE is not an executable" >&2; exit 2; }
SECOND=$SCALE$BESIDE # a second server of ours, named E_
if [ -n "$SCALE" ]; then E_LABEL=empty; else E_LABEL=beside; fi
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
SERVER_PIDS=() PEER_PID=""
PG_DBS=(uc_bench uc_bench_empty uc_bench_beside)
drop_pg() { local db; for db in "${PG_DBS[@]}"; do psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true; done; }
cleanup() {
  local pid; for pid in "${SERVER_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -n "$PEER_PID" ] && kill "$PEER_PID" 2>/dev/null || true
  [ -n "$POSTGRES" ] && drop_pg
  rm -rf "$WORK"
}
trap cleanup EXIT

export USERCENTER_SECRET_KEY=$(openssl rand -hex 32) USERCENTER_LOG=info
if [ -n "$POSTGRES" ]; then
  drop_pg
  BACKEND=PostgreSQL
else
  BACKEND=SQLite
fi
# database_url NAME: a fresh database of the backend.
database_url() {
  if [ -n "$POSTGRES" ]; then echo "postgres://postgres@127.0.0.1:5432/$1"; else echo "sqlite://$WORK/$1.db"; fi
}

basic() { printf '%s:%s' "$1" "$2" | base64 -w0; }
json_field() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p"; }
field() { local kv; for kv in $1; do [ "${kv%%=*}" = "$2" ] && echo "${kv#*=}"; done; return 0; } # field "k=v …" k
var() { local n="$1$2"; printf '%s' "${!n}"; } # var PREFIX NAME: the value of $PREFIXNAME

# start_server PREFIX DATABASE [seed args…]: seeds a fresh database, starts a server on
# it (the binary START_BIN, else ours) and fetches the scenarios' tokens; sets
# PREFIX-named variables (S_BASE, S_PID, S_AUTH…) for the scenarios to run against it.
start_server() {
  local p=$1 url dir="$WORK/$2" bin=${START_BIN:-$BIN}; url=$(database_url "$2"); shift 2
  mkdir -p "$dir"
  # Refresh tokens for every (f) run: a warm-up and DURATION seconds per connection count.
  USERCENTER_DATABASE_URL="$url" BENCH_REFRESH_FILE="$dir/refresh.txt" \
    "$ROOT/target/release/examples/bench_seed" --refresh "$REFRESH_TOKENS" "$@" > "$dir/seed.env"
  # Settle PostgreSQL after the bulk load: otherwise autovacuum and the checkpoint of
  # the seed run during the first scenarios and take their cores.
  [ -n "$POSTGRES" ] && psql -h 127.0.0.1 -U postgres -d "${url##*/}" -qc "VACUUM ANALYZE" -c "CHECKPOINT" >&2
  local CLIENT_ID CLIENT_SECRET JWT_ES256_ID JWT_ES256_SECRET JWT_EDDSA_ID JWT_EDDSA_SECRET \
    JWT_RS256_ID JWT_RS256_SECRET SESSION USER_LOGIN LOGIN_USERS USER_PASSWORD REFRESH_FILE
  . "$dir/seed.env"
  USERCENTER_DATABASE_URL="$url" USERCENTER_MAIL="$dir/mail" USERCENTER_SMS="$dir/sms" \
    USERCENTER_BIND=127.0.0.1:0 "$bin" serve 2> "$dir/server.log" &
  local pid=$! base=""
  SERVER_PIDS+=("$pid")
  for _ in $(seq 1 100); do grep -q "listening on" "$dir/server.log" && break; sleep 0.1; done
  base=$(grep -o "listening on http://[0-9.:]*" "$dir/server.log" | head -n1 | sed 's/listening on //')
  [ -n "$base" ] || { cat "$dir/server.log" >&2; exit 1; }
  local cc code user
  cc=$(curl -s -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=client_credentials "$base/oauth/token" | json_field access_token)
  # A user's token for the resource API, through the code flow with the seeded session.
  local verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM
  code=$(curl -s -o /dev/null -w '%{redirect_url}' -b "uc_session=$SESSION" \
    "$base/oauth/authorize?response_type=code&client_id=$CLIENT_ID&redirect_uri=http%3A%2F%2F127.0.0.1%2Fcb&scope=openid%20profile&code_challenge=$challenge&code_challenge_method=S256" |
    sed -n 's/.*[?&]code=\([^&]*\).*/\1/p')
  user=$(curl -s -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=authorization_code -d "code=$code" \
    -d redirect_uri=http://127.0.0.1/cb -d "code_verifier=$verifier" "$base/oauth/token" | json_field access_token)
  [ -n "$cc" ] && [ -n "$user" ] || { echo "could not obtain the scenario tokens" >&2; exit 1; }
  printf -v "${p}BASE" '%s' "$base"
  printf -v "${p}PID" '%s' "$pid"
  printf -v "${p}AUTH" '%s' "$(basic "$CLIENT_ID" "$CLIENT_SECRET")"
  printf -v "${p}AUTH_ES256" '%s' "$(basic "$JWT_ES256_ID" "$JWT_ES256_SECRET")"
  printf -v "${p}AUTH_EDDSA" '%s' "$(basic "$JWT_EDDSA_ID" "$JWT_EDDSA_SECRET")"
  printf -v "${p}AUTH_RS256" '%s' "$(basic "$JWT_RS256_ID" "$JWT_RS256_SECRET")"
  printf -v "${p}CC_TOKEN" '%s' "$cc"
  printf -v "${p}USER_TOKEN" '%s' "$user"
  printf -v "${p}CLIENT_ID" '%s' "$CLIENT_ID"
  printf -v "${p}SESSION" '%s' "$SESSION"
  printf -v "${p}REFRESH_FILE" '%s' "$REFRESH_FILE"
  printf -v "${p}USER_LOGIN" '%s' "$USER_LOGIN"
  printf -v "${p}LOGIN_USERS" '%s' "$LOGIN_USERS"
  printf -v "${p}USER_PASSWORD" '%s' "$USER_PASSWORD"
}

REFRESH_PER_S=15000 # refresh tokens a run takes per second: more than (f) serves
REFRESH_TOKENS=$(($(wc -w <<< "$CONNS") * (2 + DURATION + 1) * REFRESH_PER_S))
echo "seeding ($BACKEND${SCALE:+, 1 M users and 10 M tokens})…" >&2
if [ -n "$SCALE" ]; then
  start_server S_ uc_bench --users 1000000 --tokens 10000000
  # With --scale, an empty database's server too: each scenario runs on both in
  # alternating rounds, so that the two are compared at the same moments of the machine.
  echo "seeding an empty database beside it…" >&2
  start_server E_ uc_bench_empty
else
  start_server S_ uc_bench
  if [ -n "$BESIDE" ]; then
    echo "seeding a database for $BESIDE beside it…" >&2
    START_BIN=$BESIDE start_server E_ uc_bench_beside
  fi
fi

# ticks PID: the CPU ticks the process has used.
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
declare -A SPENT # per server: refresh tokens handed to earlier runs
: > "$RESULTS"

# wrk_run PID URL SCRIPT CONNS SECONDS [ENV…]: one wrk run against the server of PID;
# prints its RESULT fields. A refresh run takes a region of tokens of its own.
wrk_run() {
  local pid=$1 url=$2 script=$3 conns=$4 secs=$5; shift 5
  local skip=${SPENT[$pid]:-0} region=$((secs * REFRESH_PER_S))
  [ "$script" = refresh.lua ] && SPENT[$pid]=$((skip + region))
  env REFRESH_SKIP="$skip" REFRESH_REGION="$region" "$@" "${WRK[@]}" -t$THREADS -c"$conns" -d"${secs}s" --latency \
    -s "$BENCH_LUA/$script" "$url" 2>&1 | sed -n 's/^RESULT //p'
}
# measure OUT PID URL SCRIPT CONNS SECONDS [ENV…]: a measured run; writes to OUT its
# RESULT fields with wall= (the seconds wrk ran, start to exit), ticks= (the server's
# CPU meanwhile), db_ticks= and rss_kb= (the server's peak).
measure() {
  local out=$1 pid=$2 t0 d0 w0 sampler
  RUN_NO=$((RUN_NO + 1))
  local rssf="$WORK/rss.$RUN_NO"
  echo 0 > "$rssf"
  sample_rss "$pid" "$rssf" & sampler=$!
  t0=$(ticks "$pid") d0=$(db_ticks) w0=$(date +%s.%N)
  shift 1
  wrk_run "$@" > "$WORK/wrk.out"
  echo "$(cat "$WORK/wrk.out") wall=$(awk -v a="$w0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.3f", b - a}') ticks=$(($(ticks "$pid") - t0)) db_ticks=$(($(db_ticks) - d0)) rss_kb=$(cat "$rssf")" > "$out"
  kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true
}
# row NAME CONNS MEASUREMENT…: the table's row of a scenario measured in one or more
# rounds: their requests over the seconds wrk measured them in, the highest p50 and
# p99 of the rounds, the peak RSS, the server's CPU over the rounds' wall time.
row() {
  local name=$1 conns=$2 line; shift 2
  line=$(cat "$@" | awk -v hz="$(getconf CLK_TCK)" '
    function v(k,   i) { for (i = 1; i <= NF; i++) if (index($i, k "=") == 1) return substr($i, length(k) + 2); return "" }
    { if (v("rps") == "") bad = 1
      req += v("requests"); err += v("errors"); wall += v("wall"); t += v("ticks"); db += v("db_ticks")
      if (v("rps") > 0) secs += v("requests") / v("rps")
      if (v("p50_ms") + 0 > p50) p50 = v("p50_ms") + 0
      if (v("p99_ms") + 0 > p99) p99 = v("p99_ms") + 0
      if (v("rss_kb") + 0 > rss) rss = v("rss_kb") + 0 }
    END {
      if (wall == 0) wall = 1
      if (bad || secs == 0) { printf "none\t%d\t%.2f", rss / 1024, t / hz / wall; exit }
      printf "rps=%.1f p50_ms=%.3f p99_ms=%.3f errors=%d requests=%d\t%d\t%.2f", req / secs, p50, p99, err, req, rss / 1024, t / hz / wall
      if (db > 0) printf " + db %.2f", db / hz / wall
    }')
  local result rss cpu
  IFS=$'\t' read -r result rss cpu <<< "$line"
  [ "$name" = "a healthz" ] && CEILING=$(field "$result" rps)
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$conns" "$result" "$rss" "$cpu" "$CEILING" >> "$RESULTS"
  echo "$name c=$conns $result rss=${rss}MB cpu=$cpu" >&2
}
# run NAME PID URL SCRIPT CONNS [ENV…]: a warm-up, then one measured run of DURATION.
run() {
  local name=$1 pid=$2 url=$3 script=$4 conns=$5; shift 5
  wanted "$name" || return 0
  wrk_run "$pid" "$url" "$script" "$conns" 2 "$@" > /dev/null
  measure "$WORK/m" "$pid" "$url" "$script" "$conns" "$DURATION" "$@"
  row "$name" "$conns" "$WORK/m"
}

# ceiling CONNS: (a) again, unless --only leaves it out: the next rows' ratios are
# taken against it, measured beside them rather than minutes before.
ceiling() {
  wanted a || return 0
  local out
  out=$("${WRK[@]}" -t$THREADS -c"$1" -d"${DURATION}s" -s "$BENCH_LUA/healthz.lua" "$S_BASE" 2>&1 | grep '^RESULT' || true)
  CEILING=$(field "${out#RESULT }" rps)
  echo "  (a) beside c=$1: ${CEILING:-none} req/s" >&2
}
# kind_env PREFIX KIND: sets ENV, the wrk environment of scenario KIND against the
# server of PREFIX.
kind_env() {
  local p=$1
  if [ "$p" = P_ ]; then
    case $2 in
      b) ENV=(AUTH="$PAUTH" TOKEN_PATH=/token TOKEN_BODY="grant_type=client_credentials&scope=api") ;;
      c-rs) ENV=(AUTH="$PAUTH" TOKEN_PATH=/token TOKEN_BODY="grant_type=client_credentials&scope=api&resource=urn%3Abench%3Ajwt") ;;
      d) # The peer's in-memory store forgets old tokens: one fetched right before.
         ENV=(AUTH="$PAUTH" INTROSPECT_PATH=/token/introspection TOKEN="$(curl -s -u bench:bench-secret \
           -d grant_type=client_credentials -d scope=api "$P_BASE/token" | json_field access_token)")
         ;;
    esac
    return 0
  fi
  case $2 in
    a) ENV=() ;;
    b) ENV=(AUTH="$(var "$p" AUTH)") ;;
    c-es) ENV=(AUTH="$(var "$p" AUTH_ES256)") ;;
    c-ed) ENV=(AUTH="$(var "$p" AUTH_EDDSA)") ;;
    c-rs) ENV=(AUTH="$(var "$p" AUTH_RS256)") ;;
    d) ENV=(AUTH="$(var "$p" AUTH)" TOKEN="$(var "$p" CC_TOKEN)") ;;
    e) ENV=(TOKEN="$(var "$p" USER_TOKEN)") ;;
    f) ENV=(AUTH="$(var "$p" AUTH)" REFRESH_FILE="$(var "$p" REFRESH_FILE)") ;;
    g) ENV=(AUTH="$(var "$p" AUTH)" CLIENT_ID="$(var "$p" CLIENT_ID)" SESSION="$(var "$p" SESSION)") ;;
  esac
}
# row_name NAME PREFIX: the table's name of scenario NAME on the server of PREFIX.
row_name() {
  case $2 in S_) echo "$1" ;; E_) echo "$1 · $E_LABEL" ;; P_) echo "peer $1" ;; esac
}
# together NAME CONNS SCRIPT KIND PREFIX…: the scenario on each server named (S_ ours,
# E_ ours on the empty database or the binary beside, P_ the peer). One server: a warm-up and one run of
# DURATION. More: each warms up, then the load runs in rounds of half the duration,
# through the servers and back (S_ E_ P_ P_ E_ S_), so that the machine's drift over
# the rounds weighs on each alike; each server's row adds its two rounds.
together() {
  local name=$1 conns=$2 script=$3 kind=$4; shift 4
  wanted "$name" || return 0
  local p i half=$(((DURATION + 1) / 2)) order=("$@")
  if [ $# -eq 1 ]; then
    kind_env "$1" "$kind"
    run "$(row_name "$name" "$1")" "$(var "$1" PID)" "$(var "$1" BASE)" "$script" "$conns" "${ENV[@]}"
    return 0
  fi
  for p in "$@"; do
    kind_env "$p" "$kind"
    wrk_run "$(var "$p" PID)" "$(var "$p" BASE)" "$script" "$conns" 2 "${ENV[@]}" > /dev/null
  done
  for ((i = $# - 1; i >= 0; i--)); do order+=("${order[i]}"); done
  rm -f "$WORK"/round.*
  for i in "${!order[@]}"; do
    p=${order[i]}
    kind_env "$p" "$kind"
    measure "$WORK/round.$p.$i" "$(var "$p" PID)" "$(var "$p" BASE)" "$script" "$conns" "$half" "${ENV[@]}"
  done
  for p in "$@"; do row "$(row_name "$name" "$p")" "$conns" "$WORK"/round."$p".*; done
}
# scenario NAME CONNS SCRIPT KIND: the ceiling, then the scenario on our server, on the
# empty database's with --scale, on the binary beside with --beside, and on the peer's
# with --peers where it has one.
scenario() {
  local name=$1 conns=$2 script=$3 kind=$4 servers=(S_)
  wanted "$name" || return 0
  ceiling "$conns"
  [ -n "$SECOND" ] && servers+=(E_)
  [ -n "$PEERS" ] && case $kind in b | c-rs | d) servers+=(P_) ;; esac
  together "$name" "$conns" "$script" "$kind" "${servers[@]}"
}

PAUTH="" P_PID="" P_BASE=""
if [ -n "$PEERS" ] && { wanted "peer b" || wanted "peer c" || wanted "peer d"; }; then
  "$ROOT/bench/peer/install.sh" >&2
  PORT=3100 NODE_ENV=production node "$ROOT/bench/peer/server.js" > "$WORK/peer.log" 2>&1 &
  PEER_PID=$!
  for _ in $(seq 1 100); do curl -sf http://127.0.0.1:3100/.well-known/openid-configuration > /dev/null && break; sleep 0.1; done
  PAUTH=$(basic bench bench-secret) P_PID=$PEER_PID P_BASE=http://127.0.0.1:3100
else
  PEERS=""
fi
for c in $CONNS; do
  together "a healthz" "$c" healthz.lua a S_ ${SECOND:+E_}
  scenario "b client_credentials opaque" "$c" client_credentials.lua b
  scenario "c client_credentials JWT ES256" "$c" client_credentials.lua c-es
  scenario "c client_credentials JWT EdDSA" "$c" client_credentials.lua c-ed
  scenario "c client_credentials JWT RS256" "$c" client_credentials.lua c-rs
  scenario "d introspection" "$c" introspect.lua d
  scenario "e GET /api/user" "$c" api_user.lua e
  scenario "f refresh rotation" "$c" refresh.lua f
  scenario "g code flow (2 requests/flow)" "$c" authcode.lua g
done

# (h): logins saturate the hashing pool while (b) runs; (b)'s latency is what counts.
# while_logins PREFIX NAME: (h) on the server of PREFIX.
while_logins() {
  local p=$1 name=$2 login
  env USER_LOGIN="$(var "$p" USER_LOGIN)" LOGIN_USERS="$(var "$p" LOGIN_USERS)" USER_PASSWORD="$(var "$p" USER_PASSWORD)" "${WRK[@]}" -t1 -c16 -d"$((DURATION + 4))s" -s "$BENCH_LUA/login.lua" "$(var "$p" BASE)" > "$WORK/login.out" 2>&1 &
  login=$!
  sleep 1
  run "$name" "$(var "$p" PID)" "$(var "$p" BASE)" client_credentials.lua 64 AUTH="$(var "$p" AUTH)"
  wait "$login" || true
  echo "logins: $(grep '^RESULT' "$WORK/login.out" || echo none)" >&2
}
if wanted h; then
  ceiling 64
  while_logins S_ "h b while logins run"
  [ -n "$SECOND" ] && while_logins E_ "h b while logins run · $E_LABEL"
fi

# The table: one row per scenario and connection count, with ratios to (a) measured
# right before it, to the peer's same scenario measured right after it and, with
# --scale, to the same scenario on the empty database measured right after it.
echo
echo "$(date -u +%Y-%m-%d) · $BACKEND${SCALE:+ · scale (1 M users, 10 M tokens) beside an empty database}${BESIDE:+ · beside $BESIDE} · ${DURATION} s per run · \`bench/run.sh${ARGS:+ $ARGS}\`"
echo
awk -F'\t' -v second="$SECOND" -v label="$E_LABEL" '
  function v(s, k,   a, i, n) { n = split(s, a, " "); for (i = 1; i <= n; i++) if (index(a[i], k "=") == 1) return substr(a[i], length(k) + 2); return "" }
  function marked(n,   m) { m = " · " label; return length(n) > length(m) && substr(n, length(n) - length(m) + 1) == m }
  { name[NR] = $1; conns[NR] = $2; res[NR] = $3; rss[NR] = $4; cpu[NR] = $5; ceil[NR] = $6; rps[NR] = v($3, "rps")
    if ($1 ~ /^peer /) { key = substr($1, 6); sub(/^[a-h] /, "", key); peer[key "|" $2] = v($3, "rps") }
    if (marked($1)) { key = substr($1, 1, length($1) - length(" · " label)); other[key "|" $2] = v($3, "rps") } }
  END {
    head = "| scenario | conns | req/s | p50 ms | p99 ms | errors | RSS MB | CPU cores | (a) beside | vs (a) | vs peer |"
    rule = "|---|---|---|---|---|---|---|---|---|---|---|"
    if (second) { head = head " vs " label " |"; rule = rule "---|" }
    print head; print rule
    for (i = 1; i <= NR; i++) {
      mine = name[i] !~ /^peer / && !marked(name[i])
      ra = (name[i] !~ /^peer / && ceil[i] > 0) ? sprintf("%.0f %%", 100 * rps[i] / ceil[i]) : "–"
      ca = (name[i] !~ /^peer / && ceil[i] > 0) ? ceil[i] : "–"
      pk = name[i]; sub(/^[a-h] /, "", pk)
      if (pk == "client_credentials JWT ES256" || pk == "client_credentials JWT EdDSA") pk = "client_credentials JWT RS256"
      rp = (peer[pk "|" conns[i]] > 0 && mine) ? sprintf("%.1f×", rps[i] / peer[pk "|" conns[i]]) : "–"
      printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |", name[i], conns[i], rps[i], v(res[i], "p50_ms"), v(res[i], "p99_ms"), v(res[i], "errors"), rss[i], cpu[i], ca, ra, rp
      if (second) {
        e = other[name[i] "|" conns[i]]
        printf " %s |", (mine && e > 0) ? sprintf("%+.0f %%", 100 * (rps[i] - e) / e) : "–"
      }
      printf "\n"
    }
  }' "$RESULTS"
