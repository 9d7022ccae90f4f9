#!/usr/bin/env bash
# Orchestrator REST benchmark (issue 5), cpc-orchestrator on SQLite, every
# process on 127.0.0.1, wrk for every measurement:
#   1. locate: GET /v1/content/{cid}/locate of a public content (4 chunks,
#      3 providers each) against nginx serving a static file of the same
#      bytes (the locate answer itself), same wrk settings, same run.
#      Prints requests/s, p99 and the ratio orchestrator / nginx (target
#      >= 0.5).
#   3. registration (on the large database): POST /v1/content, pre-signed requests (one new public
#      content each, CPC-REQUEST-V1 signatures made by
#      bench/orchestrator_sign.c before the run) replayed once each by wrk
#      (bench/orchestrator_register.lua); registrations/s and p99, and the
#      ratio against the same nginx figure.
#   2. scale: the database grown to BENCH_CONTENT contents (default
#      1,000,000) with 3 or 4 chunks each and 3 replicas per chunk (about
#      10,000,000 replica rows), generated with recursive-CTE inserts; then
#      locate again (the same content, and random ones over the whole table)
#      against the small database: mean latency at one connection (target:
#      within 2x) and requests/s at full load.
# usage: bench/orchestrator.sh [BUILD_DIR]   (default build)
# env: BENCH_CONTENT (1000000), BENCH_SECONDS (10 per wrk run),
#      BENCH_CONNECTIONS (32), BENCH_THREADS (2)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
[[ -x $build/cpc-orchestrator && -f $build/libcpc.a ]] || { echo "build first: make build" >&2; exit 1; }
for t in wrk nginx sqlite3 curl; do
  command -v "$t" >/dev/null || { echo "bench/orchestrator.sh needs $t" >&2; exit 1; }
done
big=${BENCH_CONTENT:-1000000}
secs=${BENCH_SECONDS:-10}
conns=${BENCH_CONNECTIONS:-32}
threads=${BENCH_THREADS:-2}
tmp=$(mktemp -d)
orch_pid=
nginx_pid=
cleanup() {
  [[ -n $orch_pid ]] && kill "$orch_pid" 2>/dev/null || true
  [[ -n $nginx_pid ]] && kill "$nginx_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
db=$tmp/orch/orchestrator.db
x=$(printf 'bafkr4i%052d' 0) # the content every locate run asks for

start_orch() {
  rm -f "$tmp/orch.out" # not to read the last run's address
  "$build/cpc-orchestrator" --rest 127.0.0.1:0 --grpc 127.0.0.1:0 \
    --data "$tmp/orch" >"$tmp/orch.out" 2>"$tmp/orch.err" &
  orch_pid=$!
  for _ in $(seq 1 100); do
    rest=$(sed -n 's/^rest listening on //p' "$tmp/orch.out")
    [[ -n $rest ]] && return 0
    sleep 0.1
  done
  echo "cpc-orchestrator did not start: $(cat "$tmp/orch.err")" >&2
  return 1
}
stop_orch() {
  kill "$orch_pid"
  wait "$orch_pid" || true
  orch_pid=
}

# Contents FROM..TO (public, owner bench-owner), 3 chunks each plus a 4th
# for every third, 3 stored replicas per chunk on 3 of the 100 nodes. Ids
# are zero-padded so every insert appends to its primary key; the one
# random index (replicas by node) is rebuilt after a large load.
load() {
  local from=$1 to=$2 rebuild=$3
  {
    echo "PRAGMA synchronous = OFF; PRAGMA cache_size = -1000000;"
    echo "BEGIN;"
    [[ $rebuild == 1 ]] && echo "DROP INDEX replicas_by_node_cid;"
    cat <<SQL
WITH RECURSIVE c(k) AS (SELECT $from UNION ALL SELECT k + 1 FROM c WHERE k < $to)
INSERT INTO content (content_id, owner, size, created_at, registered_at,
  access_control, replicas_desired, name, clear_key, state, origin)
SELECT printf('bafkr4i%052d', k), 'bench-owner', 1048576, k, k, 0, 3,
  'bench ' || k, zeroblob(32), 0,
  '["/ip4/127.0.0.1/tcp/4002/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN"]'
FROM c;
WITH RECURSIVE c(k) AS (SELECT $from UNION ALL SELECT k + 1 FROM c WHERE k < $to),
  i(idx) AS (VALUES (0), (1), (2), (3))
INSERT INTO chunks (content_id, idx, cid, size)
SELECT printf('bafkr4i%052d', k), idx, printf('bafkr4j%052d', k * 4 + idx), 262160
FROM c, i WHERE idx < 3 OR k % 3 = 0 ORDER BY k, idx;
WITH RECURSIVE c(k) AS (SELECT $from UNION ALL SELECT k + 1 FROM c WHERE k < $to),
  i(idx) AS (VALUES (0), (1), (2), (3)), r(j) AS (VALUES (0), (1), (2))
INSERT INTO replicas (cid, node, state, updated_at, size)
SELECT printf('bafkr4j%052d', k * 4 + idx),
  printf('12D3KooW%044d', ((k * 4 + idx) * 7 + j * 31) % 100), 1, 0, 262160
FROM c, i, r WHERE idx < 3 OR k % 3 = 0 ORDER BY k, idx, j;
SQL
    [[ $rebuild == 1 ]] && echo "CREATE INDEX replicas_by_node_cid ON replicas (node, state, cid);"
    echo "COMMIT;"
  } | sqlite3 "$db"
}

# wrk_run NAME URL [wrk args...]: prints "NAME: N req/s, p99 X ms, mean Y ms"
# and leaves rps, p99 (ms) and mean (ms) in the globals of those names.
wrk_run() {
  local name=$1 url=$2 out
  shift 2
  out=$(wrk --latency "$@" "$url")
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  p50=$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")
  mean=$(awk '$1 == "Latency" {print $2; exit}' <<<"$out")
  p99=$(to_ms "$p99")
  mean=$(to_ms "$mean")
  if grep -q "Non-2xx" <<<"$out"; then
    echo "$name: wrong answers: $(grep Non-2xx <<<"$out")" >&2
    exit 1
  fi
  printf '%-44s %9.0f req/s   p50 %6.3f ms   p99 %7.2f ms   mean %7.3f ms\n' \
    "$name:" "$rps" "$p50" "$p99" "$mean"
}
to_ms() { # wrk's "1.23ms" / "456.00us" / "1.20s" -> milliseconds
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) { sub(/us$/, "", v); print v / 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); print v + 0 }
    else if (v ~ /s$/) { sub(/s$/, "", v); print v * 1000 }
    else print v }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# --- the schema, 100 nodes, the owner, the locate target --------------------
