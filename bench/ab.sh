#!/usr/bin/env bash
# A/B benchmark of two exportd binaries on this machine: each gets its own
# store seeded through its own API, both servers run on CPU 0 (one thread
# each) and wrk on CPU 1, and the workloads alternate A, B, A, B, ... so
# that both see the same moments of a machine whose speed drifts. Prints the
# median of each and the ratio B/A. Loopback only; bounded in time.
#   bench/ab.sh OLD_BINARY NEW_BINARY [EXPORTS]      (default 100000)
#   STORE=postgres bench/ab.sh ...   one throwaway cluster (fsync on), a
#                                    database each, sharing CPU 0
# Needs: wrk, sqlite3, postgresql (apt-get install wrk sqlite3 postgresql).
set -euo pipefail
cd "$(dirname "$0")/.."
A=$1
B=$2
N=${3:-100000}
DUR=${DUR:-5s}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-64}
PORT=${PORT:-18700}
STORE=${STORE:-sqlite}

work=$(mktemp -d)
chmod 755 "$work"
pids=()
pgdir=
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  [ -n "$pgdir" ] && tests/pg/pgcluster.sh stop "$pgdir" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
. bench/connection.sh

if [ "$STORE" = postgres ]; then
  pgdir=$work/pg
  base=$(tests/pg/pgcluster.sh start "$pgdir" | tail -n 1)
  taskset -pc 0 "$(head -n 1 "$pgdir/data/postmaster.pid")" >/dev/null
  psql -X -q "$base" -c "CREATE DATABASE exportd_a" -c "CREATE DATABASE exportd_b"
fi

# Start one side: its data dir, store, token, server; seed it.
side() {
  local name=$1 bin=$2 port=$3 dir=$work/$1 db
  mkdir -p "$dir"
  if [ "$STORE" = postgres ]; then
    db=${base%/*}/exportd_$name
  else
    db=sqlite:$dir/exportd.db
  fi
  echo "$db" > "$dir/db"
  $bin token create --account bench --data-dir "$dir" --db "$db" 2>/dev/null |
    tail -n 1 > "$dir/token"
  taskset -c 0 $bin serve --listen 127.0.0.1:$port --data-dir "$dir" --db "$db" \
    --threads 1 --log-level error --rate-limit-rate 0 &
  pids+=($!)
  for _ in $(seq 100); do curl -sf http://127.0.0.1:$port/v1/health >/dev/null && break; sleep 0.1; done
  bench_connection "http://127.0.0.1:$port" "$(cat "$dir/token")" > "$dir/conn"
  local have=0
  while [ "$have" -lt "$N" ]; do
    CONN=$(cat "$dir/conn") TOKEN=$(cat "$dir/token") taskset -c 1 wrk -t1 -c"$CONNS" -d5s -s bench/post.lua \
      "http://127.0.0.1:$port/v1/exports" >/dev/null
    have=$(sql "$dir" 'SELECT count(*) FROM exports')
  done
  sql "$dir" "SELECT id FROM exports ORDER BY random() LIMIT 100000" > "$dir/ids.txt"
  echo "$have" > "$dir/count"
}

sql() {
  local db
  db=$(cat "$1/db")
  if [ "$STORE" = postgres ]; then psql -X -q -t -A "$db" -c "$2"; else sqlite3 "${db#sqlite:}" "$2"; fi
}

# requests/s and p99 of one run of a workload against one side
run() {
  local dir=$work/$1 port=$2 script=$3 path=$4
  CONN=$(cat "$dir/conn") TOKEN=$(cat "$dir/token") IDS=$dir/ids.txt taskset -c 1 wrk -t1 -c"$CONNS" -d"$DUR" \
    --latency -s "bench/$script" "http://127.0.0.1:$port$path" |
    awk '/Requests\/sec/ {r = $2}
      $1 == "99%" { p = $2 + 0; if ($2 ~ /us$/) p /= 1000; else if ($2 ~ /[0-9]s$/) p *= 1000 }
      END {printf "%s %.2f\n", r, p}'
}

median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

side a "$A" $PORT
side b "$B" $((PORT + 1))

echo "A = $A, B = $B"
echo
echo "| workload ($STORE, $(cat "$work/a/count") / $(cat "$work/b/count") exports, $CONNS connections, median of $ROUNDS × $DUR) | A | B | B / A |"
echo "|---|---|---|---|"
for w in "GET one export by id:get.lua:/" "GET a page of 100:list.lua:/" \
    "durable POST:post.lua:/v1/exports" "durable PUT (random ids):put.lua:/"; do
  IFS=: read -r label script path <<< "$w"
  : > "$work/ra"
  : > "$work/rb"
  for _ in $(seq "$ROUNDS"); do
    run a $PORT "$script" "$path" >> "$work/ra"
    run b $((PORT + 1)) "$script" "$path" >> "$work/rb"
  done
  ra=$(awk '{print $1}' "$work/ra" | median)
  rb=$(awk '{print $1}' "$work/rb" | median)
  pa=$(awk '{print $2}' "$work/ra" | median)
  pb=$(awk '{print $2}' "$work/rb" | median)
  echo "| $label | $ra (p99 $pa ms) | $rb (p99 $pb ms) | $(awk -v a="$ra" -v b="$rb" 'BEGIN { printf "%.2f", b / a }') |"
done
