variable "name" {
  description = "Prefix for every resource name, e.g. \"chat-production\". At most 20 characters so load balancer and target group names (32 at most) fit."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,18}[a-z0-9]$", var.name))
    error_message = "name must be 2 to 20 characters of lower-case letters, digits and dashes, starting with a letter."
  }
}

variable "tags" {
  description = "Tags for every resource (the environments also set default_tags on the provider)."
  type        = map(string)
  default     = {}
}

# --- Network -----------------------------------------------------------------------------

variable "vpc_id" {
  description = "VPC of the services (network module output vpc_id)."
  type        = string
}

variable "public_subnet_ids" {
  description = "Public subnets, one per AZ, for the Network Load Balancer only."
  type        = list(string)

  validation {
    condition     = length(var.public_subnet_ids) >= 2
    error_message = "Give at least two public subnets (one per AZ)."
  }
}

variable "service_subnet_ids" {
  description = "Private subnets for the ECS tasks."
  type        = list(string)

  validation {
    condition     = length(var.service_subnet_ids) >= 2
    error_message = "Give at least two service subnets (one per AZ)."
  }
}

variable "service_security_group_id" {
  description = "The security group every ECS task is attached to (network module output). The data stores allow ingress from it."
  type        = string
}

variable "allowed_ingress_cidrs" {
  description = "IPv4 CIDRs allowed to reach the load balancer on 443."
  type        = list(string)
  default     = ["0.0.0.0/0"]

  validation {
    condition     = length(var.allowed_ingress_cidrs) > 0 && alltrue([for c in var.allowed_ingress_cidrs : can(cidrhost(c, 0))])
    error_message = "allowed_ingress_cidrs must be a non-empty list of IPv4 CIDRs."
  }
}

# --- Load balancer -------------------------------------------------------------------------

variable "certificate_arn" {
  description = "ACM certificate for the load balancer's TLS listener on 443."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:acm:", var.certificate_arn))
    error_message = "certificate_arn must be an ACM certificate ARN."
  }
}

variable "load_balancer_deletion_protection" {
  description = "Refuse to delete the load balancer (its DNS name is what clients use)."
  type        = bool
  default     = true
}

variable "access_logs_bucket" {
  description = "S3 bucket for the load balancer's TLS access logs, or null for none. The bucket (and its policy allowing log delivery) is account infrastructure managed elsewhere."
  type        = string
  default     = null
}

# --- Images and compute --------------------------------------------------------------------

variable "image_tag" {
  description = "Tag of the chat-gateway, chat-projector and chatctl images in this module's ECR repositories (immutable tags: one per build, e.g. the git commit)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.image_tag)) && var.image_tag != "latest"
    error_message = "image_tag must be a valid, immutable image tag (not \"latest\")."
  }
}

variable "image_uris" {
  description = "Full image URIs that override the ECR repository and image_tag, per image (gateway, projector, chatctl); null keeps the default."
  type = object({
    gateway   = optional(string)
    projector = optional(string)
    chatctl   = optional(string)
  })
  default = {}
}

variable "cpu_architecture" {
  description = "CPU architecture of every task: ARM64 (Graviton, cheaper per vCPU) or X86_64. The images must be built for it."
  type        = string
  default     = "ARM64"

  validation {
    condition     = contains(["ARM64", "X86_64"], var.cpu_architecture)
    error_message = "cpu_architecture must be ARM64 or X86_64."
  }
}

variable "container_user" {
  description = "Numeric user (and group) the chat containers run as: never root."
  type        = string
  default     = "10001:10001"

  validation {
    condition     = can(regex("^[1-9][0-9]*(:[1-9][0-9]*)?$", var.container_user))
    error_message = "container_user must be a non-zero numeric uid, optionally with a non-zero gid (uid:gid)."
  }
}

variable "gateway" {
  description = "Gateway tasks: Fargate cpu units and memory (MiB) per task, the autoscaling range, and the two scaling targets (average CPU percent, and WebSocket connections per task from the gateway_connections metric)."
  type = object({
    cpu                         = number
    memory                      = number
    min                         = number
    max                         = number
    target_cpu_percent          = optional(number, 60)
    target_connections_per_task = optional(number, 20000)
  })
  default = {
    cpu    = 1024
    memory = 2048
    min    = 2
    max    = 4
  }

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096, 8192, 16384], var.gateway.cpu)
    error_message = "gateway.cpu must be a Fargate cpu size (256, 512, 1024, 2048, 4096, 8192 or 16384)."
  }

  validation {
    condition     = var.gateway.min >= 1 && var.gateway.max >= var.gateway.min
    error_message = "gateway.min must be at least 1 and gateway.max at least gateway.min."
  }

  validation {
    condition     = var.gateway.target_cpu_percent > 0 && var.gateway.target_cpu_percent <= 90
    error_message = "gateway.target_cpu_percent must be in (0, 90]."
  }

  validation {
    condition     = var.gateway.target_connections_per_task >= 100
    error_message = "gateway.target_connections_per_task must be at least 100."
  }
}

