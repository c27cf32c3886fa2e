#!/usr/bin/env bash
# Run a command with a throwaway PostgreSQL cluster named by EXPORTD_DB. The
# cluster is stopped and removed afterwards; the command's status is kept.
#   tests/pg/with-cluster.sh COMMAND [ARGS...]
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d /tmp/exportd-pg.XXXXXX)
chmod 755 "$dir"
cleanup() { "$here/pgcluster.sh" stop "$dir" >/dev/null 2>&1; rm -rf "$dir"; }
trap cleanup EXIT
url=$("$here/pgcluster.sh" start "$dir" | tail -n 1) || { echo "with-cluster: PostgreSQL did not start" >&2; exit 1; }
# Tests need speed, not the cluster's own crash safety: exportd's
# durability is what they check, and PostgreSQL keeps running through them.
runuser -u postgres -- /usr/lib/postgresql/15/bin/psql -h "$dir" -p "$(cat "$dir/port")" -U postgres -d postgres -Xq \
  -c "ALTER SYSTEM SET fsync = off" -c "ALTER SYSTEM SET synchronous_commit = off" -c "SELECT pg_reload_conf()" >/dev/null
export EXPORTD_DB=$url
"$@"
