// Package infracheck holds the offline checks of the Terraform under
// infra/: its tests parse every .tf file with HCL (no provider, no
// network) and fail on non-canonical formatting, on references to
// undeclared names, on broken policy rules (DLQs, event source mappings,
// visibility timeouts, IAM, the bucket), and on drift between infra/, the
// local stack (shared/devstack) and the settings the services read.
//
// It has no code of its own beyond these tests; `make test` runs them with
// every other package, and scripts/test.sh runs tflint, tfsec and
// `terraform fmt` beside them.
package infracheck
