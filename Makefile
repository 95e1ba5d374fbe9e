# etcd-deploy: the first two commands on a fresh machine are `make demo` and `make test`.
SHELL := /bin/bash
NODE_BIN := node_modules/.bin
CLI := node dist/src/cli/main.js
LAB := lab/lab.sh
LAB_INVENTORY := .lab/inventory.yaml
# Test files, not directories: Node 21+ reads `node --test` arguments as glob patterns and no longer walks a directory.
UNIT_TESTS := dist/test/unit/*.test.js dist/test/integration/*.test.js
E2E_TESTS := dist/test/e2e/*.test.js
DEMO_TESTS := dist/test/e2e-demo/*.test.js

.PHONY: all deps build lint typecheck unit unit-node e2e test demo lab-deps lab-up lab-down lab-status bench bench-startup pack pack-test clean

all: build

# npm ci only when the lock file changed since the last install. Without install scripts, whatever the npm version: the
# only ones are ssh2's and cpu-features' optional native binding, which nothing here needs (package.json allowScripts
# denies them for npm 11.16+, and npm 12 blocks unapproved scripts anyway), so tests run what operators install.
node_modules/.installed: package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund
	@touch $@

deps: node_modules/.installed

# tsc writes dist/ module by module (the tests import them one by one); scripts/bundle.mjs then replaces the command's
# entry, dist/src/cli/main.js, by an esbuild bundle with its handlers in dist/src/cli/chunks/ (docs/performance.md).
build: deps
	$(NODE_BIN)/tsc -p tsconfig.json
	node scripts/bundle.mjs

typecheck: deps
	$(NODE_BIN)/tsc -p tsconfig.json --noEmit

lint: deps
	$(NODE_BIN)/eslint src test

unit: build
	node --test $(UNIT_TESTS)

# The unit and integration tests under another Node.js, on the build already made: make unit-node NODE=/path/to/node
# (.ci/run: Node 22 and 24 from the npm registry).
unit-node:
	@test -x "$(NODE)" || { echo "unit-node: give NODE=/path/to/node" >&2; exit 2; }
	@echo "unit-node: $$("$(NODE)" --version)"
	"$(NODE)" --test $(UNIT_TESTS)

# End-to-end tests need root and the lab: `make demo` in a terminal first (it brings its own lab up), then a fresh lab
# for the suite (with the etcd 3.5 images the upgrade test needs: --with-35); always torn down.
e2e: build lab-deps
	@if [ "$$(id -u)" != 0 ]; then \
	  echo "!!! SKIPPING end-to-end tests: they need root to build the lab (network namespaces, dockerd, sshd) !!!"; \
	  if [ -n "$$CI" ]; then echo "CI=true: a skipped end-to-end suite fails the run"; exit 1; fi; \
	  exit 0; fi
	flock /run/edl-session.lock bash -c 'trap "$(LAB) down" EXIT; EDL_SESSION_LOCK_HELD=1 node --test $(DEMO_TESTS) && $(LAB) up --nodes 3 --bastion --with-35 && node --test --test-concurrency=1 $(E2E_TESTS)'

test: build lint
	node --test $(UNIT_TESTS)
	$(MAKE) pack-test
	$(MAKE) e2e

lab-deps:
	@if [ "$$(id -u)" = 0 ]; then bash lab/deps.sh; else echo "lab-deps: not root, skipping Debian packages"; fi

lab-up: lab-deps
	$(LAB) up --nodes $${NODES:-3}

lab-down:
	$(LAB) down

lab-status:
	$(LAB) status

# Installs what it needs, brings the lab up, bootstraps a cluster on it, and shows it.
demo: build lab-up
	$(CLI) plan -i $(LAB_INVENTORY)
	$(CLI) up -i $(LAB_INVENTORY)
	@echo
	@echo "The lab stays up: try '$(CLI) up -i $(LAB_INVENTORY)' again (a no-op), then 'make lab-down'."

# Not a test: bootstrap-to-healthy against a floor, and plan cold start (docs/performance.md). Takes the shared lab
# lock, brings a fresh 3-host lab up and always takes it down again. BENCH_ARGS e.g. '--runs 9 --json bench.json';
# '--large' adds the large-database section (a 2.5 GiB+ database: snapshot save, rolling replace, rebootstrap
# --restore against OpenSSH; about 20 minutes more), '--large-only' runs that section alone.
bench: build lab-deps
	@if [ "$$(id -u)" != 0 ]; then echo "bench: needs root (the lab uses network namespaces, dockerd and sshd)"; exit 2; fi
	flock /run/edl-session.lock bash -c 'trap "$(LAB) down >/dev/null" EXIT; $(LAB) up --nodes 3 >/dev/null || exit 1; \
	  node dist/test/bench/bench.js $(BENCH_ARGS); rc=$$?; exit $$rc'

# The start-up section of the benchmark alone (--help, --version, completion against node -e 0): no lab, no root.
bench-startup: build
	node dist/test/bench/bench.js --startup-only $(BENCH_ARGS)

pack: build
	npm pack

# What an operator installs works: pack the tarball, install it globally into a temporary prefix (dependencies from the
# npm registry, or its cache; without install scripts, as npm 12 installs by default: ssh2 then has no native binding,
# which it does not need), and run the installed command: --version, --help, plan on the example inventory, and init
# (whose inventory names the shipped schema by a path found from the bundle's chunk: scripts/bundle.mjs).
# pack-check.js then holds the installed package to what it must be (test/support/runtime-modules.ts): LICENSE and the
# package's links, no module the command never loads (build-only scripts), no sourceMappingURL naming a map that is
# not shipped, every package imported at run time in "dependencies" and nothing else there.
pack-test: build
	@set -euo pipefail; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	npm pack --silent --pack-destination "$$tmp" >/dev/null; \
	tgz=$$(ls "$$tmp"/etcd-deploy-*.tgz); \
	echo "pack-test: $$(basename "$$tgz") holds $$(tar -tzf "$$tgz" | wc -l) files"; \
	if tar -tzf "$$tgz" | grep -Eq '^package/(dist/test|src|test|lab)/'; then echo "pack-test: tests or sources in the tarball" >&2; exit 1; fi; \
	npm install -g --prefix "$$tmp/prefix" --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=error "$$tgz" >/dev/null; \
	bin="$$tmp/prefix/bin/etcd-deploy"; \
	test -x "$$bin" || { echo "pack-test: $$bin is not an executable" >&2; exit 1; }; \
	head -n1 "$$(readlink -f "$$bin")" | grep -qx '#!/usr/bin/env node' || { echo "pack-test: no node shebang" >&2; exit 1; }; \
	version=$$(cd "$$tmp" && "$$bin" --version); \
	test "$$version" = "$$(node -p 'require("./package.json").version')" || { echo "pack-test: --version printed '$$version'" >&2; exit 1; }; \
	(cd "$$tmp" && "$$bin" --help | grep -q '^Examples:'); \
	lib="$$tmp/prefix/lib/node_modules/etcd-deploy"; \
	(cd "$$tmp" && "$$bin" plan -i "$$lib/inventory.example.yaml" | grep -q '^Plan: 3 etcd members'); \
	(cd "$$tmp" && "$$bin" plan -i "$$lib/inventory.example.yaml" --json | node -e 'const d=JSON.parse(require("fs").readFileSync(0,"utf8")); if (d.hosts.length !== 3) process.exit(1)'); \
	test -f "$$lib/schema/inventory.schema.json"; \
	(cd "$$tmp" && "$$bin" init -i "$$tmp/init.yaml" --name t --node a=198.18.0.11 --node b=198.18.0.12 --node c=198.18.0.13 --no-tls >/dev/null); \
	schema=$$(sed -n '1s/^# yaml-language-server: [$$]schema=//p' "$$tmp/init.yaml"); \
	test -f "$$tmp/$$schema" || { echo "pack-test: init's inventory names the schema '$$schema', which is not there" >&2; exit 1; }; \
	node dist/test/support/pack-check.js "$$lib"; \
	echo "pack-test: installed etcd-deploy $$version runs --version, --help, plan and init"

clean:
	rm -rf dist *.tgz
