#!/bin/bash
# Build the libFuzzer harnesses of tests/fuzz with clang, AddressSanitizer
# and UndefinedBehaviorSanitizer. Each harness is compiled together with
# the src/ files it tests (no meson build needed). One compiler at a time.
#
#   tests/fuzz/build.sh [NAME...]     NAME: json, webhook_parse, ...
#
# Environment: FUZZ_BUILD (output directory, default build-fuzz), CC
# (default clang), FUZZ_CFLAGS (added to the compiler flags),
# FUZZ_COVERAGE=1 (source-based coverage instead of the sanitizers, into
# $FUZZ_BUILD/cov; see docs/fuzzing.md).
set -euo pipefail

cd "$(dirname "$0")/../.."
B=${FUZZ_BUILD:-build-fuzz}
CC=${CC:-clang}
mkdir -p "$B"

# The src/ files each harness links, beside tests/fuzz/fuzz_NAME.c.
declare -A SRCS=(
	[json]="util/json.c util/buf.c util/xmalloc.c"
	[webhook_parse]="webhook/parse.c webhook/webhook.c webhook/template.c
	    webhook/response.c util/json.c util/buf.c util/xmalloc.c"
	[webhook_verify]="webhook/verify.c webhook/parse.c webhook/webhook.c
	    crypto/crypto.c util/json.c util/buf.c util/xmalloc.c"
	[template]="webhook/template.c webhook/webhook.c util/json.c
	    util/buf.c util/xmalloc.c"
	[router]="http/router.c api/routes.c util/xmalloc.c"
	[token]="auth/token.c crypto/crypto.c util/xmalloc.c"
	[model]="model/export.c model/validate.c model/rules.c model/secrets.c
	    crypto/crypto.c util/oid.c
	    util/random.c util/isotime.c util/errors.c util/json.c util/buf.c
	    util/xmalloc.c"
	[project]="model/project.c util/json.c util/buf.c util/xmalloc.c"
	[head]="http/head.c"
	[link]="run/link.c util/buf.c util/xmalloc.c"
	[handlebars]="template/parse.c template/render.c template/helpers.c
	    template/value.c template/date.c util/json.c util/buf.c
	    util/isotime.c util/xmalloc.c"
)
ALL="json webhook_parse webhook_verify template router token model project head handlebars link"

if ! command -v "$CC" >/dev/null; then
	echo "build.sh: $CC not found (apt-get install clang libclang-rt-14-dev)" >&2
	exit 1
fi

PKGS="jansson libcrypto libxml-2.0 sqlite3"
# shellcheck disable=SC2046
SAN="-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all"
if [ -n "${FUZZ_COVERAGE:-}" ]; then
	SAN="-fsanitize=fuzzer -fprofile-instr-generate -fcoverage-mapping"
	B=$B/cov
	mkdir -p "$B"
fi
# The warnings of meson.build, as errors: a harness builds clean or not at all.
WARN="-Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wpointer-arith -Wformat=2 -Werror"
CFLAGS="-std=c17 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer $SAN $WARN \
	-Isrc -Itests/fuzz \
	$(pkg-config --cflags $PKGS) ${FUZZ_CFLAGS:-}"
LIBS="$(pkg-config --libs $PKGS)"

# The router harness stubs every handler the route table names, so a new
# route needs no change here.
tr '\n' ' ' < src/api/routes.c |
	grep -oE '"/[^"]*",[[:space:]]*[a-z_]+' | sed -E 's/.*,[[:space:]]*//' |
	sort -u | sed 's/.*/STUB(&)/' > "$B/router_stubs.h"
CFLAGS="$CFLAGS -I$B"

for name in ${*:-$ALL}; do
	if [ -z "${SRCS[$name]+x}" ]; then
		echo "build.sh: no harness named $name (have: $ALL)" >&2
		exit 1
	fi
	srcs=""
	for f in ${SRCS[$name]}; do
		srcs="$srcs src/$f"
	done
	echo "CC $B/fuzz_$name"
	# shellcheck disable=SC2086
	$CC $CFLAGS -o "$B/fuzz_$name" "tests/fuzz/fuzz_$name.c" $srcs $LIBS
done