variable "projectors" {
  description = "Projector roles to run, each its own ECS service: Fargate cpu units, memory (MiB) and task count. A role's tasks share its consumer group, so more tasks than kafka_partitions sit idle (checked). The webhook role runs only when webhook_url is set. The search role holds its index on its task's disk, so it runs 0 or 1 task (checked); its disk is search_ephemeral_storage_gib."
  type = map(object({
    cpu     = number
    memory  = number
    desired = number
  }))
  default = {
    history       = { cpu = 512, memory = 1024, desired = 2 }
    fanout        = { cpu = 512, memory = 1024, desired = 2 }
    presence      = { cpu = 256, memory = 512, desired = 1 }
    notifications = { cpu = 256, memory = 512, desired = 1 }
    webhook       = { cpu = 256, memory = 512, desired = 1 }
    search        = { cpu = 1024, memory = 2048, desired = 1 }
  }

  validation {
    condition     = alltrue([for role in keys(var.projectors) : contains(["history", "fanout", "presence", "notifications", "webhook", "search"], role)])
    error_message = "projectors keys must be among history, fanout, presence, notifications, webhook, search."
  }

  # One search task holds every partition's index on its own disk and resumes from the
  # offsets recorded in it, not from a consumer group: a second task of the service would
  # be a second full copy, rebuilt from the log, answering incompletely while it catches up
  # and mixing its offsets into the role's lag. Shard with several services instead
  # (README, "Search").
  validation {
    condition     = try(var.projectors["search"].desired, 0) <= 1
    error_message = "projectors.search.desired must be 0 or 1: one task holds the whole index on its own disk."
  }

  validation {
    condition     = alltrue([for p in values(var.projectors) : contains([256, 512, 1024, 2048, 4096, 8192, 16384], p.cpu) && p.desired >= 0])
    error_message = "Each projector needs a Fargate cpu size and a desired count of at least 0."
  }
}

variable "search_ephemeral_storage_gib" {
  description = "Fargate ephemeral storage (GiB, 21 to 200) of each search task; the index lives there (CHAT__SEARCH__DIR) and is rebuilt from the log when a task is replaced. The image and the other containers use a little of it too."
  type        = number
  default     = 50

  validation {
    condition     = var.search_ephemeral_storage_gib >= 21 && var.search_ephemeral_storage_gib <= 200 && floor(var.search_ephemeral_storage_gib) == var.search_ephemeral_storage_gib
    error_message = "search_ephemeral_storage_gib must be a whole number from 21 to 200 (Fargate's range)."
  }
}

variable "service_discovery_namespace" {
  description = "Cloud Map private DNS namespace the search service registers in (schema_registry module outputs dns_namespace_id and dns_namespace_name); the gateways reach it as search.<name>. Needed when the search role runs."
  type = object({
    id   = string
    name = string
  })
  default = null
}

variable "webhook_url" {
  description = "Where the webhook role POSTs notifications (CHAT__WEBHOOK__URL); null leaves the webhook role out. Its HMAC key is generated into Secrets Manager (output webhook_secret_arn) for the receiver."
  type        = string
  default     = null

  validation {
    condition     = var.webhook_url == null || can(regex("^https://", var.webhook_url))
    error_message = "webhook_url must be an https:// URL (or null)."
  }
}

variable "extra_environment" {
  description = "More non-secret CHAT__* variables for every chat container (e.g. CHAT__GROUPS__WHO_MAY_ADD). They win over this module's own."
  type        = map(string)
  default     = {}
}

variable "gateway_environment" {
  description = "More non-secret CHAT__GATEWAY__* variables for the gateway only (e.g. CHAT__GATEWAY__WEB_DIR, CHAT__GATEWAY__OIDC__ISSUER)."
  type        = map(string)
  default     = {}
}

variable "attachments" {
  description = "The attachments bucket (attachments module outputs bucket_name and region), given to the gateway as CHAT__GATEWAY__ATTACHMENTS__BUCKET and CHAT__GATEWAY__ATTACHMENTS__REGION; null for none. No access keys: the gateway signs with its task role, which the attachments module grants the bucket."
  type = object({
    bucket = string
    region = string
  })
  default = null
}

# --- Compliance: the key-encryption key of crypto-shredding, retention -------------------

