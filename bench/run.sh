#!/usr/bin/env bash
# Benchmarks of exportd on this machine: the server on CPU 0 (one thread),
# wrk on CPU 1, loopback only. Every run is bounded in time.
#   bench/run.sh [EXPORTS]        (default 100000 exports seeded)
# Needs: wrk, sqlite3 (apt-get install wrk sqlite3). Prints a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
DUR=${DUR:-10s}
CONNS=${CONNS:-64}
PORT=${PORT:-18400}
BUILD=build-release

[ -f $BUILD/build.ninja ] || meson setup $BUILD --buildtype=release >/dev/null
ninja -C $BUILD >/dev/null

work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$work"' EXIT
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

get=$(rate get.lua /)
list=$(rate list.lua /)
post=$(rate post.lua /v1/exports)
put=$(rate put.lua /)
rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)

echo "| workload ($have exports, $CONNS connections, $DUR) | requests/s |"
echo "|---|---|"
echo "| GET one export by id (random ids) | $get |"
echo "| GET a page of 100 exports | $list |"
echo "| durable POST | $post |"
echo "| durable PUT (random ids) | $put |"
echo "| server RSS after the runs | $((rss / 1024)) MiB |"
