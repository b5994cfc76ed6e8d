variable "name" {
  description = "Prefix for every resource name, e.g. \"chat-production\"; also the replication group id."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name)) && !strcontains(var.name, "--")
    error_message = "name must be 3-32 characters of lower-case letters, digits and single hyphens, starting with a letter."
  }
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

variable "vpc_id" {
  description = "VPC the nodes are placed in."
  type        = string
}

variable "subnet_ids" {
  description = "Subnets for the nodes, one per availability zone (the network module's data_subnet_ids)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2 && length(distinct(var.subnet_ids)) == length(var.subnet_ids)
    error_message = "subnet_ids must be at least two distinct subnets in different zones (three for the default layout)."
  }
}

variable "availability_zones" {
  description = "Zones to place the nodes in, in order (the first gets the primary); [] lets ElastiCache choose among the subnets' zones. Pass the network module's availability_zones to pin one node per zone."
  type        = list(string)
  default     = []
}

variable "client_security_group_ids" {
  description = "Security groups allowed to reach Redis on 6379 (TLS), e.g. the network module's service_security_group_id."
  type        = list(string)
}

variable "engine" {
  description = "\"valkey\" (default: cheaper, same protocol) or \"redis\"."
  type        = string
  default     = "valkey"

  validation {
    condition     = contains(["valkey", "redis"], var.engine)
    error_message = "engine must be \"valkey\" or \"redis\"."
  }
}

variable "engine_version" {
  description = "Engine version (major.minor); null picks 8.0 for valkey and 7.1 for redis."
  type        = string
  default     = null

  validation {
    condition     = var.engine_version == null || can(regex("^[0-9]+\\.[0-9]+$", var.engine_version))
    error_message = "engine_version must be major.minor, e.g. \"8.0\"."
  }
}

variable "node_type" {
  description = "Node type of the primary and every replica."
  type        = string
  default     = "cache.r7g.large"

  validation {
    condition     = startswith(var.node_type, "cache.") && !startswith(var.node_type, "cache.t1.") && !startswith(var.node_type, "cache.t2.")
    error_message = "node_type must be an ElastiCache node type that supports Multi-AZ with automatic failover (not t1/t2)."
  }
}

variable "replicas" {
  description = "Read replicas besides the primary; 2 gives three nodes, one per zone. At least 1 (automatic failover needs a replica)."
  type        = number
  default     = 2

  validation {
    condition     = var.replicas >= 1 && var.replicas <= 5 && floor(var.replicas) == var.replicas
    error_message = "replicas must be a whole number from 1 to 5."
  }
}

variable "snapshot_retention_days" {
  description = "Days of daily snapshots to keep (0 turns them off)."
  type        = number
  default     = 7

  validation {
    condition     = var.snapshot_retention_days >= 0 && var.snapshot_retention_days <= 35
    error_message = "snapshot_retention_days must be from 0 to 35."
  }
}

variable "snapshot_window" {
  description = "Daily UTC window for snapshots (hh24:mi-hh24:mi), apart from the maintenance window."
  type        = string
  default     = "03:00-04:00"
}

variable "maintenance_window" {
  description = "Weekly UTC maintenance window (ddd:hh24:mi-ddd:hh24:mi)."
  type        = string
  default     = "sun:04:30-sun:05:30"
}

variable "log_retention_days" {
  description = "How long slow-log and engine-log entries are kept in CloudWatch Logs."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)."
  }
}

variable "secret_recovery_window_days" {
  description = "Days a deleted secret can still be restored (0 deletes at once, which lets a torn-down staging environment be recreated under the same names)."
  type        = number
  default     = 7

  validation {
    condition     = var.secret_recovery_window_days == 0 || (var.secret_recovery_window_days >= 7 && var.secret_recovery_window_days <= 30)
    error_message = "secret_recovery_window_days must be 0 or from 7 to 30."
  }
}
