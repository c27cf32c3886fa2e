#!/bin/bash
# Run the harnesses built by build.sh, one after the other, each on one
# core for FUZZ_SECONDS. The committed seeds (tests/fuzz/corpus/NAME) are
# read only; new inputs go to $FUZZ_BUILD/corpus/NAME, crashes and leaks
# to $FUZZ_BUILD/artifacts/NAME/, the log to $FUZZ_BUILD/run/NAME/fuzz-0.log.
#
#   tests/fuzz/run.sh [NAME...]
#
# Environment: FUZZ_BUILD (default build-fuzz), FUZZ_SECONDS (default 60),
# FUZZ_ARGS (more libFuzzer flags). Exits non-zero if any harness failed.
set -uo pipefail

cd "$(dirname "$0")/../.."
ROOT=$PWD
B=${FUZZ_BUILD:-build-fuzz}
case $B in /*) ;; *) B=$ROOT/$B ;; esac
SECS=${FUZZ_SECONDS:-60}
ALL="json webhook_parse webhook_verify template router token model project head handlebars"
failed=""
STATS='^#[0-9]+[[:space:]]+DONE|^stat::(number_of_executed_units|'
STATS+='average_exec_per_sec|peak_rss_mb)'

for name in ${*:-$ALL}; do
	bin=$B/fuzz_$name
	if [ ! -x "$bin" ]; then
		echo "run.sh: $bin missing; run tests/fuzz/build.sh" >&2
		exit 1
	fi
	mkdir -p "$B/corpus/$name" "$B/artifacts/$name" "$B/run/$name"
	dict=()
	[ -f "tests/fuzz/dict/$name.dict" ] &&
	    dict=(-dict="$ROOT/tests/fuzz/dict/$name.dict")
	echo "== fuzz_$name: $SECS s"
	# -jobs=1 -workers=1: one child process, one core; it logs to
	# fuzz-0.log in the current directory.
	# shellcheck disable=SC2086
	(cd "$B/run/$name" && "$bin" -jobs=1 -workers=1 \
	    -max_total_time="$SECS" -timeout=25 -rss_limit_mb=2048 \
	    -print_final_stats=1 "${dict[@]}" \
	    -artifact_prefix="$B/artifacts/$name/" ${FUZZ_ARGS:-} \
	    "$B/corpus/$name" "$ROOT/tests/fuzz/corpus/$name" \
	    >/dev/null 2>&1)
	rc=$?
	grep -E "$STATS" "$B/run/$name/fuzz-0.log" | tail -4
	if [ $rc -ne 0 ] || grep -q -E '^(==[0-9]+==ERROR|SUMMARY: )' \
	    "$B/run/$name/fuzz-0.log"; then
		echo "fuzz_$name FAILED (exit $rc); see $B/run/$name/fuzz-0.log" \
		    "and $B/artifacts/$name/"
		grep -E -A12 '^==[0-9]+==ERROR|runtime error|invariant failed' \
		    "$B/run/$name/fuzz-0.log" | head -40
		failed="$failed $name"
	fi
done
if [ -n "$failed" ]; then
	echo "failed:$failed"
	exit 1
fi
