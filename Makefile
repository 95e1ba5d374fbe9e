# etcd-deploy: the first two commands on a fresh machine are `make demo` and `make test`.
SHELL := /bin/bash
NODE_BIN := node_modules/.bin
CLI := node dist/src/cli/main.js
LAB := lab/lab.sh
LAB_INVENTORY := .lab/inventory.yaml

.PHONY: all deps build lint typecheck unit e2e test demo lab-deps lab-up lab-down lab-status bench pack clean

all: build

# npm ci only when the lock file changed since the last install.
node_modules/.installed: package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

deps: node_modules/.installed

build: deps
	$(NODE_BIN)/tsc -p tsconfig.json

typecheck: deps
	$(NODE_BIN)/tsc -p tsconfig.json --noEmit

lint: deps
	$(NODE_BIN)/eslint src test

unit: build
	node --test dist/test/unit dist/test/integration

# End-to-end tests need root and the lab: bring it up, run them, always tear it down.
e2e: build lab-deps
	@if [ "$$(id -u)" != 0 ]; then \
	  echo "!!! SKIPPING end-to-end tests: they need root to build the lab (network namespaces, dockerd, sshd) !!!"; \
	  if [ -n "$$CI" ]; then echo "CI=true: a skipped end-to-end suite fails the run"; exit 1; fi; \
	  exit 0; fi
	trap '$(LAB) down' EXIT; $(LAB) up --nodes 3 && node --test --test-concurrency=1 dist/test/e2e

test: build lint
	node --test dist/test/unit dist/test/integration
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

bench: build lab-up
	node dist/test/bench/bench.js

pack: build
	npm pack

clean:
	rm -rf dist *.tgz
