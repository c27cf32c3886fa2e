#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests, in a directory of its own.
#
#   pgcluster.sh start DIR   initdb DIR/data (first time), start the server
#                            on 127.0.0.1 and a Unix socket in DIR, create
#                            database exportd; the last line of output is
#                            the URL: postgresql://postgres@127.0.0.1:PORT/exportd
#   pgcluster.sh stop DIR    stop it (fast shutdown)
#
# Starting a stopped cluster again reuses its port, so a running exportd
# can reconnect. initdb refuses to run as root: as root, the server runs
# as the postgres user (PGUSER_OS to change), which owns DIR.
set -euo pipefail

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
OSUSER=${PGUSER_OS:-postgres}

die() { echo "pgcluster: $*" >&2; exit 1; }

# Run a command as the cluster's owner.
as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u "$OSUSER" -- "$@"
	else
		"$@"
	fi
}

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
	local dir=$1 port tries=0
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	if [ "$(id -u)" -eq 0 ]; then
		chown "$OSUSER:" "$dir"
		as_owner test -w "$dir" ||
		    die "$OSUSER cannot reach $dir (is a parent directory private?)"
	fi
	if [ ! -f "$dir/data/PG_VERSION" ]; then
		as_owner "$PGBIN/initdb" -D "$dir/data" -A trust -U postgres \
		    -E UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1 ||
		    { cat "$dir/initdb.log" >&2; die "initdb failed"; }
	fi
	if as_owner "$PGBIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
		port=$(cat "$dir/port")
	else
		while :; do
			if [ -f "$dir/port" ] && [ $tries -eq 0 ]; then
				port=$(cat "$dir/port")
			else
				port=$(free_port)
			fi
			echo "$port" >"$dir/port"
			if as_owner "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" \
			    -w -t 60 -o "-p $port -k $dir -c listen_addresses=127.0.0.1" \
			    start >/dev/null; then
				break
			fi
			tries=$((tries + 1))
			[ $tries -lt 5 ] || { tail -n 20 "$dir/server.log" >&2; die "cannot start the server"; }
		done
	fi
	if ! as_owner "$PGBIN/psql" -h "$dir" -p "$port" -U postgres -d postgres -XAtq \
	    -c "SELECT 1 FROM pg_database WHERE datname = 'exportd'" | grep -q 1; then
		as_owner "$PGBIN/psql" -h "$dir" -p "$port" -U postgres -d postgres -Xq \
		    -c "CREATE DATABASE exportd ENCODING 'UTF8' TEMPLATE template0" >/dev/null
	fi
	echo "postgresql://postgres@127.0.0.1:$port/exportd"
}

stop() {
	local dir=$1
	[ -d "$dir/data" ] || die "no cluster in $dir"
	as_owner "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
}

[ $# -eq 2 ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }
case $1 in
start) start "$2" ;;
stop) stop "$2" ;;
*) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
