terraform {
  required_version = ">= 1.6.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.8"
    }
  }

  # Keep state remote and locked for anything shared. Create the state bucket
  # once, outside this stack, then uncomment and run `terraform init -migrate-state`.
  #
  # backend "s3" {
  #   bucket       = "my-org-terraform-state"
  #   key          = "sluice/example/terraform.tfstate"
  #   region       = "us-east-1"
  #   encrypt      = true
  #   use_lockfile = true # S3-native locking (Terraform >= 1.10, OpenTofu >= 1.10)
  # }
}
