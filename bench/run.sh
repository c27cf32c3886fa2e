#!/usr/bin/env bash
# Benchmarks of exportd on this machine: the server on CPU 0 (one thread),
# wrk on CPU 1, loopback only. Every run is bounded in time.
#   bench/run.sh [EXPORTS]        (default 100000 exports seeded)
# Needs: wrk, sqlite3, nginx (apt-get install wrk sqlite3 nginx-light).
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
BUILD=build-release

[ -f $BUILD/build.ninja ] || meson setup $BUILD --buildtype=release >/dev/null
ninja -C $BUILD >/dev/null

work=$(mktemp -d)
pid=
npid=
trap 'kill $pid $npid 2>/dev/null || true; wait $pid $npid 2>/dev/null || true; rm -rf "$work"' EXIT
export TOKEN=$($BUILD/exportd token create --account bench --data-dir "$work" 2>/dev/null | tail -n 1)
taskset -c 0 $BUILD/exportd serve --listen 127.0.0.1:$PORT --data-dir "$work" \
  --threads 1 --log-level error --rate-limit-rate 0 &
pid=$!
for _ in $(seq 50); do curl -sf http://127.0.0.1:$PORT/v1/health >/dev/null && break; sleep 0.1; done
url=http://127.0.0.1:$PORT

rate() { taskset -c 1 wrk -t1 -c"$CONNS" -d"$DUR" -s "bench/$1" "$url$2" | awk '/Requests\/sec/ {print $2}'; }

# Seed through the API itself (durable POSTs), until N exports exist.
have=0
while [ "$have" -lt "$N" ]; do
  taskset -c 1 wrk -t1 -c"$CONNS" -d5s -s bench/post.lua "$url/v1/exports" >/dev/null
  have=$(sqlite3 "$work/exportd.db" 'SELECT count(*) FROM exports')
done
sqlite3 "$work/exportd.db" "SELECT id FROM exports ORDER BY random() LIMIT 100000" > "$work/ids.txt"
export IDS="$work/ids.txt"

# The ceiling: nginx, one worker on the same core as exportd, serving one
# export's body as a static file, no access log.
ceiling() {
  mkdir -p "$work/nginx/html" "$work/nginx/logs"
  curl -sf -H "Authorization: Bearer $TOKEN" "$url/v1/exports/$(head -n 1 "$IDS")" \
    > "$work/nginx/html/export.json"
  printf '%s\n' "worker_processes 1;" "error_log $work/nginx/logs/error.log;" \
    "pid $work/nginx/nginx.pid;" "events { worker_connections 1024; }" \
    "http { access_log off; server { listen 127.0.0.1:$NPORT; root $work/nginx/html; } }" \
    > "$work/nginx/nginx.conf"
  taskset -c 0 "$NGINX" -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' \
    >/dev/null 2>&1 &
  npid=$!
  for _ in $(seq 50); do curl -sf http://127.0.0.1:$NPORT/export.json >/dev/null && break; sleep 0.1; done
  taskset -c 1 wrk -t1 -c"$CONNS" -d"$DUR" http://127.0.0.1:$NPORT/export.json |
    awk '/Requests\/sec/ {print $2}'
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

nginx_rate=$(ceiling)
syncs=$(fsync_rate)
get=$(rate get.lua /)
list=$(rate list.lua /)
post=$(rate post.lua /v1/exports)
put=$(rate put.lua /)
rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
ratio=$(awk -v a="$get" -v b="$nginx_rate" 'BEGIN { printf "%.2f", a / b }')
pratio=$(awk -v a="$post" -v b="$syncs" 'BEGIN { printf "%.1f", a / b }')

echo "| workload ($have exports, $CONNS connections, $DUR) | requests/s |"
echo "|---|---|"
echo "| nginx: one export's body as a static file (the ceiling) | $nginx_rate |"
echo "| GET one export by id (random ids) | $get ($ratio × nginx) |"
echo "| GET a page of 100 exports | $list |"
echo "| single-commit limit: 4 KiB synced appends (dd oflag=dsync) | $syncs |"
echo "| durable POST | $post ($pratio × the single-commit limit) |"
echo "| durable PUT (random ids) | $put |"
echo "| server RSS after the runs | $((rss / 1024)) MiB |"
