#!/usr/bin/env bash
# Builds the linux/arm64 Lambda zips (bootstrap + pipeline.yaml) of the four
# services into a directory: lambda-zips.sh PIPELINE OUTDIR.
#
# The zips are reproducible: the same sources, toolchain and pipeline file
# give the same bytes, so Terraform's source_code_hash (the zip's SHA-256)
# changes only when the code or the config does. The binary is built with
# -trimpath and -buildvcs=false (no paths, no VCS stamp), and
# build-lambda-zip writes no timestamps or owners into the zip.
#
# --check [PIPELINE] builds everything twice into two fresh directories
# and fails unless every zip is byte-identical (`make lambda-zips-check`);
# without PIPELINE it packs a placeholder config.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LAMBDAS=(scheduler dedupe fetcher writer)
LAMBDA_GO_VERSION=v1.55.1

check=0
if [[ "${1:-}" == --check ]]; then
	check=1
	shift
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

pipeline="${1:-}"
if [[ -z "$pipeline" && $check == 1 ]]; then
	# Any fixed bytes do to compare two builds.
	pipeline="$work/pipeline.yaml"
	echo "# lambda-zips --check: placeholder pipeline config" >"$pipeline"
fi
[[ -n "$pipeline" ]] || { echo "usage: lambda-zips.sh [--check] PIPELINE [OUTDIR]" >&2; exit 2; }
[[ -f "$pipeline" ]] || { echo "lambda-zips: $pipeline: no such file" >&2; exit 1; }
pipeline="$(cd "$(dirname "$pipeline")" && pwd)/$(basename "$pipeline")"
# The zip tool, built once (outside the workspace, at its pinned version).
(cd "$work" && GOWORK=off GOFLAGS= GOBIN="$work/bin" go install "github.com/aws/aws-lambda-go/cmd/build-lambda-zip@$LAMBDA_GO_VERSION")

build() { # outdir
	mkdir -p "$1"
	local out
	out="$(cd "$1" && pwd)"
	for s in "${LAMBDAS[@]}"; do
		local d="$work/$s"
		rm -rf "$d" && mkdir -p "$d"
		(cd "$ROOT" && GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build -tags lambda.norpc -trimpath -buildvcs=false -ldflags='-s -w' -o "$d/bootstrap" "./services/$s")
		cp "$pipeline" "$d/pipeline.yaml"
		(cd "$d" && "$work/bin/build-lambda-zip" -o "$out/$s.zip" bootstrap pipeline.yaml 2>/dev/null)
	done
	# The copy Terraform reads for the Glue tables (pipeline_config_file):
	# the tables describe the config the functions run with.
	cp "$pipeline" "$out/pipeline.yaml"
}

if ((check)); then
	build "$work/a"
	build "$work/b"
	status=0
	for s in "${LAMBDAS[@]}"; do
		a="$(sha256sum <"$work/a/$s.zip" | cut -d' ' -f1)"
		b="$(sha256sum <"$work/b/$s.zip" | cut -d' ' -f1)"
		if [[ "$a" == "$b" ]]; then
			echo "lambda-zips: $s.zip reproducible (sha256 $a)"
		else
			echo "lambda-zips: $s.zip differs between two builds: $a vs $b" >&2
			status=1
		fi
	done
	exit "$status"
fi
build "${2:?usage: lambda-zips.sh PIPELINE OUTDIR}"
for s in "${LAMBDAS[@]}"; do echo "lambda-zips: wrote ${2}/$s.zip"; done
