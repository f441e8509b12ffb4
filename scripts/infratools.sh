#!/usr/bin/env bash
# Installs the pinned infrastructure linters if missing and prints the
# directory holding them (tflint, tfsec). Each version goes to its own
# directory under $SLUICE_TOOLS (default $HOME/.cache/sluice/tools), so a
# warm run only checks that the binaries are there, and a pin change
# installs beside the old one instead of over it.
#
# A cold install builds both from source through the Go module proxy
# (`go install`); with a cold module cache it takes a few minutes.
set -euo pipefail

TFLINT_VERSION=v0.61.0
TFSEC_VERSION=v1.26.0

tools="${SLUICE_TOOLS:-$HOME/.cache/sluice/tools}"
dir="$tools/tflint-$TFLINT_VERSION-tfsec-$TFSEC_VERSION"

install() { # name module version
	if [[ -x "$dir/$1" ]]; then
		return
	fi
	mkdir -p "$dir"
	local start=$SECONDS
	# CGO off: static binaries, no C toolchain needed; GOFLAGS cleared so a
	# caller's -mod or -tags do not reach the tools' own modules.
	GOBIN="$dir" CGO_ENABLED=0 GOFLAGS= GOWORK=off go install "$2@$3" >&2
	echo "infratools: installed $1 $3 in $((SECONDS - start))s" >&2
}

install tflint github.com/terraform-linters/tflint "$TFLINT_VERSION"
install tfsec github.com/aquasecurity/tfsec/cmd/tfsec "$TFSEC_VERSION"
echo "$dir"