start_orch
stop_orch
{
  cat <<SQL
BEGIN;
INSERT INTO users VALUES ('bench-owner', X'00', X'00', X'00', 0);
WITH RECURSIVE n(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM n WHERE k < 99)
INSERT INTO nodes (peer_id, public_key, addrs, capacity_bytes, state,
  commitment, registered_at, last_heartbeat, region, free_bytes, dial_addrs)
SELECT printf('12D3KooW%044d', k), X'00',
  printf('["/ip4/10.0.%d.%d/tcp/4001","/ip6/fd00::%d/tcp/4001"]', k / 200, k % 200 + 1, k),
  1099511627776, 1, X'00', 0, 4102444800000, 'region-' || (k % 5), 1099511627776,
  printf('["/ip4/10.0.%d.%d/tcp/4001/p2p/12D3KooW%044d","/ip6/fd00::%d/tcp/4001/p2p/12D3KooW%044d"]',
    k / 200, k % 200 + 1, k, k, k)
FROM n;
COMMIT;
SQL
} | sqlite3 "$db"
load 0 0 0
start_orch
base=http://$rest
curl -fsS "$base/v1/content/$x/locate" -o "$tmp/locate.json"
bytes=$(wc -c <"$tmp/locate.json")
echo "cpc-orchestrator $base on SQLite; locate answer $bytes bytes (4 chunks x 3 providers);"
echo "wrk -t$threads -c$conns -d${secs}s; $(nproc) cores shared by server and wrk"

