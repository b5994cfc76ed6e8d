variable "name" {
  description = "Prefix for every resource name, e.g. \"chat-production\"."
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

variable "alarm_email" {
  description = "An address subscribed to the alarm topic (it must confirm the subscription), or null for none."
  type        = string
  default     = null

  validation {
    condition     = var.alarm_email == null || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.alarm_email))
    error_message = "alarm_email must be an e-mail address (or null)."
  }
}

# --- What to watch (outputs of the services, schema_registry, kafka and redis modules) ---

variable "metrics_namespace" {
  description = "Namespace of the scraped gateway_* and projector_* metrics (services module output metrics_namespace)."
  type        = string
}

variable "ecs_cluster_name" {
  description = "ECS cluster name (services module output ecs_cluster_name)."
  type        = string
}

variable "gateway_service_name" {
  description = "The gateway's ECS service (services module output gateway_service_name)."
  type        = string
}

variable "projector_service_names" {
  description = "Each projector role's ECS service, by role (services module output projector_service_names)."
  type        = map(string)
}

variable "other_ecs_service_names" {
  description = "More ECS services of the cluster watched for running fewer tasks than desired (e.g. the schema registry)."
  type        = list(string)
  default     = []
}

variable "load_balancer_arn_suffix" {
  description = "ARN suffix of the NLB (services module output load_balancer_arn_suffix)."
  type        = string
}

variable "target_group_arn_suffix" {
  description = "ARN suffix of the gateways' target group (services module output target_group_arn_suffix)."
  type        = string
}

variable "kafka_cluster_arn" {
  description = "ARN of the MSK cluster (kafka module output cluster_arn); its name is the \"Cluster Name\" dimension."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kafka:[^:]+:[0-9]+:cluster/[^/]+/", var.kafka_cluster_arn))
    error_message = "kafka_cluster_arn must be an MSK cluster ARN (arn:...:kafka:<region>:<account>:cluster/<name>/<uuid>)."
  }
}

variable "kafka_broker_count" {
  description = "Number of MSK brokers (broker ids 1..n)."
  type        = number

  validation {
    condition     = var.kafka_broker_count >= 1
    error_message = "kafka_broker_count must be at least 1."
  }
}

variable "redis_cache_cluster_ids" {
  description = "Cache cluster (node) ids of the ElastiCache replication group, e.g. [\"<group>-001\", \"<group>-002\", \"<group>-003\"]."
  type        = list(string)
}

# --- Thresholds ----------------------------------------------------------------------------

variable "projector_lag_threshold" {
  description = "Alarm when a role's worst partition is more than this many records behind..."
  type        = number
  default     = 10000
}

variable "projector_lag_minutes" {
  description = "... for this many consecutive minutes."
  type        = number
  default     = 10
}

variable "gateway_5xx_threshold" {
  description = "Alarm when the gateways answer more than this many unavailable/internal errors (their 503/500) in 5 minutes."
  type        = number
  default     = 50
}

variable "nlb_reset_threshold" {
  description = "Alarm when the NLB itself resets more than this many TCP connections in 5 minutes (TCP_ELB_Reset_Count: a surge means it dropped sockets, e.g. idle timeouts or no healthy target)."
  type        = number
  default     = 1000
}

variable "kafka_disk_used_percent" {
  description = "Alarm when a broker's data volume is fuller than this (KafkaDataLogsDiskUsed)."
  type        = number
  default     = 80
}

variable "redis_cpu_percent" {
  description = "Alarm when a cache node's engine thread is busier than this (EngineCPUUtilization)."
  type        = number
  default     = 80
}

variable "redis_memory_percent" {
  description = "Alarm when a cache node uses more than this share of its memory for data (DatabaseMemoryUsagePercentage)."
  type        = number
  default     = 80
}
