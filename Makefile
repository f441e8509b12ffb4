# Sluice — run `make help` for the targets.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

MODULES := shared services/scheduler services/dedupe services/fetcher services/writer services/sluicectl scripts scripts/demoapi
LAMBDAS := scheduler dedupe fetcher writer
GOTEST_FLAGS ?= -race -count=1 -timeout 12m

.PHONY: help
help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-15s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: up
up: ## install the pinned emulators and aws-lambda-rie if missing; start the emulators on 127.0.0.1
	scripts/stack.sh up

.PHONY: down
down: ## stop the local emulators
	scripts/stack.sh down

.PHONY: status
status: ## show whether the local emulators answer
	scripts/stack.sh status

.PHONY: demo
demo: ## run the whole pipeline end to end on the local stack and check the output (DEMO_FLAGS="-format parquet -records-per-day N …")
	go run ./scripts/demo $(DEMO_FLAGS)

.PHONY: dev
dev: ## run the four services against your pipeline on the local stack, print the exports, show the runs until Ctrl-C; PIPELINE=path (DEV_FLAGS="-schedule-every 1h …")
	@test -n "$(PIPELINE)" || { echo "set PIPELINE=path/to/pipeline.yaml"; exit 2; }
	@go build -o .local/bin/sluice-dev ./scripts/dev
	@.local/bin/sluice-dev -pipeline "$(PIPELINE)" $(DEV_FLAGS)

.PHONY: test
test: ## run all unit and integration tests (emulators started if needed, stopped after)
	scripts/test.sh $(GOTEST_FLAGS)

.PHONY: chaos
chaos: ## chaos round: 6 sources × 4 days (one walked in time slices) through the real binaries, fetchers and writers killed and paused at random, API faults and a quota; one line of figures (CHAOS_FLAGS="-seed N …")
	go run ./scripts/chaos $(CHAOS_FLAGS)

.PHONY: test-soak
test-soak: ## on one long-lived stack: make demo, a 1M-record input, then make test 3 times (SOAK_ROUNDS)
	scripts/soak.sh $(GOTEST_FLAGS)

.PHONY: bench
bench: ## run the Go benchmarks (throughput and allocations of the hot paths)
	go test -run '^$$' -bench . -benchmem $(addprefix ./,$(addsuffix /...,$(MODULES)))

.PHONY: bench-pipeline
bench-pipeline: ## measure the whole pipeline on the local stack against references run beside it; table to scripts/bench/results/<date>.md (BENCH_FLAGS=-quick; '-only P1b' or '-only P2,P3': some figures, printed only; '-pprof DIR': the large input's services profiled; -p1b-concurrency N)
	go run ./scripts/bench $(BENCH_FLAGS)

.PHONY: vet
vet: ## go vet, gofmt and go.mod tidiness over every module
	go vet $(addprefix ./,$(addsuffix /...,$(MODULES)))
	@test -z "$$(gofmt -l $(MODULES))" || { gofmt -l $(MODULES); echo "gofmt needed"; exit 1; }
	@for m in $(MODULES); do (cd $$m && go mod tidy -diff >/dev/null) || { echo "go mod tidy needed in $$m"; exit 1; }; done

.PHONY: build
build: ## build the service binaries and sluicectl into .local/bin
	go build -o .local/bin/ ./services/scheduler ./services/dedupe ./services/fetcher ./services/writer ./services/sluicectl

.PHONY: lambda-zips
lambda-zips: ## build reproducible linux/arm64 Lambda zips (bootstrap + pipeline.yaml) into infra/build; PIPELINE=path
	@test -n "$(PIPELINE)" || { echo "set PIPELINE=path/to/pipeline.yaml"; exit 1; }
	scripts/lambda-zips.sh "$(PIPELINE)" infra/build

.PHONY: lambda-zips-check
lambda-zips-check: ## build the Lambda zips twice and fail unless they are byte-identical; PIPELINE=path (default: a placeholder)
	scripts/lambda-zips.sh --check $(PIPELINE)

.PHONY: infra-check
infra-check: ## the offline infrastructure checks alone: HCL rules and drift (scripts/infracheck), terraform fmt, tflint, tfsec, reproducible zips, and make infra-plan if the provider is built
	scripts/infracheck.sh
	go test -count=1 ./scripts/infracheck/...
	scripts/lambda-zips.sh --check
	scripts/infraplan.sh --if-cached

.PHONY: infra-plan
infra-plan: ## terraform init, validate and plan of infra/envs/example against the real AWS provider, offline, and assertions on the plans (first run builds the provider: ~40 min)
	scripts/infraplan.sh

.PHONY: clean
clean: ## stop the emulators and remove .local (installs, state, logs)
	-scripts/stack.sh down
	rm -rf .local infra/build
