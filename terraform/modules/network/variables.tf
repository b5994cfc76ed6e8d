variable "name" {
  description = "Prefix for every resource name, e.g. \"chat-production\"."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name))
    error_message = "name must be 3-32 characters of lower-case letters, digits and hyphens, starting with a letter."
  }
}

variable "tags" {
  description = "Tags for every resource (the environments also set them as provider default_tags)."
  type        = map(string)
  default     = {}
}

variable "cidr_block" {
  description = "The VPC's IPv4 range. Must be a /16: the subnet layout (README) carves fixed blocks out of it."
  type        = string
  default     = "10.40.0.0/16"

  validation {
    condition     = can(cidrhost(var.cidr_block, 0)) && try(split("/", var.cidr_block)[1] == "16", false)
    error_message = "cidr_block must be an IPv4 /16, e.g. 10.40.0.0/16."
  }
}

variable "availability_zones" {
  description = "Exactly three availability zone names to use, or [] for the region's first three (sorted). Pin them when an instance type (e.g. i4i for ScyllaDB) is not offered in every zone."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.availability_zones) == 0 || (length(var.availability_zones) == 3 && length(distinct(var.availability_zones)) == 3)
    error_message = "availability_zones must be empty or three distinct zone names."
  }
}

variable "nat_gateway_per_az" {
  description = "One NAT gateway per availability zone (true: an AZ outage cannot cut the other zones' egress; production) or a single shared one (false: cheaper; staging)."
  type        = bool
  default     = true
}

variable "interface_endpoints" {
  description = "AWS services reached through interface VPC endpoints (short names after com.amazonaws.<region>.). ssm, ssmmessages and ec2messages let Session Manager reach the ScyllaDB nodes, whose subnets have no route out."
  type        = list(string)
  default     = ["ecr.api", "ecr.dkr", "logs", "secretsmanager", "kms", "sts", "monitoring", "ssm", "ssmmessages", "ec2messages"]

  validation {
    condition     = alltrue([for s in var.interface_endpoints : can(regex("^[a-z0-9][a-z0-9.-]*$", s))]) && length(distinct(var.interface_endpoints)) == length(var.interface_endpoints)
    error_message = "interface_endpoints must be distinct service short names such as \"ecr.api\" or \"secretsmanager\"."
  }
}

variable "flow_logs_retention_days" {
  description = "How long VPC flow logs are kept in CloudWatch Logs."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.flow_logs_retention_days)
    error_message = "flow_logs_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)."
  }
}
