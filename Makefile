# exportd: the two commands a user needs are `make run` and `make test`.
# Everything else is here for developers and CI.

SHELL      := /bin/bash
PREFIX     ?= /usr/local
BUILD      ?= build
ASAN_BUILD ?= build-asan
CLANG_BUILD ?= build-clang
DATA_DIR   ?= ./var
LISTEN     ?= 127.0.0.1:8080
PYTHON     ?= /usr/bin/python3

# Debian packages: DEPS_BUILD to build and run (make run installs only
# these), DEPS_TEST as well for make test.
DEPS_BUILD := gcc pkg-config meson ninja-build libmicrohttpd-dev libgnutls28-dev libjansson-dev \
              libsqlite3-dev libssl-dev libxml2-dev libpq-dev libcurl4-openssl-dev \
              tzdata
DEPS_TEST  := libcriterion-dev python3-pytest python3-requests curl openssl \
              postgresql postgresql-client nginx-light pgbouncer \
              patroni etcd-server clang libclang-rt-14-dev \
              python3-jsonschema nodejs npm
# make install, make deb and their tests (tests/install): debhelper,
# lintian, systemd-analyze, groff.
DEPS_INSTALL := debhelper dpkg-dev lintian systemd groff-base man-db
DEPS       := $(DEPS_BUILD) $(DEPS_TEST) $(DEPS_INSTALL)
# Packages that also count as present when their command is: a Node.js
# from elsewhere (NodeSource) brings its own npm and conflicts with
# Debian's.
DEPS_CMDS  := npm

.PHONY: all deps deps-build build build-asan build-clang fuzz-build layering run \
        test unit api api-pg clean install install-files deb openapi-lint

all: build

# Install what is missing, and only that (needs root and apt-get): deps
# for everything, deps-build for building and running.
deps: PACKAGES = $(DEPS)
deps-build: PACKAGES = $(DEPS_BUILD)
deps deps-build:
	@missing=$$(for p in $(PACKAGES); do \
	    case " $(DEPS_CMDS) " in *" $$p "*) command -v $$p >/dev/null && continue;; esac; \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed$$' || echo $$p; \
	  done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:" $$missing; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(BUILD)/build.ninja:
	meson setup $(BUILD) --buildtype=debugoptimized

build: $(BUILD)/build.ninja
	ninja -C $(BUILD)

# The test build: AddressSanitizer and UndefinedBehaviorSanitizer, warnings
# as errors.
$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) --buildtype=debug -Db_sanitize=address,undefined \
	  -Db_lundef=false -Dwerror=true

build-asan: $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)

# The second compiler: a clang build with warnings as errors, so the code
# stays warning-free under both gcc and clang. Built, not run.
$(CLANG_BUILD)/build.ninja:
	CC=clang meson setup $(CLANG_BUILD) --buildtype=debugoptimized -Dwerror=true

build-clang: $(CLANG_BUILD)/build.ninja
	ninja -C $(CLANG_BUILD)

# Run the server with the embedded SQLite store in $(DATA_DIR); the first
# run creates an account and prints its token, and a first request to try
# with it (later runs cannot show it again: it is stored hashed). Outbound
# requests may reach loopback (--egress-allow-loopback): services on this
# machine, as a developer runs them.
run: deps-build build
	@out=$$($(BUILD)/exportd token init --data-dir $(DATA_DIR)) || exit 1; \
	echo "$$out"; tok=$$(echo "$$out" | sed -n '/^token /{n;p}'); \
	echo; echo "Try (who am I; then: README.md, Walk-through with curl):"; \
	echo "  curl -s -H 'Authorization: Bearer $${tok:-<your token>}'" \
	  "http://$(LISTEN)/v1/tokenInfo"; \
	echo "Tokens: $(BUILD)/exportd token create|list|revoke --data-dir $(DATA_DIR)"; \
	echo
	exec $(BUILD)/exportd serve --listen $(LISTEN) --data-dir $(DATA_DIR) \
	  --egress-allow-loopback

export ASAN_OPTIONS  := detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=1
export UBSAN_OPTIONS := print_stacktrace=1:halt_on_error=1

# Every test: the layers of src/ hold (tests/layering.py); both compilers
# and the fuzz harnesses build without a warning; then the C unit tests,
# the store's contract test against both drivers, the API suite on the
# sanitizer build against both stores (SQLite, then a throwaway PostgreSQL
# cluster), and the PostgreSQL back end's own tests (outages, concurrent
# migrations, a failover under Patroni); last, make install, the manual
# page against --help, and the Debian package installed, run and purged.
PYTEST := $(PYTHON) -m pytest -q -p no:cacheprovider

