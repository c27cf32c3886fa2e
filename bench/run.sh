#!/usr/bin/env bash
# Benchmarks of exportd on this machine: the server on CPU 0 (one thread),
# wrk on CPU 1, loopback only. Every run is bounded in time.
#   bench/run.sh [EXPORTS]        (default 100000 exports seeded)
#   STORE=postgres bench/run.sh   the same against a throwaway PostgreSQL
#                                 cluster (fsync on), sharing exportd's core
#   BIN=path/to/exportd ...       another binary (A/B against an old build)
# Needs: wrk, sqlite3, nginx, postgresql (apt-get install wrk sqlite3
# nginx-light postgresql).
# Prints a Markdown table. The same run measures nginx serving one export's
# body as a static file on the same core: the ceiling that the GET target
# is a fraction of, read on this machine at this moment.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
DUR=${DUR:-10s}
CONNS=${CONNS:-64}
PORT=${PORT:-18400}
NPORT=$((PORT + 1))
NGINX=${NGINX:-/usr/sbin/nginx}
STORE=${STORE:-sqlite}
BUILD=build-release

if [ -z "${BIN:-}" ]; then
  [ -f $BUILD/build.ninja ] || meson setup $BUILD --buildtype=release >/dev/null
  ninja -C $BUILD >/dev/null
  BIN=$BUILD/exportd
fi

work=$(mktemp -d)
chmod 755 "$work"
pid=
npid=
pgdir=
cleanup() {
  kill $pid $npid 2>/dev/null || true
  wait $pid $npid 2>/dev/null || true
  [ -n "$pgdir" ] && tests/pg/pgcluster.sh stop "$pgdir" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

# The store, and how to run one SQL query against it.
if [ "$STORE" = postgres ]; then
  pgdir=$work/pg
  export EXPORTD_DB=$(tests/pg/pgcluster.sh start "$pgdir" | tail -n 1)
  # PostgreSQL shares exportd's core, as a single-machine deployment would
  taskset -pc 0 "$(head -n 1 "$pgdir/data/postmaster.pid")" >/dev/null
  sql() { psql -X -q -t -A "$EXPORTD_DB" -c "$1"; }
else
  unset EXPORTD_DB
  sql() { sqlite3 "$work/exportd.db" "$1"; }
fi
export TOKEN=$($BIN token create --account bench --data-dir "$work" 2>/dev/null | tail -n 1)
taskset -c 0 $BIN serve --listen 127.0.0.1:$PORT --data-dir "$work" \
  --threads 1 --log-level error --rate-limit-rate 0 &
pid=$!
for _ in $(seq 50); do curl -sf http://127.0.0.1:$PORT/v1/health >/dev/null && break; sleep 0.1; done
url=http://127.0.0.1:$PORT
. bench/connection.sh
export CONN=$(bench_connection "$url" "$TOKEN")

# requests/s of a workload, and its 99th-percentile latency in $work/p99.$1
rate() {
  taskset -c 1 wrk -t1 -c"$CONNS" -d"$DUR" --latency -s "bench/$1" "$url$2" > "$work/wrk.out"
  awk '$1 == "99%" {print $2}' "$work/wrk.out" > "$work/p99.$1"
  awk '/Requests\/sec/ {print $2}' "$work/wrk.out"
}
p99() { cat "$work/p99.$1"; }

# Seed through the API itself (durable POSTs), until N exports exist.
have=0
while [ "$have" -lt "$N" ]; do
  taskset -c 1 wrk -t1 -c"$CONNS" -d5s -s bench/post.lua "$url/v1/exports" >/dev/null
  have=$(sql 'SELECT count(*) FROM exports')
done
sql "SELECT id FROM exports ORDER BY random() LIMIT 100000" > "$work/ids.txt"
export IDS="$work/ids.txt"

# The ceiling: nginx, one worker on the same core as exportd, serving one
# export's body, and one page of 100, as static files, no access log.
# Prints both rates.
ceiling() {
  mkdir -p "$work/nginx/html" "$work/nginx/logs"
  curl -sf -H "Authorization: Bearer $TOKEN" "$url/v1/exports/$(head -n 1 "$IDS")" \
    > "$work/nginx/html/export.json"
  curl -sf -H "Authorization: Bearer $TOKEN" "$url/v1/exports?limit=100" \
    > "$work/nginx/html/page.json"
  printf '%s\n' "worker_processes 1;" "error_log $work/nginx/logs/error.log;" \
    "pid $work/nginx/nginx.pid;" "events { worker_connections 1024; }" \
    "http { access_log off; server { listen 127.0.0.1:$NPORT; root $work/nginx/html; } }" \
    > "$work/nginx/nginx.conf"
  taskset -c 0 "$NGINX" -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' \
    >/dev/null 2>&1 &
  npid=$!
  for _ in $(seq 50); do curl -sf http://127.0.0.1:$NPORT/export.json >/dev/null && break; sleep 0.1; done
  for f in export.json page.json; do
    taskset -c 1 wrk -t1 -c"$CONNS" -d"$DUR" http://127.0.0.1:$NPORT/$f |
      awk '/Requests\/sec/ {printf "%s ", $2}'
  done
  echo
  kill $npid
  wait $npid 2>/dev/null || true
  npid=
}

# The single-commit limit: 4 KiB appends, each made durable before the next
# (dd oflag=dsync), on the store's file system; what a store without group
# commit could do at best.
fsync_rate() {
  dd if=/dev/zero of="$work/sync.test" bs=4k count=2000 oflag=dsync 2>&1 |
    awk '/copied/ { for (i = 2; i <= NF; i++) if ($i == "s,") printf "%d", 2000 / $(i - 1) }'
  rm -f "$work/sync.test"
}

ceiling > "$work/ceiling"
read -r nginx_rate nginx_page < "$work/ceiling"
if [ "$STORE" = postgres ]; then
  # PostgreSQL's own one-client commit rate is the single-commit limit
  sql "CREATE TABLE bench_commit (x int)"
  echo "INSERT INTO bench_commit VALUES (1);" > "$work/commit.sql"
  syncs=$(pgbench -n -c 1 -T 5 -f "$work/commit.sql" "$EXPORTD_DB" 2>/dev/null |
    awk '/^tps/ {printf "%d", $3}')
else
  syncs=$(fsync_rate)
fi
get=$(rate get.lua /)
list=$(rate list.lua /)
post=$(rate post.lua /v1/exports)
put=$(rate put.lua /)
rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
x() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
if [ "$STORE" = postgres ]; then
  limit="PostgreSQL's one-client commit rate (pgbench, one INSERT a transaction)"
else
  limit="4 KiB synced appends (dd oflag=dsync)"
fi

echo "| workload ($STORE, $have exports, $CONNS connections, $DUR) | requests/s |"
echo "|---|---|"
echo "| nginx: one export's body as a static file (the ceiling) | $nginx_rate |"
echo "| GET one export by id (random ids) | $get ($(x "$get" "$nginx_rate") × nginx), p99 $(p99 get.lua) |"
echo "| nginx: the page of 100 as a static file | $nginx_page |"
echo "| GET a page of 100 exports | $list ($(x "$list" "$nginx_page") × nginx), p99 $(p99 list.lua) |"
echo "| single-commit limit: $limit | $syncs |"
echo "| durable POST | $post ($(x "$post" "$syncs") × the single-commit limit), p99 $(p99 post.lua) |"
echo "| durable PUT (random ids) | $put ($(x "$put" "$syncs") × the single-commit limit), p99 $(p99 put.lua) |"
echo "| server RSS after the runs | $((rss / 1024)) MiB |"
