variable "name" {
  description = "Prefix for every resource name, e.g. \"chat-production\"; also the private DNS namespace \"<name>.internal\"."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,18}[a-z0-9]$", var.name))
    error_message = "name must be 2 to 20 characters of lower-case letters, digits and dashes, starting with a letter."
  }
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

variable "ecs_cluster_arn" {
  description = "ECS cluster to run in (services module output ecs_cluster_arn)."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the registry and of its private DNS namespace."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets for the registry tasks (the network module's service subnets)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "Give at least two subnets, so the two tasks can be in different AZs."
  }
}

variable "service_security_group_id" {
  description = "The security group of every ECS task: the registry tasks carry it (Kafka admits it) and accept port 8080 from it."
  type        = string
}

variable "kafka_bootstrap_brokers" {
  description = "Comma-separated host:9096 SASL/SCRAM bootstrap brokers (kafka module output bootstrap_brokers_sasl_scram)."
  type        = string
}

variable "kafka_scram_secret_arn" {
  description = "Secret with JSON {\"username\",\"password\"} of the SCRAM user (kafka module output scram_secret_arn)."
  type        = string
}

variable "kafka_sasl_mechanism" {
  description = "SASL mechanism of the SCRAM user (MSK: SCRAM-SHA-512)."
  type        = string
  default     = "SCRAM-SHA-512"

  validation {
    condition     = contains(["SCRAM-SHA-512", "SCRAM-SHA-256"], var.kafka_sasl_mechanism)
    error_message = "kafka_sasl_mechanism must be SCRAM-SHA-512 or SCRAM-SHA-256."
  }
}

variable "secrets_kms_key_arns" {
  description = "KMS keys that encrypt the SCRAM secret (kafka module output kms_key_arn). Empty: kms:Decrypt is allowed on any key, but only through Secrets Manager and only for that secret."
  type        = list(string)
  default     = []
}

variable "image" {
  description = "Apicurio Registry 2.6 image with Kafka (kafkasql) storage. Consider an ECR pull-through cache of it: pulls from Docker Hub go through the NAT and are rate-limited."
  type        = string
  default     = "apicurio/apicurio-registry-kafkasql:2.6.13.Final"
}

variable "journal_topic" {
  description = "Kafka topic where the registry keeps its journal (created by the registry through the admin API at first start)."
  type        = string
  default     = "kafkasql-journal"
}

variable "desired_count" {
  description = "Registry tasks. Each replays the whole journal and serves reads from memory; two survive one task or AZ."
  type        = number
  default     = 2

  validation {
    condition     = var.desired_count >= 1
    error_message = "desired_count must be at least 1."
  }
}

variable "cpu" {
  description = "Fargate cpu units per task."
  type        = number
  default     = 1024
}

variable "memory" {
  description = "Memory per task (MiB)."
  type        = number
  default     = 2048
}

variable "cpu_architecture" {
  description = "CPU architecture of the tasks. X86_64 by default: check that the image tag is published for ARM64 before switching."
  type        = string
  default     = "X86_64"

  validation {
    condition     = contains(["ARM64", "X86_64"], var.cpu_architecture)
    error_message = "cpu_architecture must be ARM64 or X86_64."
  }
}

variable "container_user" {
  description = "User the registry runs as (the image's own non-root user is 185)."
  type        = string
  default     = "185"
}

variable "read_only_root_filesystem" {
  description = "Run with a read-only root filesystem (a task-local /tmp stays writable)."
  type        = bool
  default     = true
}

variable "health_check_command" {
  description = "Container health check, as an ECS CMD-SHELL command: /health/ready of Quarkus. curl is in the image's base (UBI)."
  type        = string
  default     = "curl -fsS -o /dev/null http://localhost:8080/health/ready || exit 1"
}

variable "log_retention_days" {
  description = "Retention of the registry's log group."
  type        = number
  default     = 365
}
