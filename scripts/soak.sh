#!/usr/bin/env bash
# make test-soak: the test suite on a local stack that has been up all day.
#
# On one long-lived set of emulators — started here if none runs, left as
# they were otherwise — it runs, back to back:
#
#   1. the demo (`make demo`);
#   2. one input of 1,000,000 records (the demo, one source and one day);
#   3. the whole test suite (`make test`) SOAK_ROUNDS times (default 3).
#
# Nothing restarts the emulators between the steps, so the tests meet the
# connections, queues, tables and buckets that earlier work left behind.
# Prints one line per step with its time, and a last line with the result.
# Arguments go to `go test`, as for scripts/test.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

rounds="${SOAK_ROUNDS:-3}"
started=0
cleanup() { if ((started)); then scripts/stack.sh down || true; fi; }
trap cleanup EXIT
if ! scripts/stack.sh status >/dev/null 2>&1; then
	started=1
	scripts/stack.sh up
fi

logdir="$ROOT/.local/soak/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$logdir"
summary=()
step() { # name, command...
	local name="$1" t0 rc
	shift
	t0=$(date +%s)
	echo "soak: $name (log: $logdir/$name.log)" >&2
	set +e
	"$@" >"$logdir/$name.log" 2>&1
	rc=$?
	set -e
	local line
	line=$(printf '%-14s %s in %ds' "$name" "$([ $rc -eq 0 ] && echo ok || echo FAILED)" $(($(date +%s) - t0)))
	echo "soak: $line" >&2
	summary+=("$line")
	if ((rc != 0)); then
		tail -n 60 "$logdir/$name.log" >&2
		return $rc
	fi
}

failed=0
step demo go run ./scripts/demo || failed=1
step input-1M go run ./scripts/demo -sources orders -days 1 -records-per-day 1000000 -timeout 10m || failed=1
for i in $(seq 1 "$rounds"); do
	step "test-$i" env SLUICE_DEVSTACK=external scripts/test.sh "$@" || failed=1
done

echo
printf '%s\n' "${summary[@]}"
if ((failed)); then
	echo "soak: FAILED (logs in $logdir)"
	exit 1
fi
echo "soak: all green on one long-lived stack (logs in $logdir)"
