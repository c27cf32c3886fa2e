#!/bin/bash
# An `all` invoke of RECORDS records over PAGES pages (bench/README.md):
# nginx (one worker) serves the pages as static JSON files on CPU 1;
# exportd (release build, loopback allowed) runs the export on CPU 0. The
# same pages fetched by curl — once as one curl process per page, once as
# one process over all of them on one kept-alive connection — give the
# ceiling. Prints a Markdown table: seconds, records/s, and exportd's peak
# RSS (VmHWM) before and after the runs.
#
#   bench/runs.sh [PAGES] [PER_PAGE]        (default 1000 pages of 100)
#
# Needs nginx and curl (apt-get install nginx-light curl). Loopback only;
# every step is bounded in time.
set -eu
cd "$(dirname "$0")/.."

PAGES=${1:-1000}
PER=${2:-100}
RUNS=${RUNS:-3}
PORT=${PORT:-18420}
NPORT=$((PORT + 1))
NGINX=${NGINX:-/usr/sbin/nginx}
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
cleanup() {
  kill $pid $npid 2>/dev/null || true
  wait $pid $npid 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The source: page N at /p/N.json, {"meta":{"pages":PAGES},"data":[…]}
mkdir -p "$work/html/p" "$work/logs"
python3 - "$work/html/p" "$PAGES" "$PER" <<'EOF'
import json, sys
d, pages, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for p in range(1, pages + 1):
    recs = [{"id": (p - 1) * per + i, "name": "record %d" % ((p - 1) * per + i),
             "email": "user%d@example.com" % ((p - 1) * per + i), "active": True,
             "total": 12.5, "tags": ["a", "b"]} for i in range(1, per + 1)]
    with open("%s/%d.json" % (d, p), "w") as f:
        json.dump({"meta": {"pages": pages}, "data": recs}, f)
EOF
printf '%s\n' "worker_processes 1;" "error_log $work/logs/error.log;" \
  "pid $work/nginx.pid;" "events { worker_connections 1024; }" \
  "http { access_log off; default_type application/json;" \
  "  server { listen 127.0.0.1:$NPORT; root $work/html; } }" > "$work/nginx.conf"
taskset -c 1 "$NGINX" -p "$work" -c "$work/nginx.conf" -g 'daemon off;' >/dev/null 2>&1 &
npid=$!
src=http://127.0.0.1:$NPORT
for _ in $(seq 50); do curl -sf $src/p/1.json >/dev/null && break; sleep 0.1; done

export TOKEN=$($BIN token create --account bench --data-dir "$work" 2>/dev/null | tail -n 1)
taskset -c 0 $BIN serve --listen 127.0.0.1:$PORT --data-dir "$work" --log-level error \
  --egress-allow-loopback --run-max-pages "$PAGES" --run-max-records $((PAGES * PER)) \
  --egress-max-response 67108864 &
pid=$!
url=http://127.0.0.1:$PORT
for _ in $(seq 50); do curl -sf $url/v1/health >/dev/null && break; sleep 0.1; done
A="Authorization: Bearer $TOKEN"
J="Content-Type: application/json"
conn=$(curl -sf -H "$A" -H "$J" $url/v1/connections -d "{\"name\":\"bench source\",
  \"type\":\"http\",\"http\":{\"baseURI\":\"$src\",\"mediaType\":\"json\"}}" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["_id"])')
exp=$(curl -sf -H "$A" -H "$J" $url/v1/exports -d "{\"name\":\"bench\",
  \"_connectionId\":\"$conn\",\"http\":{\"method\":\"GET\",
  \"relativeURI\":\"/p/{{export.http.paging.page}}.json\",
  \"response\":{\"resourcePath\":\"data\"},
  \"paging\":{\"method\":\"page\",\"page\":1,\"maxPagePath\":\"meta.pages\"}}}" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["_id"])')

hwm() { awk '/VmHWM/ {print $2}' /proc/$pid/status; }
now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc -l | xargs printf '%.2f'; }
rss0=$(hwm)

best_exportd=
for _ in $(seq "$RUNS"); do
  t0=$(now)
  timeout 600 curl -sf -o "$work/out.json" -H "$A" -H "$J" "$url/v1/exports/$exp/invoke" \
    -d '{"all":true}'
  t=$(secs "$t0" "$(now)")
  got=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
print(len(d["data"]), len(d["errors"]))' "$work/out.json")
  [ "$got" = "$((PAGES * PER)) 0" ] || { echo "exportd returned: $got" >&2; exit 1; }
  if [ -z "$best_exportd" ] || [ "$(echo "$t < $best_exportd" | bc)" = 1 ]; then best_exportd=$t; fi
done
rss1=$(hwm)

best_loop=
best_glob=
for _ in $(seq "$RUNS"); do
  t0=$(now)
  for i in $(seq "$PAGES"); do taskset -c 0 curl -sf -o /dev/null "$src/p/$i.json"; done
  t=$(secs "$t0" "$(now)")
  if [ -z "$best_loop" ] || [ "$(echo "$t < $best_loop" | bc)" = 1 ]; then best_loop=$t; fi
  t0=$(now)
  taskset -c 0 curl -sf -o /dev/null "$src/p/[1-$PAGES].json"
  t=$(secs "$t0" "$(now)")
  if [ -z "$best_glob" ] || [ "$(echo "$t < $best_glob" | bc)" = 1 ]; then best_glob=$t; fi
done

n=$((PAGES * PER))
rate() { echo "$n / $1" | bc -l | xargs printf '%.0f'; }
echo "| $PAGES pages of $PER records ($n), best of $RUNS | seconds | records/s |"
echo "|---|---|---|"
echo "| curl, one process per page | $best_loop | $(rate "$best_loop") |"
echo "| curl, one process, one kept-alive connection | $best_glob | $(rate "$best_glob") |"
echo "| exportd invoke {\"all\":true} | $best_exportd | $(rate "$best_exportd") |"
echo
echo "exportd peak RSS: $((rss0 / 1024)) MiB after start, $((rss1 / 1024)) MiB after the runs"
