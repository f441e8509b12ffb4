#!/usr/bin/env bash
# `terraform init`, `validate` and `plan` of infra/envs/example against the
# real AWS provider, offline, then Go assertions on `terraform show -json`
# of each plan (scripts/infracheck, TestPlan*). `make infra-plan`.
#
# The provider cannot be downloaded here, so it is built from its Go module
# at a pinned pseudo-version (the registry's tags are not served by the Go
# module proxy: their module path lacks a /v6 suffix) into
#   $SLUICE_PROVIDER_CACHE/<pseudo-version>/.build/  (default $HOME/.cache/sluice/tf-provider-aws)
# The first build takes ~40 min of wall time on 2 cores (66 CPU-minutes,
# ~2 GB of modules, a 905 MB binary); later runs find it there. Terraform
# gets it from a filesystem mirror beside it, through a CLI config written
# to a temporary directory (TF_CLI_CONFIG_FILE), with every direct
# registry download excluded.
#
# The example is copied to a temporary directory and planned there, with
# generated *_override.tf files: the provider's fake credentials and its
# STS endpoint pointed at scripts/fakests on 127.0.0.1 (the one AWS call a
# plan of a new stack makes is GetCallerIdentity, for
# data.aws_caller_identity), and each variant's module arguments. Nothing
# is written into infra/ but the Lambda zips, built into infra/build when
# missing (scripts/lambda-zips.sh with scripts/infraplan/pipeline.yaml).
#
# Any error or warning from init, validate or plan fails the run. The plan
# JSON files are kept in .local/infraplan/ for reading.
#
#   infraplan.sh              build the provider if it is not cached, then plan
#   infraplan.sh --if-cached  plan if the provider is cached; otherwise print
#                             one line saying how to build it and exit 0
#                             (scripts/test.sh: a cold run never starts the build)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PROVIDER_MODULE=github.com/hashicorp/terraform-provider-aws
# The provider's main branch of 2 June 2026.
PROVIDER_PSEUDO=v1.60.1-0.20260602190131-5f2286d6d836
# The version Terraform sees in the mirror: version/VERSION at that commit
# (6.48.0 was unreleased), inside every constraint in infra/**/versions.tf.
PROVIDER_VERSION=6.47.1

cache="${SLUICE_PROVIDER_CACHE:-$HOME/.cache/sluice/tf-provider-aws}/$PROVIDER_PSEUDO"
provider_bin="$cache/.build/terraform-provider-aws"
mirror="$cache/mirror"

if_cached=0
if [[ "${1:-}" == --if-cached ]]; then
	if_cached=1
fi

if ((if_cached)) && ! command -v terraform >/dev/null; then
	echo "infraplan: SKIPPED, terraform is not on PATH (make infra-plan plans infra/envs/example against the real AWS provider)"
	exit 0
fi
if [[ ! -x "$provider_bin" ]]; then
	if ((if_cached)); then
		echo "infraplan: SKIPPED, no AWS provider built at $provider_bin; \`make infra-plan\` builds it once (~40 min on 2 cores) and then plans infra/envs/example against it"
		exit 0
	fi
	command -v terraform >/dev/null || { echo "infraplan: terraform is not on PATH" >&2; exit 1; }
	echo "infraplan: building $PROVIDER_MODULE@$PROVIDER_PSEUDO into $cache/.build (first time only: ~40 min on 2 cores, ~2 GB of modules)" >&2
	mkdir -p "$cache/.build"
	start=$SECONDS
	# -mod=mod: the provider's go.mod is not tidy for a build outside its
	# repository. Written under another name and renamed, so that a build
	# that is interrupted leaves no binary that looks finished.
	(cd "$cache" && GOWORK=off GOBIN="$cache/.build/tmp" GOFLAGS=-mod=mod nice go install -ldflags='-s -w' "$PROVIDER_MODULE@$PROVIDER_PSEUDO")
	mv "$cache/.build/tmp/terraform-provider-aws" "$provider_bin"
	rmdir "$cache/.build/tmp"
	echo "infraplan: built the provider in $((SECONDS - start))s" >&2
fi
command -v terraform >/dev/null || { echo "infraplan: terraform is not on PATH" >&2; exit 1; }

start=$SECONDS
# The mirror's unpacked layout; a hard link costs no space (a copy if the
# mirror is on another file system).
platform="$(go env GOOS)_$(go env GOARCH)"
mirrored="$mirror/registry.terraform.io/hashicorp/aws/$PROVIDER_VERSION/$platform/terraform-provider-aws_v${PROVIDER_VERSION}_x5"
if [[ ! -x "$mirrored" ]]; then
	mkdir -p "$(dirname "$mirrored")"
	ln -f "$provider_bin" "$mirrored" 2>/dev/null || cp "$provider_bin" "$mirrored"
fi

