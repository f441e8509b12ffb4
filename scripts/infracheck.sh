#!/usr/bin/env bash
# The infrastructure linters, offline, over infra/: `terraform fmt -check`
# (where terraform is on PATH), tflint with its built-in Terraform ruleset,
# and tfsec failing on any HIGH or CRITICAL finding. The linters are
# installed by scripts/infratools.sh under $HOME/.cache on first use. The
# HCL rule and drift checks are Go tests (scripts/infracheck), run by
# `go test` with every other package.
#
# Waivers live in the .tf files, each with its reason on the same line:
#   #tfsec:ignore:<rule> <reason>     # tflint-ignore: <rule> <reason>
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

start=$SECONDS
tools="$(scripts/infratools.sh)"

# A CLI config the environment names but that does not exist only makes
# terraform warn on every call; fmt needs none.
if [[ -n "${TF_CLI_CONFIG_FILE:-}" && ! -e "$TF_CLI_CONFIG_FILE" ]]; then
	unset TF_CLI_CONFIG_FILE
fi
if command -v terraform >/dev/null; then
	# terraform fmt needs no provider and no init.
	terraform fmt -check -recursive -diff infra
	echo "infracheck: terraform fmt: ok ($(terraform version | head -1))"
else
	echo "infracheck: terraform fmt: SKIPPED, terraform is not on PATH (the Go test TestFormat checks the same canonical form)"
fi

modules=()
for d in infra/modules/* infra/envs/*; do
	[[ -d "$d" ]] && modules+=("$d")
done
for d in "${modules[@]}"; do
	"$tools/tflint" --chdir="$d" --config="$ROOT/infra/.tflint.hcl" --format=compact
done
echo "infracheck: tflint $("$tools/tflint" --version | head -1 | awk '{print $NF}') (built-in terraform ruleset, preset all): ok on ${modules[*]}"

# --minimum-severity HIGH: findings below HIGH are printed by a full run
# (tfsec infra) but do not fail the build.
"$tools/tfsec" infra --minimum-severity HIGH --no-color --concise-output --exclude-downloaded-modules
echo "infracheck: tfsec: no HIGH or CRITICAL findings"
echo "infracheck: done in $((SECONDS - start))s"