test: deps layering openapi-lint build build-asan build-clang fuzz-build test-sources
	meson test -C $(ASAN_BUILD) --suite unit --print-errorlogs
	tests/pg/with-cluster.sh meson test -C $(ASAN_BUILD) --suite contract --print-errorlogs
	env -u EXPORTD_DB EXPORTD_BIN=$(ASAN_BUILD)/exportd $(PYTEST) tests/api
	tests/pg/with-cluster.sh env EXPORTD_BIN=$(ASAN_BUILD)/exportd $(PYTEST) tests/api
	env -u EXPORTD_DB EXPORTD_BIN=$(ASAN_BUILD)/exportd $(PYTEST) tests/pg
	env -u EXPORTD_DB EXPORTD_BIN=$(ASAN_BUILD)/exportd $(PYTEST) tests/scale
	env -u EXPORTD_DB EXPORTD_BIN=$(ASAN_BUILD)/exportd $(PYTEST) tests/install

# Which folder of src/ may include which (docs/internals/layers.md).
layering:
	$(PYTHON) tests/layering.py

# The OpenAPI document (docs/openapi.md) linted by @redocly/cli, pinned in
# tests/openapi/package-lock.json and installed there (git-ignored) from
# npm. A lint error fails make test.
REDOCLY := tests/openapi/node_modules/.bin/redocly

$(REDOCLY): tests/openapi/package.json tests/openapi/package-lock.json
	cd tests/openapi && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The third-party API that the tests of running exports read from
# (tests/api/sources.py): json-server 0.17 (its _page/_limit paging with
# Link headers, _start/_end), pinned in tests/sources/package-lock.json
# and installed there (git-ignored) from npm.
JSON_SERVER := tests/sources/node_modules/.bin/json-server

$(JSON_SERVER): tests/sources/package.json tests/sources/package-lock.json
	cd tests/sources && npm ci --no-audit --no-fund --loglevel=error
	touch $@

.PHONY: test-sources
test-sources: $(JSON_SERVER)

openapi-lint: $(REDOCLY)
	$(REDOCLY) lint openapi/exportd.json --config tests/openapi/redocly.yaml

unit: build-asan
	meson test -C $(ASAN_BUILD) --suite unit --print-errorlogs

api: build-asan test-sources
	env -u EXPORTD_DB EXPORTD_BIN=$(ASAN_BUILD)/exportd $(PYTEST) tests/api

api-pg: build-asan test-sources
	tests/pg/with-cluster.sh env EXPORTD_BIN=$(ASAN_BUILD)/exportd $(PYTEST) tests/api

# Install the binary, the manual page exportd(1) (written by the build
# from the option table) and the systemd unit; PREFIX and DESTDIR as usual.
# install-files copies what $(BUILD) holds without building (debian/rules
# uses it). An existing $(SYSCONFDIR)/default/exportd is never replaced.
BINDIR     ?= $(PREFIX)/bin
MANDIR     ?= $(PREFIX)/share/man
UNITDIR    ?= $(PREFIX)/lib/systemd/system
SYSCONFDIR ?= /etc

install: build
	$(MAKE) --no-print-directory install-files

install-files:
	install -D -m 0755 $(BUILD)/exportd $(DESTDIR)$(BINDIR)/exportd
	install -D -m 0644 $(BUILD)/exportd.1 $(DESTDIR)$(MANDIR)/man1/exportd.1
	install -d $(DESTDIR)$(UNITDIR)
	sed -e 's|@bindir@|$(BINDIR)|g' -e 's|@sysconfdir@|$(SYSCONFDIR)|g' \
	  dist/exportd.service.in > $(DESTDIR)$(UNITDIR)/exportd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/exportd.service
	test -e $(DESTDIR)$(SYSCONFDIR)/default/exportd || \
	  install -D -m 0600 dist/exportd.default \
	    $(DESTDIR)$(SYSCONFDIR)/default/exportd

# A Debian package (debian/, debhelper) of the files in the working tree
# that git knows or would add, built in $(DEB_BUILD)/src; the .deb lands
# in $(DEB_BUILD). Needs DEPS_INSTALL.
DEB_BUILD  ?= build-deb

deb:
	rm -rf $(DEB_BUILD)
	mkdir -p $(DEB_BUILD)/src
	git ls-files -z --cached --others --exclude-standard | \
	  tar --null -T - --ignore-failed-read -cf - | tar -xf - -C $(DEB_BUILD)/src
	cd $(DEB_BUILD)/src && dpkg-buildpackage -us -uc -b
	@ls $(DEB_BUILD)/*.deb

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(CLANG_BUILD) $(DEB_BUILD)

# Fuzzing (docs/fuzzing.md): build the libFuzzer harnesses of tests/fuzz
# with clang, ASan and UBSan, then run each for FUZZ_SECONDS, one after
# the other on one core. FUZZ_TARGETS picks some (default: all).
FUZZ_SECONDS ?= 60
FUZZ_BUILD   ?= build-fuzz
FUZZ_TARGETS ?=

# Build the harnesses only (warnings are errors there too).
fuzz-build:
	FUZZ_BUILD=$(FUZZ_BUILD) tests/fuzz/build.sh $(FUZZ_TARGETS)

.PHONY: fuzz
fuzz: fuzz-build
	FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) \
	  tests/fuzz/run.sh $(FUZZ_TARGETS)