for s in scheduler dedupe fetcher writer pipeline; do
	f="infra/build/$s.zip"
	[[ $s == pipeline ]] && f=infra/build/pipeline.yaml
	if [[ ! -f "$f" ]]; then
		echo "infraplan: $f missing; building the zips with scripts/infraplan/pipeline.yaml" >&2
		scripts/lambda-zips.sh scripts/infraplan/pipeline.yaml infra/build >&2
		break
	fi
done

work="$(mktemp -d)"
sts_pid=
cleanup() {
	if [[ -n "$sts_pid" ]]; then kill "$sts_pid" 2>/dev/null || true; wait "$sts_pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/fakests" ./scripts/fakests
"$work/fakests" -url-file "$work/sts.url" >/dev/null 2>"$work/fakests.log" &
sts_pid=$!
for _ in $(seq 100); do
	[[ -s "$work/sts.url" ]] && break
	kill -0 "$sts_pid" 2>/dev/null || { cat "$work/fakests.log" >&2; exit 1; }
	sleep 0.1
done
sts_url="$(cat "$work/sts.url")"

cat >"$work/terraformrc" <<EOF
provider_installation {
  filesystem_mirror {
    path    = "$mirror"
    include = ["registry.terraform.io/hashicorp/aws"]
  }
  direct {
    exclude = ["registry.terraform.io/*/*"]
  }
}
EOF

mkdir -p "$work/infra/envs"
cp -R infra/modules "$work/infra/modules"
cp -R infra/envs/example "$work/infra/envs/example"
rm -rf "$work/infra/envs/example/.terraform" "$work/infra/envs/example/.terraform.lock.hcl" "$work/infra/envs/example/terraform.tfvars"
dir="$work/infra/envs/example"
# The environment each function is given, as Terraform evaluates it, for
# the plan checks: the provider plans a map holding any value known only
# after apply (a queue URL) as wholly unknown, so a planned function shows
# no variable names. Only in this copy.
cat >"$work/infra/modules/sluice/infraplan_outputs.tf" <<'EOF'
output "infraplan_function_environment" {
  description = "Generated by scripts/infraplan.sh: local.function_environment, for its plan checks."
  value       = local.function_environment
}
EOF
cat >"$dir/infraplan_outputs.tf" <<'EOF'
output "infraplan_function_environment" {
  description = "Generated by scripts/infraplan.sh, for its plan checks."
  value       = module.sluice.infraplan_function_environment
}
EOF
# Merged over the example's provider block (its region and default tags
# stay); only in this copy, never in infra/.
cat >"$dir/infraplan_provider_override.tf" <<EOF
provider "aws" {
  access_key                  = "sluice-plan-fake"
  secret_key                  = "sluice-plan-fake"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true

  endpoints {
    sts = "$sts_url"
  }
}
EOF

# No AWS setting of the caller's (profiles, endpoints of the local stack,
# real credentials) reaches the provider, and nothing leaves the machine.
while read -r v; do unset "$v"; done < <(compgen -e | grep '^AWS_' || true)
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
export TF_CLI_CONFIG_FILE="$work/terraformrc" TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1 TF_INPUT=0
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}"
unset TF_PLUGIN_CACHE_DIR TF_DATA_DIR TF_WORKSPACE

tf() { terraform -chdir="$dir" "$@"; }

# fail_on_diagnostics STEP LOG [ALLOWED]: a -json log with any warning or
# error fails, but for warnings whose summary is ALLOWED.
fail_on_diagnostics() {
	local diags
	diags="$(jq -r --arg allowed "${3:-}" 'select(.type == "diagnostic") | select(.diagnostic.severity == "error" or .diagnostic.summary != $allowed) | "\(.diagnostic.severity): \(.diagnostic.summary)\(if .diagnostic.detail then ": " + .diagnostic.detail else "" end)\(if .diagnostic.range then " (" + .diagnostic.range.filename + ":" + (.diagnostic.range.start.line | tostring) + ")" else "" end)"' "$2")"
	if [[ -n "$diags" ]]; then
		echo "infraplan: $1:" >&2
		echo "$diags" >&2
		return 1
	fi
}

t=$SECONDS
# The one warning allowed: a provider from a mirror has no registry
# checksums (zh:) to record in the lock file, only the local h1: hash.
# That is the point of the mirror, and the lock file is this copy's.
lock_warning="Incomplete lock file information for providers"
if ! tf init -backend=false -input=false -json >"$work/init.log" 2>"$work/init.err"; then
	fail_on_diagnostics "terraform init" "$work/init.log" || true
	cat "$work/init.err" >&2
	echo "infraplan: terraform init failed" >&2
	exit 1
fi
fail_on_diagnostics "terraform init warned" "$work/init.log" "$lock_warning"
echo "infraplan: terraform init: ok, hashicorp/aws $PROVIDER_VERSION from the mirror ($PROVIDER_MODULE@$PROVIDER_PSEUDO) ($((SECONDS - t))s)"

t=$SECONDS
tf validate -json -no-color >"$work/validate.json" || true
if ! jq -e '.valid and .error_count == 0 and .warning_count == 0' "$work/validate.json" >/dev/null; then
	jq -r '.diagnostics[] | "\(.severity): \(.summary): \(.detail // "") (\(.range.filename // "?"):\(.range.start.line // "?"))"' "$work/validate.json" >&2
	echo "infraplan: terraform validate failed or warned" >&2
	exit 1