# --- nginx, the same bytes --------------------------------------------------
mkdir -p "$tmp/nginx/www" "$tmp/nginx/tmp"
chmod 755 "$tmp" "$tmp/nginx" "$tmp/nginx/www"
cp "$tmp/locate.json" "$tmp/nginx/www/locate.json"
chmod 644 "$tmp/nginx/www/locate.json"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$tmp/nginx/nginx.conf" <<CONF
worker_processes auto;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $tmp/nginx/tmp;
  proxy_temp_path $tmp/nginx/tmp;
  fastcgi_temp_path $tmp/nginx/tmp;
  uwsgi_temp_path $tmp/nginx/tmp;
  scgi_temp_path $tmp/nginx/tmp;
  server {
    listen 127.0.0.1:$port;
    root $tmp/nginx/www;
    location / { default_type application/json; }
  }
}
CONF
nginx -e "$tmp/nginx/error.log" -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" &
nginx_pid=$!
for _ in $(seq 1 50); do curl -fsS "http://127.0.0.1:$port/locate.json" -o /dev/null 2>/dev/null && break; sleep 0.1; done

wrk -t"$threads" -c"$conns" -d2s "$base/v1/content/$x/locate" >/dev/null # warm-up
wrk_run "nginx, static file of the same bytes" "http://127.0.0.1:$port/locate.json" \
  -t"$threads" -c"$conns" -d"${secs}s"
nginx_rps=$rps
wrk_run "orchestrator locate (small database)" "$base/v1/content/$x/locate" \
  -t"$threads" -c"$conns" -d"${secs}s"
small_rps=$rps
echo "  locate / nginx = $(ratio "$small_rps" "$nginx_rps") (target >= 0.5)"
wrk_run "orchestrator locate, 1 connection" "$base/v1/content/$x/locate" -t1 -c1 -d"${secs}s"
small_p50=$p50
small_1rps=$rps

# --- a large database -------------------------------------------------------------
stop_orch
t0=$(date +%s)
load 1 "$big" 1
rows=$(sqlite3 "$db" "SELECT (SELECT count(*) FROM content) || ' contents, ' || (SELECT count(*) FROM chunks) || ' chunks, ' || (SELECT count(*) FROM replicas) || ' replica rows'")
echo "database grown to $rows in $(($(date +%s) - t0)) s ($(du -m "$db" | cut -f1) MiB)"
start_orch
base=http://$rest
export BENCH_LOCATE_N=$big
wrk -t"$threads" -c"$conns" -d2s -s bench/orchestrator_locate.lua "$base/" >/dev/null # warm-up
wrk_run "orchestrator locate, same content" "$base/v1/content/$x/locate" \
  -t"$threads" -c"$conns" -d"${secs}s"
echo "  locate / nginx = $(ratio "$rps" "$nginx_rps"); / small database = $(ratio "$rps" "$small_rps")"
wrk_run "orchestrator locate, random contents" "$base/" -t"$threads" -c"$conns" \
  -d"${secs}s" -s bench/orchestrator_locate.lua
echo "  locate / nginx = $(ratio "$rps" "$nginx_rps"); / small database = $(ratio "$rps" "$small_rps")"
wrk_run "orchestrator locate, random, 1 connection" "$base/" -t1 -c1 -d"${secs}s" \
  -s bench/orchestrator_locate.lua
echo "  latency large / small database: p50 $(ratio "$p50" "$small_p50"), per request (1 / req/s) $(ratio "$small_1rps" "$rps") (target <= 2)"

# --- registration ---------------------------------------------------------------
# shellcheck disable=SC2046
cc -O2 -Iinclude bench/orchestrator_sign.c "$build/libcpc.a" \
  $(pkg-config --libs libsodium libzstd libprotobuf-c jansson libsecp256k1 lmdb libuv sqlite3 libpq libmicrohttpd libcurl libnghttp2) \
  -lpthread -lm -o "$tmp/sign"
nreq=$((secs * 8000))
owner=$("$tmp/sign" "$nreq" "$tmp/register.txt")
sqlite3 "$db" ".timeout 5000" "INSERT INTO users VALUES ('$owner', X'00', X'00', X'00', 0);"
reg=$(wrk -t"$threads" -c"$conns" -d"${secs}s" --latency -s bench/orchestrator_register.lua \
  "$base/v1/content" -- "$tmp/register.txt" "$threads" | tail -1)
echo "orchestrator registration: $reg"
reg_rps=$(sed -n 's/.* \([0-9]*\) registrations\/s.*/\1/p' <<<"$reg")
echo "  registration / nginx = $(ratio "$reg_rps" "$nginx_rps")"