variable "compliance" {
  description = <<-EOT
    Crypto-shredding (services/README.md, "Compliance"), as CHAT__COMPLIANCE__* of the gateway, every projector role and the chatctl task:
    key_period_days: days one per-user data key seals (1 to 366). Retention destroys whole periods. Choose it once: the services number the periods by it, so changing it after content exists misplaces keys.
    retention_days: content older than this becomes unreadable (0: kept forever). 0, or at least key_period_days. Above 0 (or with conversation_retention_enabled), a daily scheduled task runs `chatctl retention apply`.
    retention_schedule: when that task runs (an EventBridge schedule expression, UTC).
    key_cache_secs: how long a process keeps an unwrapped data key; an erasure reaches a process within this.
    kek_deletion_window_days: waiting period (7 to 30) of the data-key KMS key's deletion. Deleting that key makes every message unreadable for good.
    conversation_retention_enabled: whether group admins' own retention (v1.3, PUT /api/v1/conversations/{id}/retention) is applied. True: the daily task runs even when retention_days is 0. False: with retention_days 0 there is no daily task, and a conversation's retention is applied only when an operator runs `chatctl retention apply`.
    conversation_retention_min_days, conversation_retention_max_days: the range of days a group admin may choose (CHAT__COMPLIANCE__CONVERSATION_RETENTION_MIN_DAYS and _MAX_DAYS). Min at least 1; max 0 (no upper limit) or at least min.
  EOT
  type = object({
    key_period_days                 = optional(number, 30)
    retention_days                  = optional(number, 0)
    retention_schedule              = optional(string, "cron(15 3 * * ? *)")
    key_cache_secs                  = optional(number, 60)
    kek_deletion_window_days        = optional(number, 30)
    conversation_retention_enabled  = optional(bool, true)
    conversation_retention_min_days = optional(number, 1)
    conversation_retention_max_days = optional(number, 0)
  })
  default = {}

  validation {
    condition     = var.compliance.key_period_days >= 1 && var.compliance.key_period_days <= 366 && floor(var.compliance.key_period_days) == var.compliance.key_period_days
    error_message = "compliance.key_period_days must be a whole number of days from 1 to 366."
  }

  validation {
    condition = floor(var.compliance.retention_days) == var.compliance.retention_days && (
      var.compliance.retention_days == 0 || var.compliance.retention_days >= var.compliance.key_period_days
    )
    error_message = "compliance.retention_days must be 0 (keep forever) or a whole number of days of at least compliance.key_period_days (retention destroys whole key periods)."
  }

  validation {
    condition     = can(regex("^(cron|rate)\\(.+\\)$", var.compliance.retention_schedule))
    error_message = "compliance.retention_schedule must be an EventBridge schedule expression, cron(...) or rate(...)."
  }

  validation {
    condition     = var.compliance.key_cache_secs >= 1 && floor(var.compliance.key_cache_secs) == var.compliance.key_cache_secs
    error_message = "compliance.key_cache_secs must be a whole number of seconds, at least 1."
  }

  validation {
    condition     = var.compliance.kek_deletion_window_days >= 7 && var.compliance.kek_deletion_window_days <= 30 && floor(var.compliance.kek_deletion_window_days) == var.compliance.kek_deletion_window_days
    error_message = "compliance.kek_deletion_window_days must be a whole number from 7 to 30 (KMS's range)."
  }

  validation {
    condition     = var.compliance.conversation_retention_min_days >= 1 && floor(var.compliance.conversation_retention_min_days) == var.compliance.conversation_retention_min_days
    error_message = "compliance.conversation_retention_min_days must be a whole number of days, at least 1."
  }

  validation {
    condition = floor(var.compliance.conversation_retention_max_days) == var.compliance.conversation_retention_max_days && (
      var.compliance.conversation_retention_max_days == 0 || var.compliance.conversation_retention_max_days >= var.compliance.conversation_retention_min_days
    )
    error_message = "compliance.conversation_retention_max_days must be 0 (no upper limit) or a whole number of days of at least compliance.conversation_retention_min_days."
  }
}

variable "admin_api_enabled" {
  description = "Turn on the gateways' admin API (POST /admin/v1/users/{id}/erase on the ops port 9180, which no load balancer listener forwards to): a generated bearer token in Secrets Manager (output gateway_admin_token_secret_arn), given to the gateways as CHAT__GATEWAY__ADMIN_TOKEN. false: no token is made, and the gateways answer 404 there."
  type        = bool
  default     = true
}

# --- Data stores (outputs of the kafka, cql, redis and schema_registry modules) --------

variable "kafka_bootstrap_brokers" {
  description = "Comma-separated host:9096 SASL/SCRAM bootstrap brokers (kafka module output bootstrap_brokers_sasl_scram)."
  type        = string
}

variable "kafka_scram_secret_arn" {
  description = "Secrets Manager secret with JSON {\"username\",\"password\"} of the SCRAM user (kafka module output scram_secret_arn)."
  type        = string
}

