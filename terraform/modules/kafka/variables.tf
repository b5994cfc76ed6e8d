variable "name" {
  description = "Prefix for every resource name, e.g. \"chat-production\"; also the MSK cluster's name."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name))
    error_message = "name must be 3-32 characters of lower-case letters, digits and hyphens, starting with a letter."
  }
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

variable "vpc_id" {
  description = "VPC the brokers' network interfaces are placed in."
  type        = string
}

variable "subnet_ids" {
  description = "Three subnets in three availability zones (the network module's data_subnet_ids); brokers are spread evenly over them."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) == 3 && length(distinct(var.subnet_ids)) == 3
    error_message = "subnet_ids must be three distinct subnets, one per availability zone."
  }
}

variable "client_security_group_ids" {
  description = "Security groups allowed to reach the brokers on 9096 (SASL/SCRAM over TLS), e.g. the network module's service_security_group_id."
  type        = list(string)
}

variable "monitoring_security_group_ids" {
  description = "Security groups allowed to scrape the brokers' Prometheus exporters (JMX 11001, node 11002). Empty: no scraping from inside the VPC."
  type        = list(string)
  default     = []
}

variable "kafka_version" {
  description = "MSK Kafka version, e.g. \"3.8.x\" (MSK applies patch releases itself)."
  type        = string
  default     = "3.8.x"

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9x]+(\\.[a-z]+)?$", var.kafka_version))
    error_message = "kafka_version must look like \"3.8.x\", \"3.7.x.kraft\" or \"3.6.0\"."
  }
}

variable "broker_instance_type" {
  description = "Broker instance type."
  type        = string
  default     = "kafka.m7g.large"

  validation {
    condition     = startswith(var.broker_instance_type, "kafka.") && !startswith(var.broker_instance_type, "kafka.t3.")
    error_message = "broker_instance_type must be an MSK broker type; kafka.t3.* brokers are burstable and excluded from production-grade sizing."
  }
}

variable "brokers_per_az" {
  description = "Brokers in each of the three zones; the cluster has three times as many (a multiple of 3 keeps replicas of every partition in three zones)."
  type        = number
  default     = 1

  validation {
    condition     = var.brokers_per_az >= 1 && floor(var.brokers_per_az) == var.brokers_per_az && var.brokers_per_az <= 10
    error_message = "brokers_per_az must be a whole number from 1 to 10."
  }
}

variable "ebs_volume_gb" {
  description = "Initial EBS volume per broker, in GiB. Topics keep events forever (chatctl sets retention.ms=-1), so storage only grows: see ebs_max_volume_gb."
  type        = number
  default     = 1000

  validation {
    condition     = var.ebs_volume_gb >= 1 && var.ebs_volume_gb <= 16384
    error_message = "ebs_volume_gb must be between 1 and 16384."
  }
}

variable "ebs_max_volume_gb" {
  description = "Ceiling for broker storage auto-scaling (target 60% used; MSK can only grow volumes). Set it equal to ebs_volume_gb to turn auto-scaling off."
  type        = number
  default     = 4000

  validation {
    condition     = var.ebs_max_volume_gb >= 1 && var.ebs_max_volume_gb <= 16384
    error_message = "ebs_max_volume_gb must be between 1 and 16384."
  }
}

variable "log_retention_days" {
  description = "How long broker logs are kept in CloudWatch Logs."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)."
  }
}

variable "scram_username" {
  description = "User name in the SCRAM secret the services authenticate with."
  type        = string
  default     = "chat"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,31}$", var.scram_username))
    error_message = "scram_username must be 1-32 lower-case letters, digits or underscores, starting with a letter."
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
