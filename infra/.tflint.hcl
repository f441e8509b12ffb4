# tflint configuration for every module under infra/ (scripts/infracheck.sh
# passes it with --config). Only the ruleset built into tflint is used: the
# AWS ruleset is a plugin downloaded from GitHub by `tflint --init`, which
# the offline CI machines cannot do.

config {
  # Lint the local module calls of envs/* through the module they call.
  call_module_type = "local"
}

plugin "terraform" {
  enabled = true
  preset  = "all"
}
