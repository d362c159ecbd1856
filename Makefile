# Laurel's Makefile. Every Go target runs once per module of the workspace (see MODULES), the
# way opentelemetry-go-contrib does it, so a module never hides behind another's build.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

MODULES := proto openbadges platform services/issuer services/rules services/notifier services/verifier cmd/laurel
# Folders holding a package-lock.json for the independent (npm) implementations the tests
# compare against; `make test` installs them from the lock file when node_modules is missing.
NODE_DIRS := $(patsubst %/package-lock.json,%,$(shell git ls-files '*package-lock.json' 2>/dev/null))
TOOLS_MOD := $(CURDIR)/tools/go.mod
GOTOOL := GOWORK=off go tool -modfile=$(TOOLS_MOD)
TEST_FLAGS ?= -race -count=1 -timeout 20m
DATA ?= ./laurel-data

include proto/Makefile.inc
include deploy/Makefile.inc

.PHONY: help
help: ## List the targets.
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sort | awk 'BEGIN {FS = ":.*## "} {printf "  %-16s %s\n", $$1, $$2}'

.PHONY: run
run: ## Run Laurel on a laptop with the demo: `laurel dev --demo`, embedded NATS and state store (DATA=./laurel-data).
	go run ./cmd/laurel dev --demo --data $(DATA) $(ARGS)

.PHONY: build
build: ## Build the static laurel binary into bin/ (what the container image ships).
	CGO_ENABLED=0 go build -trimpath -o bin/laurel ./cmd/laurel

.PHONY: test
test: node-deps test-deploy ## Run every module's tests with -race against real NATS (embedded) and Redis.
	@for m in $(MODULES); do \
		echo "== go test $$m"; \
		(cd $$m && go test $(TEST_FLAGS) ./...) || exit 1; \
	done

.PHONY: gobench
gobench: ## Run every module's Go benchmarks once (BENCH=regexp, BENCHTIME=1s); numbers go in issue notes.
	@for m in $(MODULES); do \
		echo "== go bench $$m"; \
		(cd $$m && go test -run '^$$' -bench '$(or $(BENCH),.)' -benchtime $(or $(BENCHTIME),1s) -benchmem ./...) || exit 1; \
	done

.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME each (default 30s; FUZZ=regexp picks targets); crashers land in testdata/fuzz.
	@set -e; for m in $(MODULES); do \
	  for pkg in $$(cd $$m && go list ./...); do \
	    for f in $$(cd $$m && go test -list '$(or $(FUZZ),^Fuzz)' $$pkg | grep '^Fuzz' || true); do \
	      echo "== $$pkg $$f"; (cd $$m && go test -run XXX -fuzz "^$$f\$$" -fuzztime $(or $(FUZZTIME),30s) $$pkg); \
	    done; \
	  done; \
	done

.PHONY: chaos
chaos: ## Crash test: kill -9 services, Redis and NATS under 50,000 events, then reconcile (ARGS="--events N --seed S --out DIR"); see docs/chaos.md.
	go run ./cmd/laurel/chaos $(ARGS)

# `make bench` results (JSON with per-second series, SVG charts, summaries) go to BENCH_DIR, which
# ignores itself in git.
BENCH_DIR ?= ./bench-results
BENCH_EVENTS ?= 50000
BENCH_AWARD_EVENTS ?= 10000

.PHONY: bench
bench: ## Measure the whole pipeline beside raw JetStream (laurel bench): few awards with Redis, then every event earning a credential; results in bench-results/.
	@mkdir -p $(BENCH_DIR) && echo '*' > $(BENCH_DIR)/.gitignore
	go build -o $(BENCH_DIR)/laurel ./cmd/laurel
	$(BENCH_DIR)/laurel bench --scenario "few awards, 10 rules per tenant, Redis" --store redis --rules-per-tenant 10 \
		--events $(BENCH_EVENTS) --json $(BENCH_DIR)/few-awards.json --svg $(BENCH_DIR)/few-awards.svg $(BENCH_ARGS) | tee $(BENCH_DIR)/few-awards.txt
	$(BENCH_DIR)/laurel bench --scenario "every event earns a credential" --every-event-awards \
		--events $(BENCH_AWARD_EVENTS) --json $(BENCH_DIR)/every-event.json --svg $(BENCH_DIR)/every-event.svg $(BENCH_ARGS) | tee $(BENCH_DIR)/every-event.txt
	@echo; echo "== make bench: both scenarios"; cat $(BENCH_DIR)/few-awards.txt; echo; cat $(BENCH_DIR)/every-event.txt

.PHONY: node-deps
node-deps: ## Install the pinned npm packages the interoperability tests use (from package-lock.json).
	@for d in $(NODE_DIRS); do \
		if [ ! -d "$$d/node_modules" ]; then echo "== npm ci $$d"; npm ci --prefix "$$d" --no-audit --no-fund --loglevel=error; fi; \
	done

# Generated reference pages: docs/reference/api.md from the proto comments (buf keeps them in
# the descriptor set; the generated Go code drops them) and docs/configuration.md from the
# commands' real flag sets. `make generate` refreshes the API page too, since it reads the
# same .proto files; check-generate fails when either page is stale.
.PHONY: generate-docs generate-api-docs check-docs
generate-docs: generate-api-docs ## Regenerate docs/reference/api.md (proto comments), docs/configuration.md (flags) and the snippets in docs/clients.md.
	cd cmd/laurel && go test -count=1 -run '^(TestConfigurationReference|TestClientsDocEmbedsSnippets)$$' . -args -update-docs

generate-api-docs:
	cd proto && $(PROTO_BUF) build --as-file-descriptor-set -o - | \
		(cd $(CURDIR)/cmd/laurel && go run ./internal/docgen/apiref -o $(CURDIR)/docs/reference/api.md)

check-docs: ## Fail when a page generate-docs writes (API, configuration, client snippets) is stale.
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	(cd proto && $(PROTO_BUF) build --as-file-descriptor-set -o -) | (cd cmd/laurel && go run ./internal/docgen/apiref -o "$$tmp/api.md") && \
	if diff -u "$$tmp/api.md" docs/reference/api.md >"$$tmp/diff"; then \
		echo "docs/reference/api.md is up to date"; \
	else \
		head -n 100 "$$tmp/diff"; \
		echo "check-docs: docs/reference/api.md is stale (diff above: - generated, + in tree); run 'make generate-docs' and commit it" >&2; \
		exit 1; \
	fi
	cd cmd/laurel && go test -count=1 -run '^(TestConfigurationReference|TestClientsDocEmbedsSnippets)$$' .

generate: generate-api-docs
check-generate: check-docs

.PHONY: lint
lint: buf-lint lint-deploy ## gofmt, go vet, buf lint and staticcheck on every module.
	@out=$$(git ls-files '*.go' | grep -v '^proto/gen/' | xargs gofmt -l); \
		if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@for m in $(MODULES); do \
		echo "== vet + staticcheck $$m"; \
		(cd $$m && go vet ./... && $(GOTOOL) staticcheck ./...) || exit 1; \
	done

.PHONY: tidy
tidy: ## go mod tidy in every module (each also builds with GOWORK=off).
	@for m in $(MODULES) tools tools/buf deploy; do (cd $$m && GOWORK=off go mod tidy) || exit 1; done
	go work sync

.PHONY: build-gowork-off
build-gowork-off: ## Prove every module builds on its own, without the workspace.
	@for m in $(MODULES); do (cd $$m && GOWORK=off go build ./... && GOWORK=off go vet ./...) || exit 1; done

.PHONY: print-modules
print-modules:
	@echo $(MODULES)
