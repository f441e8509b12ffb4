#!/usr/bin/env bash
# Runs every test of every module in the workspace against the local
# emulators. Starts the emulators when they are not running and stops them
# afterwards (only if this script started them). Arguments go to `go test`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

started=0
if ! scripts/stack.sh status >/dev/null 2>&1; then
	scripts/stack.sh up
	started=1
fi
cleanup() { if ((started)); then scripts/stack.sh down || true; fi; }
trap cleanup EXIT

modules=(shared services/scheduler services/dedupe services/fetcher services/writer services/sluicectl scripts)
pkgs=()
for m in "${modules[@]}"; do pkgs+=("./$m/..."); done

go vet "${pkgs[@]}"
# The emulators are shared: the integration tests isolate themselves by
# resource prefix, so packages may run in parallel.
go test "$@" "${pkgs[@]}"
