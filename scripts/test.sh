#!/usr/bin/env bash
# Runs every test of every module in the workspace against the local
# emulators. Starts the emulators when they are not running and stops them
# afterwards (only if this script started them, even if starting failed
# half-way). Arguments go to `go test`.
#
# SLUICE_DEVSTACK=external: the emulators are someone else's; this script
# never starts or stops them (and neither do the tests), it runs the tests.
# Either way it installs the pinned aws-lambda-rie, which the Lambda tests
# start themselves (one per function under test; no shared process).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

started=0
cleanup() { if ((started)); then scripts/stack.sh down || true; fi; }
# Installed before `up`, so that a start that fails half-way (one emulator
# up, the next one not) stops what it did start.
trap cleanup EXIT
if [[ "${SLUICE_DEVSTACK:-}" != external ]] && ! scripts/stack.sh status >/dev/null 2>&1; then
	started=1
	scripts/stack.sh up
fi

scripts/stack.sh install rie

modules=(shared services/scheduler services/dedupe services/fetcher services/writer services/sluicectl scripts scripts/demoapi)
pkgs=()
for m in "${modules[@]}"; do pkgs+=("./$m/..."); done

go vet "${pkgs[@]}"
# terraform fmt, tflint and tfsec over infra/ (offline; the HCL rule and
# drift checks are the Go tests of scripts/infracheck, run below).
scripts/infracheck.sh
# terraform validate and plan against the real AWS provider when it has
# been built (make infra-plan, once, ~40 min); otherwise one line saying
# so. A cold run never starts that build.
scripts/infraplan.sh --if-cached
# The emulators are shared: the integration tests isolate themselves by
# resource prefix, so packages may run in parallel.
go test "$@" -skip '^TestShortRound$' "${pkgs[@]}"
# The short chaos round (scripts/chaos, fixed seed) alone, last: its
# processes are killed and paused on a schedule, and its figures line is
# printed (-v), so it should not share the machine with the other e2e tests.
go test "$@" -v -run '^TestShortRound$' ./scripts/chaos
