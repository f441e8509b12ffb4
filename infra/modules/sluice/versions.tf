terraform {
  required_version = ">= 1.6.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 6.8.0 is the first release that accepts max_message_size up to 1 MiB.
      version = ">= 6.8.0, < 7.0.0"
    }
  }
}
