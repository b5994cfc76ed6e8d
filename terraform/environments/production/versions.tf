terraform {
  required_version = ">= 1.8.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100, < 7.0"
    }
  }

  # Partial configuration: the bucket, key and region come from a file kept out of the
  # repository, `tofu init -backend-config=backend.hcl` (see backend.hcl.example). The
  # state holds generated secrets (the JWT key), so the bucket must be encrypted and
  # private.
  backend "s3" {}
}
