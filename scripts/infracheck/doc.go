// Package infracheck holds the offline checks of the Terraform under
// infra/: its tests parse every .tf file with HCL (no provider, no
// network) and fail on non-canonical formatting, on references to
// undeclared names, on broken policy rules (DLQs, event source mappings,
// visibility timeouts, IAM, the bucket), and on drift between infra/, the
// local stack (shared/devstack) and the settings the services read.
//
// TestPlan checks the same deploy rules on `terraform show -json` of plans
// made with the real AWS provider: scripts/infraplan.sh (make infra-plan)
// writes them and sets SLUICE_PLAN_DIR; without it the test is skipped.
// TestPlanRules runs those checks on a hand-made plan and its breakages.
// TestGlueTables checks each source's Glue table from the HCL evaluated
// for a pipeline file, and TestPlanGlueTables the same on the plans.
//
// It has no code of its own beyond these tests; `make test` runs them with
// every other package, and scripts/test.sh runs tflint, tfsec,
// `terraform fmt` and, when the provider is built, the plans beside them.
package infracheck