fi
echo "infraplan: terraform validate: ok, no warnings ($((SECONDS - t))s)"

# Variants: name, tfvars (the example's own variables), module "sluice"
# arguments the example does not expose (an override of the module block).
kms="arn:aws:kms:us-east-1:123456789012:key"
variants=(defaults data-prefix cmk lambda-schedule tfvars-example)
variant_tfvars() {
	case "$1" in
	data-prefix) echo 'data_key_prefix = "raw/"' ;;
	lambda-schedule) echo 'schedule_target = "lambda"' ;;
	tfvars-example) cat infra/envs/example/terraform.tfvars.example ;;
	esac
}
variant_module() {
	case "$1" in
	cmk)
		cat <<EOF
  dynamodb_kms_key_arn       = "$kms/11111111-1111-1111-1111-111111111111"
  s3_kms_key_arn             = "$kms/22222222-2222-2222-2222-222222222222"
  logs_kms_key_arn           = "$kms/33333333-3333-3333-3333-333333333333"
  alarm_topic_kms_key_arn    = "$kms/44444444-4444-4444-4444-444444444444"
  source_secret_arns         = ["arn:aws:secretsmanager:us-east-1:123456789012:secret:sluice/orders-AbCdEf"]
  source_secret_kms_key_arns = ["$kms/55555555-5555-5555-5555-555555555555"]
EOF
		;;
	esac
}

out="$ROOT/.local/infraplan"
rm -rf "$out"
mkdir -p "$out"
for v in "${variants[@]}"; do
	t=$SECONDS
	variant_tfvars "$v" >"$work/$v.tfvars"
	rm -f "$dir/infraplan_variant_override.tf"
	module_args="$(variant_module "$v")"
	if [[ -n "$module_args" ]]; then
		printf 'module "sluice" {\n%s\n}\n' "$module_args" >"$dir/infraplan_variant_override.tf"
	fi
	# artifacts_dir: the zips in the repository, not in the copy.
	if ! tf plan -refresh=false -lock=false -input=false -json \
		-var-file="$work/$v.tfvars" -var="artifacts_dir=$ROOT/infra/build" \
		-out="$work/$v.tfplan" >"$work/$v.plan.log" 2>"$work/$v.plan.err"; then
		fail_on_diagnostics "terraform plan ($v)" "$work/$v.plan.log" || true
		cat "$work/$v.plan.err" >&2
		echo "infraplan: terraform plan ($v) failed" >&2
		exit 1
	fi
	fail_on_diagnostics "terraform plan ($v) warned" "$work/$v.plan.log"
	tf show -json "$work/$v.tfplan" >"$out/$v.json"
	summary="$(jq -r 'select(.type == "change_summary") | .["@message"]' "$work/$v.plan.log")"
	echo "infraplan: terraform plan ($v): ok, no warnings: $summary ($((SECONDS - t))s)"
done

# Settings the module must refuse at plan time, each with the message
# that says why (a precondition), not a deploy that alarms at once.
refusals=(
	'log_level = "warn"|freshness alarms read FreshnessLag'
	'sweep_schedule_expression = "rate(15 minutes)"|need a sweep at least every 5 minutes'
)
for r in "${refusals[@]}"; do
	t=$SECONDS
	arg="${r%%|*}" want="${r#*|}"
	printf 'module "sluice" {\n  %s\n}\n' "$arg" >"$dir/infraplan_variant_override.tf"
	: >"$work/refusal.tfvars"
	if tf plan -refresh=false -lock=false -input=false -var-file="$work/refusal.tfvars" \
		-var="artifacts_dir=$ROOT/infra/build" >"$work/refusal.log" 2>&1; then
		echo "infraplan: terraform plan with $arg succeeded; it must be refused" >&2
		exit 1
	fi
	if ! tr -s ' \n' ' ' <"$work/refusal.log" | grep -qF "$want"; then
		cat "$work/refusal.log" >&2
		echo "infraplan: terraform plan with $arg failed without saying \"$want\"" >&2
		exit 1
	fi
	echo "infraplan: terraform plan with $arg: refused, saying why ($((SECONDS - t))s)"
done
rm -f "$dir/infraplan_variant_override.tf"

calls="$(grep -c 'GetCallerIdentity' "$work/fakests.log" || true)"
if grep -v 'GetCallerIdentity' "$work/fakests.log" | grep -q .; then
	cat "$work/fakests.log" >&2
	echo "infraplan: the plans made AWS calls besides GetCallerIdentity" >&2
	exit 1
fi
echo "infraplan: fake STS answered $calls GetCallerIdentity calls and nothing else"

SLUICE_PLAN_DIR="$out" go test -count=1 -run '^TestPlan' ./scripts/infracheck/
echo "infraplan: done in $((SECONDS - start))s (plans in ${out#"$ROOT"/})"
