terraform {
  required_version = ">= 1.8"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 6.10 added aws_instance.primary_network_interface (the nodes' fixed-address interfaces).
      version = ">= 6.10, < 7.0"
    }
  }
}