variable "kafka_partitions" {
  description = "Partitions of every platform topic (CHAT__KAFKA__PARTITIONS). Fixed for a topic's life; also the most tasks a projector role can use."
  type        = number
  default     = 12

  validation {
    condition     = var.kafka_partitions >= 1 && floor(var.kafka_partitions) == var.kafka_partitions
    error_message = "kafka_partitions must be a positive whole number."
  }
}

variable "kafka_replication_factor" {
  description = "Replication factor chatctl init gives the topics (CHAT__KAFKA__REPLICATION_FACTOR)."
  type        = number
  default     = 3
}

variable "kafka_min_insync_replicas" {
  description = "min.insync.replicas chatctl init gives the topics (CHAT__KAFKA__MIN_INSYNC_REPLICAS)."
  type        = number
  default     = 2
}

variable "cql_contact_points" {
  description = "CQL contact points as host:9042 (cql module output contact_points)."
  type        = list(string)

  validation {
    condition     = length(var.cql_contact_points) > 0
    error_message = "cql_contact_points must not be empty."
  }
}

variable "cql_local_datacenter" {
  description = "Local datacenter for the token-aware policy (cql module output local_datacenter)."
  type        = string
}

variable "cql_credentials_secret_arn" {
  description = "Secret with JSON {\"username\",\"password\"} of the application's CQL role (cql module output credentials_secret_arn)."
  type        = string
}

variable "cql_ca_certificate_secret_arn" {
  description = "Secret whose string is the PEM CA the CQL nodes' certificates chain to (cql module output ca_certificate_secret_arn); injected as CHAT__CQL__TLS__CA_PEM. Null when the store's certificates chain to public roots or TLS is off."
  type        = string
  default     = null
}

variable "cql_tls_enabled" {
  description = "Speak TLS to the CQL store (CHAT__CQL__TLS__ENABLED)."
  type        = bool
  default     = true
}

variable "cql_replication_factor" {
  description = "Replication factor chatctl init gives a new keyspace (CHAT__CQL__REPLICATION_FACTOR)."
  type        = number
  default     = 3
}

variable "redis_url" {
  description = "rediss://host:6379 of the primary (redis module output url)."
  type        = string

  validation {
    condition     = can(regex("^rediss://", var.redis_url))
    error_message = "redis_url must use TLS (rediss://)."
  }
}

variable "redis_auth_token_secret_arn" {
  description = "Secret whose string is the Redis AUTH token (redis module output auth_token_secret_arn)."
  type        = string
}

variable "registry_url" {
  description = "Confluent-compatible schema registry API base (schema_registry module output url)."
  type        = string
}

variable "secrets_kms_key_arns" {
  description = "Customer-managed KMS keys that encrypt the injected secrets of other modules (e.g. the kafka module's kms_key_arn). Empty: kms:Decrypt is allowed on any key, but only through Secrets Manager and only for the injected secrets (encryption-context condition), which also covers keys owned by modules that do not export theirs."
  type        = list(string)
  default     = []
}

# --- Operations ----------------------------------------------------------------------------

variable "log_retention_days" {
  description = "Retention of the task log groups."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (e.g. 30, 90, 365)."
  }
}

variable "container_insights" {
  description = "ECS Container Insights level: enabled, or enhanced (task- and container-level metrics, at a higher cost)."
  type        = string
  default     = "enabled"

  validation {
    condition     = contains(["enabled", "enhanced"], var.container_insights)
    error_message = "container_insights must be enabled or enhanced."
  }
}

variable "cloudwatch_agent_version" {
  description = "Tag of public.ecr.aws/cloudwatch-agent/cloudwatch-agent for the metrics sidecars. Pinned: a moving tag would change what runs without a plan."
  type        = string
  default     = "1.300062.0b1304"

  validation {
    condition     = var.cloudwatch_agent_version != "latest"
    error_message = "Pin cloudwatch_agent_version to a release, not latest."
  }
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the scraped Prometheus metrics; null means \"Chat/<name>\"."
  type        = string
  default     = null
}

variable "metrics_scrape_interval_seconds" {
  description = "How often the sidecars scrape /metrics."
  type        = number
  default     = 30

  validation {
    condition     = var.metrics_scrape_interval_seconds >= 10 && var.metrics_scrape_interval_seconds <= 60
    error_message = "metrics_scrape_interval_seconds must be between 10 and 60."
  }
}

variable "ecr_keep_images" {
  description = "Images each ECR repository keeps (older ones expire); rollbacks need the previous few."
  type        = number
  default     = 200
}

variable "secret_recovery_window_days" {
  description = "Recovery window of the secrets this module creates when they are deleted."
  type        = number
  default     = 7
}
